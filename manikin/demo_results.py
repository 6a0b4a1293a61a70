"""Demo results for "My results": past exam attempts and practice of the demo trainee (张伟, login ``trainee``).

Each attempt is a simulated session scored by the real scorer (``manikin.simulator`` + ``score_trace``), stored
as a stopped recording at a demo room, dated in the past days. Created once: nothing is added when the
trainee has recordings already.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from lms.models import User

from .models import Manikin, Recording, Room
from .scoring import DEFAULT_STANDARD_ID, score_trace
from .simulator import simulate

# (organisation, room, station, profile, seconds of CPR, days ago, purpose)
DEMO_ATTEMPTS = [
    ("杭州市红十字应急救护培训基地（演示）", "练习室", "练习台A", "leaning", 110.0, 6, Room.Mode.PRACTICE),
    ("杭州市红十字应急救护培训基地（演示）", "练习室", "练习台A", "good", 60.0, 5, Room.Mode.PRACTICE),  # 3 of 5 cycles
    ("杭州市红十字应急救护培训基地（演示）", "练习室", "练习台A", "good", 110.0, 4, Room.Mode.PRACTICE),
    ("西湖区应急救护考点（演示）", "考场二", "4号工位", "shallow", 110.0, 2, Room.Mode.EXAM),
    ("西湖区应急救护考点（演示）", "考场二", "4号工位", "good", 110.0, 1, Room.Mode.EXAM),
]


def load_results(username: str = "trainee") -> int:
    """The demo trainee's past attempts; returns how many were added."""
    trainee = User.objects.filter(username=username).first()
    if trainee is None or Recording.objects.filter(trainee=trainee).exists():
        return 0
    examiner = User.objects.filter(username="examiner").first() or trainee
    added = 0
    with transaction.atomic():
        for i, (org, room, station, profile, seconds, days, purpose) in enumerate(DEMO_ATTEMPTS):
            manikin = (Manikin.objects.filter(station__room__organisation__name=org, station__room__name=room,
                                              station__name=station).order_by("pk").first())
            if manikin is None:
                continue
            trace = simulate(profile, duration_s=seconds, seed=100 + i)
            res = score_trace(trace.t_s, trace.depth_mm, trace.volume_ml, standard=DEFAULT_STANDARD_ID).to_dict()
            started = timezone.now().replace(hour=9, minute=30, second=0, microsecond=0) \
                - datetime.timedelta(days=days, minutes=-7 * i)
            rec = Recording.objects.create(
                manikin=manikin, trainee=trainee, started_by=examiner, stopped_by=examiner,
                standard_id=DEFAULT_STANDARD_ID, purpose=purpose, sample_count=len(trace.t_s),
                result=res, score=res["score"], passed=res["passed"], outcome=Recording.Outcome.SCORED)
            Recording.objects.filter(pk=rec.pk).update(
                started_at=started, stopped_at=started + datetime.timedelta(seconds=seconds + 20))
            added += 1
    return added
