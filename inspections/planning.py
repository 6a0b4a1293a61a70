"""Inspection planning: which classes may be drawn, how risky each is, and the draw itself.

Risk factors of a class, each between 0 and 1 (thresholds are data: the plan's ``weights`` JSON, over
``DEFAULT_WEIGHTS``):
- ``new_instructor``: 1 when an instructor of the class became an instructor less than
  ``new_instructor_days`` days before the plan (``InstructorProfile.instructor_since``) or has no profile;
- ``low_pass_rate``: 1 when an instructor's theory or practical pass rate over the classes that ended in the
  last ``record_days`` days is below ``low_pass_rate_pct`` (``instructors.record``);
- ``poor_cpr``: 1 when an instructor's trainees' mean CPR score over the same classes is below ``poor_cpr_pct``;
- ``past_findings``: the findings of earlier inspections of the class's training base or of its instructors,
  counted by severity (minor 1, major 2, critical 3) over ``past_findings_points`` and capped at 1;
- ``long_since_inspection``: the days since the training base was last inspected over ``long_since_days``,
  capped at 1; a base never inspected scores 1.

A class's weight is ``1 + Σ weight_i × factor_i``.

The draw is weighted sampling without replacement (Efraimidis–Spirakis): the population sorted by class id,
each class gets the key ``u ** (1 / weight)`` with ``u`` from ``random.Random(seed)`` in that order, and the
classes with the largest keys are drawn, largest first. The same seed and population always give the same
draw (``redraw``); the population with every weight and factor is stored on the plan.
"""

from __future__ import annotations

import datetime
import random
import re
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

FACTORS = ("new_instructor", "low_pass_rate", "poor_cpr", "past_findings", "long_since_inspection")

DEFAULT_WEIGHTS: dict[str, float] = {
    # how much each risk factor adds to a class's weight
    "new_instructor": 2.0,
    "low_pass_rate": 1.5,
    "poor_cpr": 1.5,
    "past_findings": 2.0,
    "long_since_inspection": 1.0,
    # thresholds
    "new_instructor_days": 365,
    "record_days": 365,
    "low_pass_rate_pct": 80,
    "poor_cpr_pct": 70,
    "past_findings_points": 3,
    "long_since_days": 365,
}
SEVERITY_POINTS = {"minor": 1, "major": 2, "critical": 3}


def weights_with_defaults(weights: dict | None) -> dict[str, float]:
    """The plan's weights over the defaults; ``ValueError`` with the reason for an unknown key or a bad value."""
    out = dict(DEFAULT_WEIGHTS)
    for key, value in (weights or {}).items():
        if key not in DEFAULT_WEIGHTS:
            raise ValueError(_("Unknown risk weight: %(key)s.") % {"key": key})
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 <= value <= 10_000):
            raise ValueError(_("The risk weight %(key)s must be a number from 0 to 10000.") % {"key": key})
        out[key] = float(value)
    return out


def weight_of(factors: dict[str, float], weights: dict[str, float]) -> float:
    return round(1.0 + sum(weights[name] * factors.get(name, 0.0) for name in FACTORS), 6)


# ------------------------------------------------------------------ eligible classes and their factors


def eligible_classes(region, period_start: datetime.date, period_end: datetime.date):
    """Classes held in ``region``'s subtree, not cancelled, running at some point in the period."""
    from courses.models import TrainingClass

    return (TrainingClass.objects.filter(training_base__region__path__startswith=region.path,
                                         starts_on__lte=period_end, ends_on__gte=period_start)
            .exclude(status=TrainingClass.Status.CANCELLED).order_by("pk"))


def _teaching_figures(instructor_ids, *, start: datetime.date, today: datetime.date) -> dict:
    """Each instructor's teaching figures over the classes that ended from ``start`` to ``today``."""
    from instructors import record

    ids = list(instructor_ids)
    if not ids:
        return {}
    return record.records(ids, start=start, today=today)


def risk_factors(classes, weights: dict[str, float], *, today: datetime.date) -> dict[int, dict[str, float]]:
    """{class id: {factor: value}} for ``classes`` (TrainingClass rows)."""
    from instructors.models import InstructorProfile

    from .models import Finding, Inspection

    classes = list(classes)
    instructors_of: dict[int, list[int]] = defaultdict(list)
    through = classes[0].instructors.through if classes else None
    if through is not None:
        for class_id, user_id in through.objects.filter(trainingclass_id__in=[c.pk for c in classes]).values_list(
                "trainingclass_id", "user_id"):
            instructors_of[class_id].append(user_id)
    all_instructors = {u for ids in instructors_of.values() for u in ids}
    since = dict(InstructorProfile.objects.filter(user_id__in=all_instructors).values_list("user_id",
                                                                                           "instructor_since"))
    figures = _teaching_figures(all_instructors, start=today - datetime.timedelta(days=int(weights["record_days"])),
                                today=today)
    bases = {c.training_base_id for c in classes}
    started = Inspection.objects.filter(started_at__isnull=False)
    last_inspected = dict(started.filter(training_class__training_base_id__in=bases)
                          .values("training_class__training_base_id").annotate(last=Max("started_at"))
                          .values_list("training_class__training_base_id", "last"))
    # every earlier finding of these bases or instructors: id -> (points, base, {instructors of its class})
    past: dict[int, list] = {}
    for finding_id, base, instructor, severity in Finding.objects.filter(
            Q(inspection__training_class__training_base_id__in=bases)
            | Q(inspection__training_class__instructors__in=all_instructors),
            inspection__started_at__isnull=False,
    ).values_list("pk", "inspection__training_class__training_base_id", "inspection__training_class__instructors",
                  "severity"):
        row = past.setdefault(finding_id, [SEVERITY_POINTS.get(severity, 1), base, set()])
        if instructor is not None:
            row[2].add(instructor)

    out = {}
    for c in classes:
        ids = instructors_of.get(c.pk, [])
        new = any(since.get(u) is None or (today - since[u]).days < weights["new_instructor_days"] for u in ids)
        low_pass = poor_cpr = False
        for u in ids:
            f = figures.get(u)
            if f is None:
                continue
            rates = [r for r in (f.theory_pass_pct, f.practical_pass_pct) if r is not None]
            if rates and min(rates) < weights["low_pass_rate_pct"]:
                low_pass = True
            if f.cpr_mean_pct is not None and f.cpr_mean_pct < weights["poor_cpr_pct"]:
                poor_cpr = True
        # findings of the base's inspections and of the instructors' classes, each counted once
        finding_points = sum(points for points, base, teachers in past.values()
                             if base == c.training_base_id or teachers & set(ids))
        last = last_inspected.get(c.training_base_id)
        if last is None:
            long_since = 1.0
        else:
            days = (today - timezone.localtime(last).date()).days
            long_since = min(1.0, max(0.0, days / weights["long_since_days"])) if weights["long_since_days"] else 1.0
        out[c.pk] = {
            "new_instructor": 1.0 if new else 0.0,
            "low_pass_rate": 1.0 if low_pass else 0.0,
            "poor_cpr": 1.0 if poor_cpr else 0.0,
            "past_findings": round(min(1.0, finding_points / weights["past_findings_points"]), 4)
            if weights["past_findings_points"] else (1.0 if finding_points else 0.0),
            "long_since_inspection": round(long_since, 4),
        }
    return out


def population(region, period_start, period_end, weights: dict[str, float], *, today: datetime.date) -> list[dict]:
    """[{"class": id, "weight": w, "factors": {...}}] sorted by class id: what a plan draws from."""
    classes = list(eligible_classes(region, period_start, period_end))
    factors = risk_factors(classes, weights, today=today)
    return [{"class": c.pk, "weight": weight_of(factors[c.pk], weights), "factors": factors[c.pk]}
            for c in sorted(classes, key=lambda c: c.pk)]


# ------------------------------------------------------------------ the draw


def draw(seed: str, rows: list[dict], k: int) -> list[int]:
    """Class ids drawn from ``rows`` (population rows), weighted, without replacement, reproducible from ``seed``."""
    rng = random.Random(str(seed))
    keyed = []
    for row in sorted(rows, key=lambda r: r["class"]):
        u = rng.random()
        w = float(row["weight"])
        key = u ** (1.0 / w) if w > 0 else 0.0
        keyed.append((key, -row["class"], row["class"]))
    keyed.sort(reverse=True)
    return [class_id for _key, _neg, class_id in keyed[:max(0, k)]]


def redraw(plan) -> list[int]:
    """The draw of a stored plan again, from its seed and stored population: equals ``plan.drawn``."""
    return draw(plan.seed, plan.population, plan.sample_size)


def new_seed() -> str:
    return f"{random.SystemRandom().getrandbits(64):016x}"


def visit_day(seed: str, class_id: int, first: datetime.date, last: datetime.date) -> datetime.date:
    """The planned day of the visit: a day of the class within the period, from the seed (not from the draw's
    random stream, so the draw stays the same whatever the days)."""
    span = (last - first).days
    if span <= 0:
        return first
    return first + datetime.timedelta(days=random.Random(f"{seed}:day:{class_id}").randrange(span + 1))


# ------------------------------------------------------------------ checklists

CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
KINDS = ("yesno",)


def checklist_item_errors(items) -> list[str]:
    """Reasons a checklist's ``items`` JSON cannot be used (empty when it can)."""
    from .models import Checklist

    if not isinstance(items, list) or not items:
        return [_("The checklist needs a list of items.")]
    errors = []
    codes = set()
    groups = set(Checklist.Group.values)
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            errors.append(_("Item %(n)s is not an object with code, group, text and kind.") % {"n": n})
            continue
        unknown = set(item) - {"code", "group", "text", "kind", "help"}
        if unknown:
            errors.append(_("Item %(n)s has unknown keys: %(keys)s.") % {"n": n, "keys": ", ".join(sorted(unknown))})
        code = item.get("code")
        if not isinstance(code, str) or not CODE.match(code):
            errors.append(_("Item %(n)s: the code must be 1–40 lower-case letters, digits, '.', '_' or '-'.")
                          % {"n": n})
        elif code in codes:
            errors.append(_("Item %(n)s: the code %(code)s is used twice.") % {"n": n, "code": code})
        else:
            codes.add(code)
        if item.get("group") not in groups:
            errors.append(_("Item %(n)s: the group must be one of %(groups)s.") % {"n": n,
                                                                                   "groups": ", ".join(sorted(groups))})
        text = item.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > 500:
            errors.append(_("Item %(n)s: the text must be 1–500 characters.") % {"n": n})
        if item.get("kind", "yesno") not in KINDS:
            errors.append(_("Item %(n)s: the kind must be yesno.") % {"n": n})
        if "help" in item and (not isinstance(item["help"], str) or len(item["help"]) > 1000):
            errors.append(_("Item %(n)s: the help text must be at most 1000 characters.") % {"n": n})
    return errors


@dataclass
class Group:
    code: str
    label: str
    items: list


def grouped_items(checklist) -> list[Group]:
    from .models import Checklist

    out = []
    for code, label in Checklist.Group.choices:
        items = [i for i in checklist.items if i.get("group") == code]
        out.append(Group(code, str(label), items))
    return out
