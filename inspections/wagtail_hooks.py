"""The inspection checklists in the Wagtail admin (system admins): a checklist is data, versioned, changed
without a deploy. ``Checklist.clean`` refuses items that cannot be used, with the reasons."""

from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.viewsets.model import ModelViewSet

from .models import Checklist


class ChecklistViewSet(ModelViewSet):
    model = Checklist
    url_prefix = "inspection-checklists"
    icon = "tasks"
    menu_label = _("Inspection checklists")
    menu_order = 270
    add_to_admin_menu = True
    form_fields = ["name", "version", "items", "is_active"]
    list_display = ["name", "version", "is_active", "created_at"]
    list_filter = ["is_active"]


@hooks.register("register_admin_viewset")
def register_checklists():
    return ChecklistViewSet()
