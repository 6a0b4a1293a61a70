"""Demo trainees of the theory exam, after the bank and blueprint (``exams.demo``) are loaded.

- ``exam_passed`` (吴敏): enrolled in the demo class, theory done, one attempt submitted and passed;
- ``exam_failed`` (郑磊): enrolled in the demo class, theory done, one attempt submitted and not
  passed: the exam list shows the result and, for the blueprint's wait between attempts, when the
  next attempt opens; then they may try again.

Both have agreed to the privacy notice (as the other demo logins) and use the demo password.
Their theory is written as the study code would leave it: every lesson of the programme complete
with its time on task (``courses.LessonProgress``); the attempts go through ``exams.attempts``
(paper drawn, answers saved, graded on submit, all audited). Idempotent: a person who has an
attempt already is left as they are.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

PROGRAMME_CODE = "first-aider"
# username, real name, phone, how many questions of the paper they answer right (of the blueprint's count),
# seconds after the start at which they left the exam page and came back (staff see these per attempt)
DEMO_EXAM_TRAINEES = [
    ("exam_passed", "吴敏", "13700008881", 0.94, []),
    ("exam_failed", "郑磊", "13700008882", 0.6, [(610, 655), (1290, 1302)]),
]
SITTING = timedelta(minutes=32)  # from start to submit, inside the blueprint's 45 minutes


def _person(username: str, real_name: str, phone: str):
    from lms import api as lms_api
    from lms.demo import DEMO_PASSWORD, _region
    from lms.models import Organisation, PrivacyConsent, Role, User

    user = User.objects.filter(username=username).first()
    if user is None:
        from content.course.load import DEMO_TRAINING_BASE

        user = lms_api.create_person(
            None, username=username, real_name=real_name, region=_region("浙江省", "杭州市", "西湖区"),
            password=DEMO_PASSWORD, phone=phone, roles=[Role.TRAINEE],
            organisation=Organisation.objects.filter(name=DEMO_TRAINING_BASE).first())
    PrivacyConsent.objects.get_or_create(user=user, version=settings.PRIVACY_NOTICE_VERSION,
                                         defaults={"sensitive": True})
    return user


def complete_theory(user, programme, training_class, now=None) -> None:
    """Enrol ``user`` in ``training_class`` and record every lesson of ``programme`` as studied."""
    from courses import api as courses_api
    from courses.models import Enrolment, LessonProgress

    now = now or timezone.now()
    courses_api.enrol(None, user, training_class, source=Enrolment.Source.ADMIN)
    for lesson in courses_api.lessons_of(programme):
        seconds = max(courses_api.required_seconds(lesson), 60)
        LessonProgress.objects.update_or_create(user=user, lesson_id=lesson.pk, defaults={
            "seconds_on_task": seconds, "completed_at": now, "last_credited_at": now})


def take_exam(user, blueprint, share_right: float, leaves=(), now=None):
    """One attempt that ended a moment before ``now``: started ``SITTING`` earlier, answers given one by one
    over the sitting (``share_right`` of them right), the page left and back at ``leaves`` (seconds after
    the start), then submitted."""
    from . import attempts

    end = now or timezone.now()
    start = end - SITTING
    attempt = attempts.start_or_resume(user, blueprint, now=start)
    items = list(attempt.items.select_related("version").order_by("position"))
    right = round(len(items) * share_right)
    step = (SITTING - timedelta(minutes=1)) / max(len(items), 1)
    events = [(start + step * (n + 1), "answer", item) for n, item in enumerate(items)]
    events += [(start + timedelta(seconds=s), "left", None) for s, _ in leaves]
    events += [(start + timedelta(seconds=s), "back", None) for _, s in leaves]
    seq = 0
    for at, what, item in sorted(events, key=lambda e: e[0]):
        if what == "answer":
            seq += 1
            key = attempts.displayed(item, item.version.correct)
            choice = key if seq <= right else [next(i for i in range(len(item.option_order)) if i not in key)]
            attempts.save_answer(user, attempt, item.position, choice, client_seq=seq, now=at)
        else:
            attempts.record_leave(user, attempt, returned=what == "back", now=at)
    return attempts.submit(user, attempt, now=end)


def load(stdout=None) -> list:
    from content.course.load import DEMO_CLASS_CODE
    from courses.models import Programme, TrainingClass

    from .models import Attempt, Blueprint

    write = stdout.write if stdout else (lambda s: None)
    programme = Programme.objects.get(code=PROGRAMME_CODE)
    blueprint = Blueprint.objects.filter(programme=programme, is_active=True).first()
    training_class = TrainingClass.objects.filter(code=DEMO_CLASS_CODE).first()
    if blueprint is None or training_class is None:
        write("exam trainees: no active blueprint or demo class, skipped\n")
        return []
    out = []
    for username, real_name, phone, share, leaves in DEMO_EXAM_TRAINEES:
        with transaction.atomic():
            user = _person(username, real_name, phone)
            complete_theory(user, programme, training_class)
        attempt = Attempt.objects.filter(user=user, blueprint=blueprint).order_by("-number").first()
        if attempt is None:
            attempt = take_exam(user, blueprint, share, leaves)
        out.append(user)
        verdict = "passed" if attempt.passed else "not passed"
        write(f"exam trainee: {username} ({real_name}) · {blueprint.name} #{attempt.number} · "
              f"{attempt.score_pct}% · {verdict}\n")
    return out
