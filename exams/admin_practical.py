"""The practical exam schemes in the Wagtail admin (/admin/exam-bank/practical/): system admins see each
programme's scheme with its versions and make a new version (a scheme is never edited: sessions and
frozen results keep the version they used). Thin views over ``exams.practical.save_scheme``."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from courses.models import Programme
from lms import api as lms_api
from manikin.scoring import list_standards

from . import practical
from .practical_models import PracticalScheme


def _require_system_admin(user) -> None:
    if not lms_api.is_system_admin(user):
        raise PermissionDenied(_("Only system admins change the practical exam schemes."))


@require_GET
def scheme_list(request):
    _require_system_admin(request.user)
    programmes = []
    for programme in Programme.objects.filter(is_active=True).order_by("kind", "name"):
        versions = list(programme.practical_schemes.select_related("created_by").order_by("-version"))
        programmes.append({"programme": programme, "current": versions[0] if versions else None,
                           "older": versions[1:]})
    return render(request, "exams/admin/practical_schemes.html", {"programmes": programmes})


class SchemeForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Scheme name"), max_length=128)
    cpr_standard_id = forms.ChoiceField(label=gettext_lazy("CPR standard"))
    cpr_points = forms.IntegerField(label=gettext_lazy("points of the CPR item"), min_value=0, max_value=1000)
    cpr_must_pass = forms.BooleanField(label=gettext_lazy("the CPR item must pass its standard"), required=False)
    pass_points = forms.IntegerField(label=gettext_lazy("pass mark (points)"), min_value=1, max_value=2000)
    theory_valid_days = forms.IntegerField(label=gettext_lazy("theory pass valid for booking (days)"), min_value=1,
                                           max_value=3650)
    retakes_allowed = forms.IntegerField(label=gettext_lazy("retakes allowed"), min_value=0, max_value=20)
    retake_wait_days = forms.IntegerField(label=gettext_lazy("days between sittings"), min_value=0, max_value=365)
    slot_minutes = forms.IntegerField(label=gettext_lazy("minutes per slot"), min_value=5, max_value=240)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cpr_standard_id"].choices = [(s, s) for s in list_standards()]


class ItemForm(forms.Form):
    key = forms.RegexField(label=gettext_lazy("Key"), regex=r"^[A-Za-z0-9_]{1,40}$", max_length=40)
    skill = forms.CharField(label=gettext_lazy("Skill"), max_length=32, required=False)
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)
    points = forms.IntegerField(label=gettext_lazy("Points"), min_value=0, max_value=100)
    critical = forms.BooleanField(label=gettext_lazy("Critical"), required=False)


ItemFormSet = forms.formset_factory(ItemForm, extra=3, can_delete=True)


@require_http_methods(["GET", "POST"])
def scheme_new(request, programme_id: int):
    """A new version, filled in from the current one."""
    _require_system_admin(request.user)
    programme = get_object_or_404(Programme, pk=programme_id)
    current: PracticalScheme | None = practical.current_scheme(programme)
    initial = {"name": programme.name + _(" practical exam"), "cpr_points": 40, "cpr_must_pass": True,
               "pass_points": 80, "theory_valid_days": 180, "retakes_allowed": 1, "retake_wait_days": 7,
               "slot_minutes": 20, "cpr_standard_id": list_standards()[0]}
    if current is not None:
        initial = {k: v for k, v in current.as_evidence().items() if k in SchemeForm.base_fields}
        initial.update(theory_valid_days=current.theory_valid_days, slot_minutes=current.slot_minutes)
    form = SchemeForm(request.POST or None, initial=initial)
    items = ItemFormSet(request.POST or None, initial=current.items if current else None, prefix="items")
    if request.method == "POST" and form.is_valid() and items.is_valid():
        rows = [f.cleaned_data for f in items.forms
                if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("key")]
        try:
            scheme = practical.save_scheme(request.user, programme, items=[
                {k: r[k] for k in ("key", "skill", "title", "points", "critical")} for r in rows], **form.cleaned_data)
        except ValidationError as exc:
            for name, errs in exc.message_dict.items():
                form.add_error(name if name in form.fields else None, errs)
        else:
            messages.success(request, _("Version %(n)s of the scheme is in force for sessions planned from now on.")
                             % {"n": scheme.version})
            return redirect("exam_bank:practical_schemes")
    return render(request, "exams/admin/practical_scheme_form.html",
                  {"form": form, "items": items, "programme": programme, "current": current})
