"""The teaching record: computed from classes, exams and feedback whenever it is read, never stored.

Over the classes a person taught (``TrainingClass.instructors``) that ended in the period and were not
cancelled:
- classes, class hours (the programme's class hours per class) and trainees (enrolments not withdrawn);
- theory and practical pass rates: trainees who passed over trainees who sat (``exams.api.outcomes``);
- CPR quality: the mean manikin score (0–100 %) of the trainees' latest practical sittings;
- feedback: the mean of the trainees' ratings (1–5) and the number of answers.

A rate is shown floored to one decimal (``floor_pct``), so 69.96 % shows as 69.9 %, never as 70.0 %.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import ROUND_FLOOR, Decimal

from django.db.models import Count, Sum
from django.utils import timezone


def floor_pct(numerator: int, denominator: int) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(100) * numerator / denominator).quantize(Decimal("0.1"), ROUND_FLOOR)


def floor_1(value: float | Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.1"), ROUND_FLOOR)


def floor_2(value: float | Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"), ROUND_FLOOR)


@dataclass
class Figures:
    classes: int = 0
    hours: Decimal = Decimal(0)
    trainees: int = 0
    theory_sat: int = 0
    theory_passed: int = 0
    practical_sat: int = 0
    practical_passed: int = 0
    cpr_scores: list = field(default_factory=list)
    feedback_n: int = 0
    feedback_sum: int = 0
    feedback_clarity_sum: int = 0
    feedback_practice_sum: int = 0
    class_ids: list = field(default_factory=list)

    @property
    def theory_pass_pct(self) -> Decimal | None:
        return floor_pct(self.theory_passed, self.theory_sat)

    @property
    def practical_pass_pct(self) -> Decimal | None:
        return floor_pct(self.practical_passed, self.practical_sat)

    @property
    def cpr_mean_pct(self) -> Decimal | None:
        return floor_1(sum(self.cpr_scores) / len(self.cpr_scores)) if self.cpr_scores else None

    @property
    def feedback_mean(self) -> Decimal | None:
        return floor_2(self.feedback_sum / self.feedback_n) if self.feedback_n else None

    @property
    def feedback_clarity(self) -> Decimal | None:
        return floor_2(self.feedback_clarity_sum / self.feedback_n) if self.feedback_n else None

    @property
    def feedback_practice(self) -> Decimal | None:
        return floor_2(self.feedback_practice_sum / self.feedback_n) if self.feedback_n else None

    def as_json(self) -> dict:
        """The stored snapshot (an assessment keeps the figures it was computed from)."""
        raw = asdict(self)
        raw.pop("cpr_scores")
        out = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in raw.items()}
        for name in ("theory_pass_pct", "practical_pass_pct", "cpr_mean_pct", "feedback_mean"):
            value = getattr(self, name)
            out[name] = None if value is None else str(value)
        out["cpr_n"] = len(self.cpr_scores)
        return out


def year_bounds(year: int) -> tuple[datetime.date, datetime.date]:
    return datetime.date(year, 1, 1), datetime.date(year, 12, 31)


def _class_rows(*, instructor_ids=None, organisation_ids=None, start: datetime.date | None,
                end: datetime.date | None, today: datetime.date):
    from courses.models import TrainingClass

    qs = TrainingClass.objects.exclude(status=TrainingClass.Status.CANCELLED).filter(ends_on__lte=today)
    if start is not None:
        qs = qs.filter(ends_on__gte=start)
    if end is not None:
        qs = qs.filter(ends_on__lte=end)
    if instructor_ids is not None:
        return list(qs.filter(instructors__in=list(instructor_ids))
                    .values_list("instructors", "pk", "programme_id", "programme__required_class_hours"))
    return list(qs.filter(training_base_id__in=list(organisation_ids))
                .values_list("training_base_id", "pk", "programme_id", "programme__required_class_hours"))


def _figures(rows) -> dict[int, Figures]:
    """rows: (owner id, class id, programme id, class hours) → Figures per owner."""
    from courses.models import Enrolment
    from exams import api as exams_api

    from .models import ClassFeedback

    class_ids = {r[1] for r in rows}
    programme_of = {r[1]: r[2] for r in rows}
    trainees: dict[int, list[int]] = defaultdict(list)
    for class_id, user_id in (Enrolment.objects.filter(training_class_id__in=class_ids)
                              .exclude(status=Enrolment.Status.WITHDRAWN).values_list("training_class_id", "user_id")):
        trainees[class_id].append(user_id)
    pairs = {(u, programme_of[c]) for c, users in trainees.items() for u in users}
    results = exams_api.outcomes(pairs)
    feedback = {r["training_class_id"]: r for r in (
        ClassFeedback.objects.filter(training_class_id__in=class_ids).values("training_class_id")
        .annotate(n=Count("pk"), overall=Sum("overall"), clarity=Sum("clarity"), practice=Sum("practice")))}
    out: dict[int, Figures] = defaultdict(Figures)
    for owner, class_id, programme_id, hours in rows:
        f = out[owner]
        f.classes += 1
        f.class_ids.append(class_id)
        f.hours += hours or Decimal(0)
        f.trainees += len(trainees.get(class_id, ()))
        for user_id in trainees.get(class_id, ()):
            o = results.get((user_id, programme_id))
            if o is None:
                continue
            f.theory_sat += o.theory_sat
            f.theory_passed += o.theory_passed
            f.practical_sat += o.practical_sat
            f.practical_passed += o.practical_passed
            if o.cpr_score is not None:
                f.cpr_scores.append(o.cpr_score)
        fb = feedback.get(class_id)
        if fb:
            f.feedback_n += fb["n"]
            f.feedback_sum += fb["overall"]
            f.feedback_clarity_sum += fb["clarity"]
            f.feedback_practice_sum += fb["practice"]
    return out


def records(instructor_ids, *, year: int | None = None, start: datetime.date | None = None,
            today: datetime.date | None = None) -> dict[int, Figures]:
    """Each instructor's figures over the classes that ended in ``year`` (or from ``start``; neither: all years)
    by ``today``."""
    today = today or timezone.localdate()
    end = None
    if year:
        start, end = year_bounds(year)
    ids = list(instructor_ids)
    figures = _figures(_class_rows(instructor_ids=ids, start=start, end=end, today=today))
    return {pk: figures.get(pk, Figures()) for pk in ids}


def organisation_figures(organisation_ids, *, year: int | None = None,
                         today: datetime.date | None = None) -> dict[int, Figures]:
    """The same figures over the classes held at each organisation (a studio's classes)."""
    today = today or timezone.localdate()
    start, end = year_bounds(year) if year else (None, None)
    ids = list(organisation_ids)
    figures = _figures(_class_rows(organisation_ids=ids, start=start, end=end, today=today))
    return {pk: figures.get(pk, Figures()) for pk in ids}
