"""Demo data for the exams: the 救护员 question bank and the 救护员取证 exam blueprint.

``load(stdout)`` runs after the course demo (``content.course.load.load_demo``): it saves every
question of ``exams.bank.first_aider()`` through ``save_question`` (the same code and content
changes nothing, so running it again is a no-op; a question whose text changed in the data gets
its new content, as a new version if attempts used the old one) and makes the programme's
blueprint if it has none (an existing one is left as an admin may have changed it, except that a
demo window that has closed is opened again).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

PROGRAMME_CODE = "first-aider"
BLUEPRINT_NAME = "救护员取证理论考试"
WINDOW_DAYS = 90

# 50 questions weighted like the modules' credits (CPR and AED most): module slug -> (易, 中, 难).
RULES = {
    "overview": (2, 2, 1),
    "cpr-aed": (3, 5, 2),
    "airway-obstruction": (2, 2, 1),
    "bleeding-bandaging": (3, 3, 2),
    "fracture-transport": (2, 4, 1),
    "medical-emergencies": (3, 3, 2),
    "accidents": (2, 3, 2),
}
SETTINGS = {"time_limit_s": 45 * 60, "pass_mark_pct": Decimal("80"), "attempts_allowed": 3,
            "wait_between_attempts_s": 3600, "show_explanations": True, "leave_limit": 5}


def _question_fields(q: dict, pages: dict) -> dict:
    if q["kind"] == "true_false":
        options, correct = [], [0 if q["answer"] is True else 1]
    else:
        options, correct = q["options"], q["answer"]
    return {"code": q["code"], "module": pages[q["module"]], "kind": q["kind"], "difficulty": q["difficulty"],
            "stem": q["stem"], "options": options, "correct": correct, "explanation": q["explanation"],
            "tags": q["tags"]}


def bank_questions() -> list[dict]:
    """``exams.bank.first_aider()``, validated. (Not ``from exams.bank import first_aider``: once the
    subpackage ``exams.bank.first_aider`` is imported, that name on the package is the subpackage.)"""
    from .bank import BankError, validate
    from .bank.first_aider import QUESTIONS

    problems = validate(QUESTIONS)
    if problems:
        raise BankError(problems)
    return QUESTIONS


def load_bank(pages: dict) -> dict[str, int]:
    """Save the 救护员 bank; returns how many questions were created, changed or left as they were."""
    from .models import Question
    from .questions import content_of, save_question

    existing = {q.code: q for q in Question.objects.select_related("current")}
    counts = {"created": 0, "changed": 0, "unchanged": 0}
    for q in bank_questions():
        question = existing.get(q["code"])
        before = (content_of(question.current), question.module_id) if question and question.current else None
        v = save_question(None, question=question, **_question_fields(q, pages))
        if before is None:
            counts["created"] += 1
        elif before == (content_of(v), v.question.module_id) and v.pk == question.current_id:
            counts["unchanged"] += 1
        else:
            counts["changed"] += 1
    return counts


def load_blueprint(programme, pages: dict, now=None):
    """The programme's demo blueprint: made if missing; a closed demo window is opened again."""
    from .models import Blueprint
    from .papers import save_blueprint

    now = now or timezone.now()
    rules = [{"module": pages[slug], "difficulty": d, "count": n}
             for slug, counts in RULES.items() for d, n in zip((1, 2, 3), counts) if n]
    bp = Blueprint.objects.filter(programme=programme, name=BLUEPRINT_NAME).first()
    if bp is not None and (bp.closes_at is None or bp.closes_at > now):
        return bp
    active = Blueprint.objects.filter(programme=programme, is_active=True).exclude(pk=getattr(bp, "pk", None))
    return save_blueprint(None, blueprint=bp, programme=programme, name=BLUEPRINT_NAME, rules=rules,
                          is_active=not active.exists(), opens_at=now - timedelta(days=1),
                          closes_at=now + timedelta(days=WINDOW_DAYS), **SETTINGS)


def load(stdout=None):
    from content.models import ModulePage
    from courses.models import Programme

    write = stdout.write if stdout else (lambda s: None)
    programme = Programme.objects.select_related("course_page").get(code=PROGRAMME_CODE)
    pages = {p.slug: p for p in ModulePage.objects.child_of(programme.course_page)}
    with transaction.atomic():
        counts = load_bank(pages)
        bp = load_blueprint(programme, pages)
    total = sum(r.count for r in bp.rules.all())
    write(f"question bank: {counts['created']} new, {counts['changed']} changed, {counts['unchanged']} unchanged\n")
    write(f"exam: {bp.name} · {total} questions · {bp.time_limit_s // 60} min · pass {bp.pass_mark_pct}% · "
          f"open until {timezone.localtime(bp.closes_at):%Y-%m-%d}\n")
    return bp
