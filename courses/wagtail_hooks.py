"""Programmes in the Wagtail admin: programmes and their modules are data that admins change without a deploy."""

from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.viewsets.model import ModelViewSet, ModelViewSetGroup

from .models import Programme, ProgrammeModule


class ProgrammeViewSet(ModelViewSet):
    model = Programme
    url_prefix = "programmes"
    icon = "list-ul"
    menu_label = _("Programmes")
    form_fields = ["name", "code", "kind", "mode", "description", "course_page", "required_credits",
                   "required_class_hours", "theory_exam_required", "is_active"]
    list_display = ["name", "kind", "mode", "required_credits", "required_class_hours", "is_active"]
    list_filter = ["kind", "mode", "is_active"]
    search_fields = ["name", "code"]


class ProgrammeModuleViewSet(ModelViewSet):
    model = ProgrammeModule
    url_prefix = "programme-modules"
    icon = "list-ol"
    menu_label = _("Programme modules")
    form_fields = ["programme", "module_page", "segment", "order", "required", "credits", "class_hours"]
    list_display = ["programme", "module_page", "segment", "order", "required", "credits", "class_hours"]
    list_filter = ["programme"]


class ProgrammesGroup(ModelViewSetGroup):
    items = (ProgrammeViewSet, ProgrammeModuleViewSet)
    menu_label = _("Programmes")
    menu_icon = "list-ul"
    menu_order = 250


@hooks.register("register_admin_viewset")
def register_programmes():
    return ProgrammesGroup()
