"""The question bank: saving (with versioning), retiring, and who may manage it.

Rules (also in ``exams/models.py``):

- A question's content (kind, difficulty, stem, options, correct answer, explanation, tags) lives in
  a ``QuestionVersion``. Saving content equal to the current version's makes no new version (the
  code and module, which belong to the ``Question``, may still change).
- A version that any ``PaperItem`` uses is never changed: saving different content makes version
  n+1 and moves ``Question.current`` to it (papers already drawn keep theirs). An unused current
  version is changed in place.
- Retiring a question (``is_active=False``) keeps it and its versions (attempts point to them); it
  is no longer drawn for new papers.

Who: system admins and province-level region admins (``can_manage_bank``); ``actor=None`` is the
system itself (demo data, imports run by code). Errors are ``ValidationError`` (bad input, nothing
stored) or ``PermissionDenied``.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from lms import audit
from lms.models import Region
from lms.permissions import administered_regions, is_system_admin

from .models import CODE_MAX_LENGTH, MAX_OPTIONS, TRUE_FALSE_OPTIONS, Difficulty, Kind, Question, QuestionVersion

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
STEM_MAX_LENGTH = 2000
OPTION_MAX_LENGTH = 500
EXPLANATION_MAX_LENGTH = 4000
TAG_MAX_LENGTH = 32
MAX_TAGS = 10
TAG_FORBIDDEN = re.compile(r"[、,，;；]")
CONTENT_FIELDS = ("kind", "difficulty", "stem", "options", "correct", "explanation", "tags")


# ---------------------------------------------------------------- permission


def can_manage_bank(user) -> bool:
    """System admins and admins of a province (the bank and blueprints are province-wide)."""
    if is_system_admin(user):
        return True
    return any(r.level == Region.Level.PROVINCE or r.depth == 1 for r in administered_regions(user))


def require_bank_manager(actor) -> None:
    """``PermissionDenied`` unless ``actor`` may manage the bank (``None``: the system itself, allowed)."""
    if actor is None:
        return
    if not can_manage_bank(actor):
        raise PermissionDenied(_("Only system admins and province admins manage the question bank."))


# ---------------------------------------------------------------- validation


def _module_page(module):
    from content.models import ModulePage

    if isinstance(module, ModulePage):
        return module
    if module is not None and hasattr(module, "specific") and isinstance(module.specific, ModulePage):
        return module.specific
    raise ValidationError(_("Choose a module of the course."))


def clean_content(*, kind, difficulty, stem, options, correct, explanation, tags) -> dict[str, Any]:
    """The normalised content of a version, or ``ValidationError`` listing every problem."""
    errors: list[str] = []
    kind = str(kind or "")
    if kind not in Kind.values:
        errors.append(_("The kind must be single choice, multiple choice or true/false."))
    try:
        difficulty = int(difficulty)
    except (TypeError, ValueError):
        difficulty = None
    if difficulty not in Difficulty.values:
        errors.append(_("The difficulty must be easy, medium or hard."))
        difficulty = None
    stem = (stem or "").strip()
    if not stem:
        errors.append(_("The question text (stem) is empty."))
    elif len(stem) > STEM_MAX_LENGTH:
        errors.append(_("The question text is longer than %(n)s characters.") % {"n": STEM_MAX_LENGTH})
    explanation = (explanation or "").strip()
    if not explanation:
        errors.append(_("Every question needs an explanation."))
    elif len(explanation) > EXPLANATION_MAX_LENGTH:
        errors.append(_("The explanation is longer than %(n)s characters.") % {"n": EXPLANATION_MAX_LENGTH})

    options = [str(o).strip() if o is not None else "" for o in (options or [])]
    if kind == Kind.TRUE_FALSE:
        if options and options != TRUE_FALSE_OPTIONS:
            errors.append(_("A true/false question has the options 正确 and 错误 only."))
        options = list(TRUE_FALSE_OPTIONS)
    else:
        while options and not options[-1]:
            options.pop()  # trailing empty option cells
        if len(options) < 2:
            errors.append(_("A choice question needs at least two options."))
        elif len(options) > MAX_OPTIONS:
            errors.append(_("A question has at most %(n)s options.") % {"n": MAX_OPTIONS})
        if any(not o for o in options):
            errors.append(_("An option is empty (options are filled from A on, without gaps)."))
        if any(len(o) > OPTION_MAX_LENGTH for o in options):
            errors.append(_("An option is longer than %(n)s characters.") % {"n": OPTION_MAX_LENGTH})
        if len({o for o in options if o}) != len([o for o in options if o]):
            errors.append(_("Two options have the same text."))

    try:
        indices = [int(i) for i in (correct or [])]
        if any(isinstance(i, bool) for i in (correct or [])):
            raise TypeError
    except (TypeError, ValueError):
        indices = None
        errors.append(_("The answer must name options."))
    if indices is not None:
        if len(set(indices)) != len(indices):
            errors.append(_("The answer names an option twice."))
        if any(i < 0 or i >= len(options) for i in indices):
            errors.append(_("The answer names an option the question does not have."))
        indices = sorted(set(indices))
        if kind in (Kind.SINGLE, Kind.TRUE_FALSE) and len(indices) != 1:
            errors.append(_("A single choice or true/false question has exactly one correct answer."))
        if kind == Kind.MULTIPLE and len(indices) < 2:
            errors.append(_("A multiple choice question has at least two correct answers."))

    clean_tags: list[str] = []
    for t in tags or []:
        t = str(t).strip()
        if not t or t in clean_tags:
            continue
        if TAG_FORBIDDEN.search(t):
            errors.append(_("A tag may not contain 、 , or ; (they separate tags)."))
        if len(t) > TAG_MAX_LENGTH:
            errors.append(_("A tag is longer than %(n)s characters.") % {"n": TAG_MAX_LENGTH})
        clean_tags.append(t)
    if len(clean_tags) > MAX_TAGS:
        errors.append(_("A question has at most %(n)s tags.") % {"n": MAX_TAGS})
    if errors:
        raise ValidationError(errors)
    return {"kind": kind, "difficulty": difficulty, "stem": stem, "options": options, "correct": indices,
            "explanation": explanation, "tags": clean_tags}


def clean_code(code) -> str:
    code = (code or "").strip()
    if not code:
        raise ValidationError(_("The question code is empty."))
    if len(code) > CODE_MAX_LENGTH or not CODE_RE.match(code):
        raise ValidationError(_("The question code has letters, digits and hyphens only, at most %(n)s "
                                "characters (e.g. JHY-CPR-001).") % {"n": CODE_MAX_LENGTH})
    return code


def content_of(version: QuestionVersion) -> dict[str, Any]:
    return {f: getattr(version, f) for f in CONTENT_FIELDS}


# ---------------------------------------------------------------- operations


def save_question(actor, *, code, module, kind, difficulty, stem, options, correct, explanation, tags,
                  question: Question | None = None) -> QuestionVersion:
    """Create a question, or change ``question``; returns its current version after the save.

    Versioning as in the module docstring. A new question's code must be unused. Audited as
    ``exams.question_created``, ``exams.question_changed`` (in place or code/module only) or
    ``exams.question_versioned`` (a new version because the old one is in use).
    """
    require_bank_manager(actor)
    code = clean_code(code)
    module = _module_page(module)
    content = clean_content(kind=kind, difficulty=difficulty, stem=stem, options=options, correct=correct,
                            explanation=explanation, tags=tags)
    with transaction.atomic():
        clash = Question.objects.filter(code__iexact=code)
        if question is not None:
            clash = clash.exclude(pk=question.pk)
        if clash.exists():
            raise ValidationError(_("Another question already has the code %(code)s.") % {"code": code})
        if question is None:
            try:
                with transaction.atomic():
                    question = Question.objects.create(code=code, module=module)
            except IntegrityError:  # the same code saved at the same moment by someone else
                raise ValidationError(_("Another question already has the code %(code)s.") % {"code": code}) from None
            version = QuestionVersion.objects.create(question=question, number=1, created_by=_user(actor), **content)
            question.current = version
            question.save(update_fields=["current"])
            audit.record(actor, "exams.question_created", question,
                         after={"code": code, "module": module.pk, "version": 1, **content})
            return version

        question = Question.objects.select_for_update().get(pk=question.pk)
        before_q = {"code": question.code, "module": question.module_id}
        version = question.current
        changed_q = before_q != {"code": code, "module": module.pk}
        if changed_q:
            question.code, question.module = code, module
            question.save(update_fields=["code", "module"])
        if version is not None and content_of(version) == content:
            if changed_q:
                audit.record(actor, "exams.question_changed", question, before=before_q,
                             after={"code": code, "module": module.pk})
            return version
        if version is None or version.paper_items.exists():
            number = (question.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
            new = QuestionVersion.objects.create(question=question, number=number, created_by=_user(actor), **content)
            question.current = new
            question.save(update_fields=["current"])
            audit.record(actor, "exams.question_versioned", question,
                         before={**before_q, "version": version.number if version else None,
                                 **(content_of(version) if version else {})},
                         after={"code": code, "module": module.pk, "version": number, **content})
            return new
        before = content_of(version)
        for f, v in content.items():
            setattr(version, f, v)
        version.save(update_fields=list(CONTENT_FIELDS))
        audit.record(actor, "exams.question_changed", question,
                     before={**before_q, "version": version.number, **before},
                     after={"code": code, "module": module.pk, "version": version.number, **content})
        return version


def retire_question(actor, question: Question) -> Question:
    """Stop drawing ``question`` for new papers (it and its versions are kept). Idempotent."""
    return _set_active(actor, question, False)


def restore_question(actor, question: Question) -> Question:
    """Draw a retired question again. Idempotent."""
    return _set_active(actor, question, True)


def _set_active(actor, question: Question, active: bool) -> Question:
    require_bank_manager(actor)
    with transaction.atomic():
        question = Question.objects.select_for_update().get(pk=question.pk)
        if question.is_active != active:
            question.is_active = active
            question.save(update_fields=["is_active"])
            audit.record(actor, "exams.question_restored" if active else "exams.question_retired", question,
                         before={"is_active": not active}, after={"is_active": active})
    return question


def _user(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None
