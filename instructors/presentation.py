"""How the instructors' figures and the assessment's criteria are shown: one format per quantity, labels and
reasons rendered in the reader's language from the codes and raw values an assessment stores."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from lms import numbers

from .assessment import DEMOTE, PROMOTE, SUSPEND

DASH = numbers.DASH


def _decimal(value) -> Decimal | None:
    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def fmt_hours(value) -> str:
    d = _decimal(value)
    if d is None:
        return DASH
    return _("%(n)s class hours") % {"n": format(d.normalize(), "f")}


def fmt_pct(value) -> str:
    """A rate or a CPR quality, already floored to 0.1 (``record.floor_pct``)."""
    d = _decimal(value)
    return DASH if d is None else f"{d:.1f}%"


def fmt_feedback(value) -> str:
    d = _decimal(value)
    return DASH if d is None else _("%(score)s / 5") % {"score": f"{d:.2f}"}


def fmt_count(value) -> str:
    return numbers.count(value)


def fmt_years(value) -> str:
    return DASH if value in (None, "") else _("%(n)s years") % {"n": value}


LABELS = {
    "qualification": gettext_lazy("Qualification certificate current"),
    "critical_findings": gettext_lazy("Critical inspection findings"),
    "hours": gettext_lazy("Class hours taught"),
    "pass_rate": gettext_lazy("Practical-exam pass rate"),
    "feedback": gettext_lazy("Trainees' feedback"),
    "major_findings": gettext_lazy("Major inspection findings"),
    "refresher": gettext_lazy("Refresher attended"),
    "promote_hours": gettext_lazy("Class hours for promotion"),
    "promote_feedback": gettext_lazy("Feedback for promotion"),
    "promote_cpr": gettext_lazy("Trainees' CPR quality for promotion"),
    "credible_pass_rate": gettext_lazy("Pass rate credible"),
    "promote_no_major": gettext_lazy("No major finding"),
    "promote_years": gettext_lazy("Years in the tier"),
    "higher_tier": gettext_lazy("A higher tier exists"),
}
# code -> (format of the value and threshold, whether the threshold is a maximum)
FORMATS = {
    "critical_findings": (fmt_count, True), "major_findings": (fmt_count, True), "promote_no_major": (fmt_count, True),
    "hours": (fmt_hours, False), "promote_hours": (fmt_hours, False),
    "pass_rate": (fmt_pct, False), "credible_pass_rate": (fmt_pct, True), "promote_cpr": (fmt_pct, False),
    "feedback": (fmt_feedback, False), "promote_feedback": (fmt_feedback, False),
    "promote_years": (fmt_years, False),
}
EFFECTS = {
    SUSPEND: gettext_lazy("if missed: suspension"),
    DEMOTE: gettext_lazy("if missed: demotion"),
    PROMOTE: gettext_lazy("needed for promotion"),
}


def _value(c: dict) -> str:
    code, value = c.get("code"), c.get("value")
    if code == "qualification":
        return (_("valid until %(day)s") % {"day": value}) if value else _("expired or never issued")
    if code == "refresher":
        return _("yes") if c.get("ok") else _("no")
    if code == "higher_tier":
        return value or DASH
    fmt = FORMATS.get(code, (lambda v: DASH if v in (None, "") else str(v), False))[0]
    shown = fmt(value)
    if code in ("feedback", "promote_feedback") and value not in (None, "") and c.get("answers") is not None \
            and c["answers"] < c.get("needed", 0):
        shown = _("%(mean)s (%(n)s answers, %(needed)s needed: not judged)") % {
            "mean": shown, "n": c["answers"], "needed": c["needed"]}
    return shown


def label(c: dict) -> str:
    code = c.get("code")
    if code == "refresher" and c.get("programme"):
        return _("Refresher attended: %(programme)s") % {"programme": c["programme"]}
    return str(LABELS.get(code, code))


def criteria_rows(a) -> list[dict]:
    out = []
    for c in a.criteria:
        code = c.get("code")
        fmt, at_most = FORMATS.get(code, (lambda v: DASH if v in (None, "") else v, False))
        threshold = c.get("threshold")
        out.append({
            "code": code, "label": label(c), "value": _value(c),
            "threshold": "" if threshold is None else ("≤ " if at_most else "≥ ") + str(fmt(threshold)),
            "ok": c.get("ok"), "effect": EFFECTS.get(c.get("effect"), ""), "effect_code": c.get("effect"),
        })
    return out


def _line(c: dict) -> str:
    fmt, at_most = FORMATS.get(c.get("code"), (lambda v: v, False))
    if c.get("threshold") is None:
        return _("%(label)s: %(value)s") % {"label": label(c), "value": _value(c)}
    return _("%(label)s: %(value)s (threshold %(threshold)s)") % {
        "label": label(c), "value": _value(c), "threshold": ("≤ " if at_most else "≥ ") + str(fmt(c["threshold"]))}


def reason_lines(a) -> list[str]:
    """The proposal's reasons, in the reader's language, from the codes the assessment stored."""
    by_code = {c.get("code"): c for c in a.criteria}
    out = []
    for code in a.reasons:
        if code == "first_tier":
            out.append(_("The first tier has no tier below it: a demotion is a suspension."))
        elif code == "all_promotion_criteria":
            out.append(_("Every promotion criterion is met."))
        elif code == "not_yet_promoted":
            out.append(_("Every threshold is met; not yet promoted:"))
        elif code in by_code:
            out.append(_line(by_code[code]))
    return out
