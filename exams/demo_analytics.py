"""Demo history for the exam analytics (``/exams/analytics/``), after the bank, the blueprint and the
demo exam trainees (``exams.demo``, ``exams.demo_attempts``).

Two demo classes of the 救护员取证 programme in two counties — 西湖区 (the demo training base) and
北仑区 (a logistics company's cohort) — with ``PER_CLASS`` synthetic trainees each (no login: they
have no usable password). Each trainee's theory is done, and each sat the exam over the last days:
papers drawn by ``exams.papers.draw_paper`` exactly as a start draws them, every question answered
right with a probability from a simple item-response model (the trainee's ability against the
question's difficulty, ``P = 1 / (1 + e^(-a(θ - b)))``), graded by ``exams.attempts.submit``. A
trainee who failed tries again a day later (a little better prepared), up to the blueprint's
attempts. A few questions are made deliberately weak (answered almost at random, or too easy), so
the question statistics flag something. Deterministic (seeded) and idempotent: a trainee who has an
attempt already is left as they are, so running ``load_demo`` twice adds nothing.

The history is dated in the days before the demo is loaded, so it predates the demo blueprint's
window (which opens when the demo is loaded); the attempts are written as the database would hold
them after those sittings.
"""

from __future__ import annotations

import hashlib
import math
import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

PROGRAMME_CODE = "first-aider"
PER_CLASS = 60
SEED = 20261124
CLASSES = [
    # code, name, organisation, region, ability mean
    ("XHFX2026", "西湖区救护员培训班（分析演示）", "杭州市红十字应急救护培训基地（演示）", ("浙江省", "杭州市", "西湖区"), 0.9),
    ("BLFX2026", "北仑区物流企业救护员培训班（分析演示）", "宁波港物流公司（演示）", ("浙江省", "宁波市", "北仑区"), 0.4),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰",
         "霞", "平", "刚", "桂英", "华", "建国", "晓东", "海燕", "志强", "雪", "婷", "浩"]
SECONDS_PER_ANSWER = 25


def _item_parameters(code: str, difficulty: int) -> tuple[float, float]:
    """(discrimination a, difficulty b) of a question, stable per question code."""
    h = int(hashlib.sha256(code.encode()).hexdigest()[:8], 16)
    rng = random.Random(h)
    b = {1: -1.2, 2: -0.3, 3: 0.6}.get(difficulty, 0.0) + rng.gauss(0, 0.5)
    a = rng.uniform(1.2, 2.2)
    if h % 23 == 0:
        a = 0.05  # badly written: right or wrong regardless of ability
    elif h % 29 == 0:
        b = -5.0  # everyone gets it
    return a, b


def _p_right(theta: float, a: float, b: float) -> float:
    return 1.0 / (1.0 + math.exp(-a * (theta - b)))


def _classes(programme, today):
    from courses.models import TrainingClass
    from lms.demo import _region
    from lms.models import Organisation

    out = []
    for code, name, org_name, where, mean in CLASSES:
        org = Organisation.objects.filter(name=org_name).first()
        if org is None:
            continue
        klass, _created = TrainingClass.objects.get_or_create(code=code, defaults={
            "programme": programme, "name": name, "training_base": org, "capacity": PER_CLASS + 10,
            "starts_on": today - timedelta(days=14), "ends_on": today + timedelta(days=14),
            "theory_deadline": today - timedelta(days=4), "status": TrainingClass.Status.CLOSED,
            "venue": f"{org_name}培训教室"})
        out.append((klass, _region(*where), mean))
    return out


def _trainee(username: str, real_name: str, region, organisation):
    from lms import api as lms_api
    from lms.models import Role, User

    user = User.objects.filter(username=username).first()
    if user is None:
        user = lms_api.create_person(None, username=username, real_name=real_name, region=region, password=None,
                                     roles=[Role.TRAINEE], organisation=organisation)
    return user


def _theory_done(user, training_class, lessons, at) -> None:
    from courses import api as courses_api
    from courses.models import Enrolment, LessonProgress

    courses_api.enrol(None, user, training_class, source=Enrolment.Source.ADMIN)
    LessonProgress.objects.bulk_create(
        [LessonProgress(user=user, lesson_id=lesson.pk, seconds_on_task=max(courses_api.required_seconds(lesson), 60),
                        last_credited_at=at, completed_at=at) for lesson in lessons],
        ignore_conflicts=True)


def _sit(user, blueprint, number: int, theta: float, started_at, rng: random.Random):
    """One attempt: a paper drawn by draw_paper, answers by the model, graded by submit."""
    from . import attempts, papers
    from .models import AnswerEvent, Attempt, PaperItem

    paper = papers.draw_paper(blueprint, rng)
    points_of = {(r.module_id, r.difficulty): r.points_each for r in blueprint.rules.all()}
    with transaction.atomic():
        attempt = Attempt.objects.create(user=user, blueprint=blueprint, number=number, status=Attempt.Status.OPEN,
                                         started_at=started_at,
                                         deadline_at=started_at + timedelta(seconds=blueprint.time_limit_s))
        items = PaperItem.objects.bulk_create([
            PaperItem(attempt=attempt, position=pos, version=v, option_order=list(order),
                      points=points_of.get((v.question.module_id, v.difficulty), 1))
            for pos, (v, order) in enumerate(paper, start=1)])
        attempt.max_points = sum(i.points for i in items)
        attempt.save(update_fields=["max_points"])
        events = []
        for item, (v, _order) in zip(items, paper):
            a, b = _item_parameters(v.question.code, v.difficulty)
            if rng.random() < _p_right(theta, a, b):
                choice = list(v.correct)
            else:
                wrong = [i for i in range(len(v.options)) if i not in v.correct]
                choice = sorted(rng.sample(wrong, 1)) if v.kind != "multiple" or rng.random() < 0.5 \
                    else sorted(v.correct[:1] + wrong[:1])
            events.append(AnswerEvent(item=item, choice=choice, client_seq=item.position,
                                      saved_at=started_at + timedelta(seconds=SECONDS_PER_ANSWER * item.position)))
        AnswerEvent.objects.bulk_create(events)
    submitted = started_at + timedelta(seconds=SECONDS_PER_ANSWER * (len(items) + 2))
    return attempts.submit(user, attempt, now=submitted)


def load(stdout=None) -> int:
    """Returns the number of attempts added (0 when the history is there already)."""
    from courses import api as courses_api
    from courses.models import Programme

    from .models import Attempt, Blueprint

    write = stdout.write if stdout else (lambda s: None)
    programme = Programme.objects.filter(code=PROGRAMME_CODE).first()
    blueprint = programme and Blueprint.objects.filter(programme=programme, is_active=True).first()
    if blueprint is None:
        write("exam analytics demo: no active blueprint, skipped\n")
        return 0
    now = timezone.now()
    classes = _classes(programme, timezone.localdate())
    lessons = courses_api.lessons_of(programme)
    added = 0
    for c, (klass, region, mean) in enumerate(classes):
        for i in range(PER_CLASS):
            n = c * PER_CLASS + i
            rng = random.Random(SEED + n)
            username = f"fx_{klass.code.lower()}_{i + 1:02d}"
            name = SURNAMES[n % len(SURNAMES)] + GIVEN[(n * 7) % len(GIVEN)]
            with transaction.atomic():
                user = _trainee(username, name, region, klass.training_base)
                if Attempt.objects.filter(user=user, blueprint=blueprint).exists():
                    continue
                first_at = now - timedelta(days=3, hours=-(i % 8), minutes=rng.randrange(0, 50))
                _theory_done(user, klass, lessons, first_at - timedelta(days=2))
            theta = rng.gauss(mean, 0.9)
            for number in range(1, blueprint.attempts_allowed + 1):
                attempt = _sit(user, blueprint, number, theta, first_at + timedelta(days=number - 1), rng)
                added += 1
                if attempt.passed:
                    break
                theta += 0.6  # studied again before the retake
    write(f"exam analytics demo: {len(classes)} classes × {PER_CLASS} trainees, {added} attempts added\n")
    return added
