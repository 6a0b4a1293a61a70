"""Exam outcomes of many trainees at once, for teaching records, studio figures and inspection risk.

``outcomes(pairs)`` answers, for each (trainee id, programme id), whether the trainee sat and passed the
theory exam (any submitted, not voided attempt of the programme's blueprints) and the practical exam (the
latest version of their latest signed sitting, as ``passed_practical`` reads it), and the CPR score of
that sitting (the manikin scorer's 0–100 %). A handful of queries, whatever the number of pairs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Max, Q

from .models import Attempt
from .practical_models import Booking, PracticalResult


@dataclass
class Outcome:
    theory_sat: bool = False
    theory_passed: bool = False
    practical_sat: bool = False
    practical_passed: bool = False
    cpr_score: float | None = None


def _chunks(items: list, size: int = 5000):
    # 5,000 ids a query: a province's assessment (200,000 trainees) in half the time of 500 a query, and a
    # subquery instead of the lists was slower still on PostgreSQL (``manage.py bench instructors``).
    for i in range(0, len(items), size):
        yield items[i:i + size]


def outcomes(pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Outcome]:
    pairs = set(pairs)
    out = {pair: Outcome() for pair in pairs}
    if not pairs:
        return out
    users = sorted({u for u, _p in pairs})
    programmes = sorted({p for _u, p in pairs})
    for chunk in _chunks(users):
        rows = (Attempt.objects.filter(user_id__in=chunk, blueprint__programme_id__in=programmes,
                                       status=Attempt.Status.SUBMITTED, voided_at__isnull=True)
                .values("user_id", "blueprint__programme_id")
                .annotate(passed=Max("pk", filter=Q(passed=True))))
        for r in rows:
            o = out.get((r["user_id"], r["blueprint__programme_id"]))
            if o is not None:
                o.theory_sat = True
                o.theory_passed = r["passed"] is not None
        # The latest signed sitting per (candidate, programme): bookings with a result, latest session first.
        latest: dict[tuple[int, int], int] = {}
        bookings = (Booking.objects.filter(candidate_id__in=chunk, session__programme_id__in=programmes,
                                           results__isnull=False)
                    .exclude(status=Booking.Status.CANCELLED)
                    .values_list("candidate_id", "session__programme_id", "pk", "session__date").distinct()
                    .order_by("session__date", "pk"))
        for candidate, programme, booking, _date in bookings:
            latest[(candidate, programme)] = booking  # later rows win: the latest sitting
        if not latest:
            continue
        results: dict[int, tuple[int, bool, float | None]] = {}
        for booking, number, passed, score in (PracticalResult.objects.filter(booking_id__in=list(latest.values()))
                                               .values_list("booking_id", "number", "passed", "cpr_score")):
            if booking not in results or number > results[booking][0]:
                results[booking] = (number, passed, score)
        for pair, booking in latest.items():
            o = out.get(pair)
            if o is not None and booking in results:
                o.practical_sat = True
                o.practical_passed = bool(results[booking][1])
                o.cpr_score = results[booking][2]
    return out
