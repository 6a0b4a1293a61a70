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

from django.conf import settings
from django.db import transaction
from django.utils import timezone

PROGRAMME_CODE = "first-aider"
# username, real name, phone, how many questions of the paper they answer right (of the blueprint's count)
DEMO_EXAM_TRAINEES = [
    ("exam_passed", "吴敏", "13700008881", 0.94),
    ("exam_failed", "郑磊", "13700008882", 0.6),
]


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


def take_exam(user, blueprint, share_right: float, now=None):
    """One attempt: answer ``share_right`` of the paper right and the rest wrong, then submit."""
    from . import attempts

    now = now or timezone.now()
    attempt = attempts.start_or_resume(user, blueprint, now=now)
    items = list(attempt.items.select_related("version").order_by("position"))
    right = round(len(items) * share_right)
    for n, item in enumerate(items):
        key = attempts.displayed(item, item.version.correct)
        choice = key if n < right else [next(i for i in range(len(item.option_order)) if i not in key)]
        attempts.save_answer(user, attempt, item.position, choice, client_seq=n + 1, now=now)
    return attempts.submit(user, attempt, now=now)


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
    for username, real_name, phone, share in DEMO_EXAM_TRAINEES:
        with transaction.atomic():
            user = _person(username, real_name, phone)
            complete_theory(user, programme, training_class)
        attempt = Attempt.objects.filter(user=user, blueprint=blueprint).order_by("-number").first()
        if attempt is None:
            attempt = take_exam(user, blueprint, share)
        out.append(user)
        verdict = "passed" if attempt.passed else "not passed"
        write(f"exam trainee: {username} ({real_name}) · {blueprint.name} #{attempt.number} · "
              f"{attempt.score_pct}% · {verdict}\n")
    return out
