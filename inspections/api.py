"""Public functions of the inspections app (what other apps and the views call).

- ``findings_by_instructor``: the findings of the inspections of each instructor's classes in a year, by
  severity (the annual assessment reads it).
"""

from __future__ import annotations

from collections import defaultdict

from .models import Finding


def findings_by_instructor(instructor_ids, *, year: int) -> dict[int, dict[str, int]]:
    """{instructor id: {"minor": n, "major": n, "critical": n}} over the inspections carried out in ``year``
    (by the day they started) of classes the instructor taught."""
    out: dict[int, dict[str, int]] = defaultdict(lambda: {"minor": 0, "major": 0, "critical": 0})
    rows = (Finding.objects.filter(inspection__started_at__year=year,
                                   inspection__training_class__instructors__in=list(instructor_ids))
            .values_list("inspection__training_class__instructors", "severity"))
    for instructor, severity in rows:
        out[instructor][severity] += 1
    return dict(out)
