"""The targets pages (thin views over ``dashboards.targets``).

``/dashboards/targets/``: the targets of the regions in the viewer's scope, grouped by region, with a form to
add one (the region choice limited to the viewer's regions). ``/dashboards/targets/<pk>/``: change or delete
one. Region admins (their subtree) and system admins; anyone else 403; a target outside the viewer's scope
404 (its existence is not revealed). The api checks the permission again and refuses with its reason.
"""

from __future__ import annotations

from itertools import groupby

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from lms.errors import messages_of
from lms.models import Region
from lms.permissions import administered_regions, is_system_admin, visible_regions
from lms.views import _add_errors

from . import targets as targets_api
from .models import Target

def _require_admin(user) -> None:
    if not (is_system_admin(user) or administered_regions(user)):
        raise PermissionDenied(_("Targets are managed by region and system admins."))


class TargetForm(forms.Form):
    """Parsing only; the ranges, the period and the uniqueness are checked by ``dashboards.targets``."""

    region = forms.ModelChoiceField(label=gettext_lazy("Region"), queryset=Region.objects.none())
    indicator = forms.ChoiceField(label=gettext_lazy("Indicator"), choices=Target.Indicator.choices)
    year_from = forms.IntegerField(label=gettext_lazy("From year"),
                                   widget=forms.NumberInput(attrs={"class": "num", "inputmode": "numeric"}))
    year_to = forms.IntegerField(label=gettext_lazy("To year (the end of the plan period)"),
                                 widget=forms.NumberInput(attrs={"class": "num", "inputmode": "numeric"}))
    value = forms.DecimalField(label=gettext_lazy("Target value"),
                               help_text=gettext_lazy("Percent for 普及率 and new certificates as a share of the "
                                                      "population; people per 100 for first-aiders per 100; a "
                                                      "number for new certificates per year."),
                               widget=forms.TextInput(attrs={"class": "num", "inputmode": "decimal"}))
    source = forms.CharField(label=gettext_lazy("Source"), max_length=targets_api.SOURCE_MAX, required=False,
                             help_text=gettext_lazy("The plan or document that sets the target"))

    def __init__(self, *args, regions=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = regions if regions is not None else Region.objects.none()
        self.fields["region"].label_from_instance = lambda r: ("　" * (r.depth - 1)) + r.name


def value_display(t: Target) -> str:
    return targets_api.display_value(t.indicator, t.value)


def _regions(user):
    return visible_regions(user).order_by("path")


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def target_list(request):
    _require_admin(request.user)
    regions = _regions(request.user)
    this_year = timezone.localdate().year
    form = TargetForm(request.POST or None, regions=regions,
                      initial={"year_from": this_year, "year_to": this_year + 4})
    if request.method == "POST" and form.is_valid():
        try:
            t = targets_api.save_target(request.user, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Target added for %(region)s.") % {"region": t.region.name})
            return redirect("dashboard_targets:list")
    rows = [(t, value_display(t)) for t in targets_api.visible_targets(request.user)]
    groups = [(region, list(items)) for region, items in groupby(rows, key=lambda r: r[0].region)]
    return render(request, "dashboards/targets.html", {"form": form, "groups": groups})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def target_edit(request, pk: int):
    _require_admin(request.user)
    target = targets_api.visible_targets(request.user).filter(pk=pk).first()
    if target is None:
        raise Http404(_("No such target in your region."))
    regions = _regions(request.user)
    if request.method == "POST" and request.POST.get("action") == "delete":
        try:
            targets_api.delete_target(request.user, target)
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, messages_of(exc))
            return redirect("dashboard_targets:edit", pk=target.pk)
        messages.success(request, _("Target deleted."))
        return redirect("dashboard_targets:list")
    initial = {"region": target.region, "indicator": target.indicator, "year_from": target.year_from,
               "year_to": target.year_to, "value": target.value, "source": target.source}
    form = TargetForm(request.POST if request.method == "POST" else None, regions=regions, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            targets_api.save_target(request.user, target=target, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Target saved."))
            return redirect("dashboard_targets:list")
    return render(request, "dashboards/target_form.html", {"form": form, "target": target,
                                                           "value": value_display(target)})
