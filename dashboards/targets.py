"""Targets of the plans, as data: saved and deleted by region admins (their subtree) and system admins.

Each change is one function: permission, validation (every problem reported, nothing stored), one transaction
and an audit record. A target applies to its region and every region below it that has none of its own
(``dashboards.indicators``). Physical limits per indicator: percentages and per-100 figures at most 100, a
yearly count of new certificates at most 100,000,000; one target per (region, indicator, end year).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from lms import audit
from lms.models import Region
from lms.permissions import can_manage_region, is_system_admin, region_q

from .models import Target

YEAR_MIN, YEAR_MAX = 2000, 2100
MAX_VALUE = {
    Target.Indicator.AWARENESS_PCT: Decimal(100),
    Target.Indicator.PER_100: Decimal(100),
    Target.Indicator.NEW_CERTIFICATES_PCT: Decimal(100),
    Target.Indicator.NEW_CERTIFICATES: Decimal(100_000_000),
}
SOURCE_MAX = 255


def plain(value: Decimal) -> str:
    """A Decimal without trailing zeros and never in exponent form: 40.00 → "40", 2.50 → "2.5"."""
    value = value.normalize()
    if value == value.to_integral_value():
        value = value.quantize(Decimal(1))
    return str(value)


def display_value(indicator: str, value: Decimal) -> str:
    """A target value with its unit: "40 %", "2 per 100 people", "12,000"."""
    if indicator == Target.Indicator.NEW_CERTIFICATES:
        return f"{int(value):,}"
    if indicator == Target.Indicator.PER_100:
        return _("%(n)s per 100 people") % {"n": plain(value)}
    return f"{plain(value)} %"


def can_manage(actor, region: Region | None) -> bool:
    """System admins (and the system itself, ``actor=None``); region admins for regions in their subtree."""
    return actor is None or is_system_admin(actor) or can_manage_region(actor, region)


def _snapshot(t: Target) -> dict:
    return {"region": t.region_id, "region_name": t.region.name if t.region_id else "", "indicator": t.indicator,
            "year_from": t.year_from, "year_to": t.year_to, "value": str(t.value), "source": t.source}


def _year(raw, field: str, label: str, errors: dict) -> int | None:
    try:
        year = int(str(raw).strip())
        if str(year) != str(raw).strip():
            raise ValueError
    except (TypeError, ValueError):
        errors.setdefault(field, []).append(_("Enter the %(which)s as a whole number.") % {"which": label})
        return None
    if not YEAR_MIN <= year <= YEAR_MAX:
        errors.setdefault(field, []).append(_("The %(which)s must be from %(min)s to %(max)s.")
                                            % {"which": label, "min": YEAR_MIN, "max": YEAR_MAX})
        return None
    return year


def _value(raw, indicator: str | None, errors: dict) -> Decimal | None:
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
    except (InvalidOperation, TypeError, ValueError):
        value = None
    if value is None or not value.is_finite():
        errors.setdefault("value", []).append(_("Enter the target value as a number."))
        return None
    if value < 0:
        errors.setdefault("value", []).append(_("The target value cannot be negative."))
        return None
    if value != value.quantize(Decimal("0.01")):
        errors.setdefault("value", []).append(_("The target value may have at most two decimals."))
        return None
    limit = MAX_VALUE.get(indicator)
    if limit is not None and value > limit:
        if indicator == Target.Indicator.NEW_CERTIFICATES:
            msg = _("A yearly number of new certificates cannot exceed %(max)s.") % {"max": f"{limit:,.0f}"}
        elif indicator == Target.Indicator.PER_100:
            msg = _("A figure per 100 people cannot exceed 100.")
        else:
            msg = _("A percentage cannot exceed 100.")
        errors.setdefault("value", []).append(msg)
        return None
    if indicator == Target.Indicator.NEW_CERTIFICATES and value != value.to_integral_value():
        errors.setdefault("value", []).append(_("A number of certificates is a whole number."))
        return None
    return value.quantize(Decimal("0.01"))


def _duplicate_message(region: Region, indicator: str, year_to: int) -> str:
    return (_("%(region)s already has a target for “%(indicator)s” ending in %(year)s; change that one instead.")
            % {"region": region.name, "indicator": Target.Indicator(indicator).label, "year": year_to})


def save_target(actor, *, region: Region | None, indicator: str, year_from, year_to, value, source: str = "",
                target: Target | None = None) -> Target:
    """Add a target (``target=None``) or change ``target``. Raises PermissionDenied (a region outside the
    actor's subtree, for the target's old region too) or ValidationError (every problem; nothing stored)."""
    if target is not None and target.pk and not can_manage(actor, target.region):
        raise PermissionDenied(_("This target belongs to a region outside your own."))
    errors: dict[str, list[str]] = {}
    if region is None:
        errors["region"] = [_("Choose the region.")]
    elif not can_manage(actor, region):
        raise PermissionDenied(_("You can only set targets for your own region and the regions below it."))
    if indicator not in Target.Indicator.values:
        errors["indicator"] = [_("Choose the indicator.")]
        indicator = None
    y_from = _year(year_from, "year_from", _("first year"), errors)
    y_to = _year(year_to, "year_to", _("last year"), errors)
    if y_from is not None and y_to is not None and y_to < y_from:
        errors.setdefault("year_to", []).append(_("The last year cannot be before the first year."))
    amount = _value(value, indicator, errors)
    source = (source or "").strip()
    if len(source) > SOURCE_MAX:
        errors["source"] = [_("The source may have at most %(n)s characters.") % {"n": SOURCE_MAX}]
    if not errors:
        same = Target.objects.filter(region=region, indicator=indicator, year_to=y_to)
        if target is not None and target.pk:
            same = same.exclude(pk=target.pk)
        if same.exists():
            errors["year_to"] = [_duplicate_message(region, indicator, y_to)]
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            if target is None:
                obj = Target.objects.create(region=region, indicator=indicator, year_from=y_from, year_to=y_to,
                                            value=amount, source=source)
                audit.record(actor, "dashboards.target.create", obj, after=_snapshot(obj))
            else:
                obj = Target.objects.select_for_update().select_related("region").filter(pk=target.pk).first()
                if obj is None:
                    raise ValidationError(_("This target was deleted meanwhile."))
                before = _snapshot(obj)
                obj.region, obj.indicator, obj.year_from, obj.year_to = region, indicator, y_from, y_to
                obj.value, obj.source = amount, source
                obj.save()
                audit.record(actor, "dashboards.target.update", obj, before=before, after=_snapshot(obj))
    except IntegrityError as exc:  # saved by someone else meanwhile
        raise ValidationError({"year_to": [_duplicate_message(region, indicator, y_to)]}) from exc
    return obj


def delete_target(actor, target: Target) -> None:
    """Delete a target (PermissionDenied outside the actor's subtree)."""
    if not can_manage(actor, target.region):
        raise PermissionDenied(_("This target belongs to a region outside your own."))
    with transaction.atomic():
        obj = Target.objects.select_for_update().select_related("region").filter(pk=target.pk).first()
        if obj is None:
            return
        before = _snapshot(obj)
        audit.record(actor, "dashboards.target.delete", obj, before=before)
        obj.delete()


def visible_targets(actor):
    """The targets of the regions an actor sees (all for a system admin), by region then indicator."""
    qs = Target.objects.select_related("region")
    q = region_q(actor)
    if q is not None:
        qs = qs.filter(q)
    return qs.order_by("region__path", "indicator", "year_to")
