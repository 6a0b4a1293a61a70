"""Drawing a paper from a blueprint.

For each rule (module, difficulty, count) the paper takes ``count`` distinct active questions of
that module whose *current* version has that difficulty, sampled uniformly without replacement
(each eligible question equally likely). Questions are grouped by module in the programme's module
order (``ProgrammeModule``: segment, then order; a rule's module outside the programme comes
last) and shuffled within a module, so that two trainees side by side do not see the same
sequence. The options of choice questions are shuffled per paper; true/false options are not
(正确 stays first). ``option_order[displayed position] = original option index``.

The random source is a ``random.Random`` passed in: the attempts code seeds it from
``secrets``; tests seed it to be reproducible.
"""

from __future__ import annotations

import random
from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils.translation import gettext as _

from .models import Blueprint, BlueprintRule, Kind, Question, QuestionVersion


def _eligible_pools(rules: list[BlueprintRule]) -> dict[tuple[int, int], list[int]]:
    """(module id, difficulty) -> the ids of the current versions of the active questions there, by question
    id: one query for every rule of a blueprint, reading ids only (the drawn versions are loaded after)."""
    rows = (QuestionVersion.objects
            .filter(question__module_id__in={r.module_id for r in rules}, question__is_active=True,
                    question__current=F("pk"), difficulty__in={r.difficulty for r in rules})
            .order_by("question_id").values_list("pk", "question__module_id", "difficulty"))
    pools: dict[tuple[int, int], list[int]] = defaultdict(list)
    for pk, module_id, difficulty in rows:
        pools[(module_id, difficulty)].append(pk)
    return pools


def eligible_counts(blueprint: Blueprint) -> dict[int, int]:
    """Rule id -> how many active questions the bank holds for it."""
    return {rule.pk: _count(rule.module_id, rule.difficulty) for rule in blueprint.rules.all()}


def _count(module_id: int, difficulty: int) -> int:
    return Question.objects.filter(module_id=module_id, is_active=True, current__difficulty=difficulty).count()


def shortages(rules) -> list[str]:
    """Messages for the rules (``BlueprintRule`` or unsaved ones with ``module``, ``difficulty``, ``count``)
    the bank cannot fill; empty when every rule can be drawn."""
    out = []
    for rule in rules:
        have = _count(rule.module_id, rule.difficulty)
        if have < rule.count:
            out.append(_("%(module)s, %(difficulty)s: the rule asks for %(count)s questions, the bank holds "
                         "%(have)s active ones.") % {"module": rule.module.title,
                                                      "difficulty": rule.get_difficulty_display(),
                                                      "count": rule.count, "have": have})
    return out


def check_blueprint(blueprint: Blueprint) -> None:
    """``ValidationError`` when the blueprint has no rules or the bank cannot fill one of them."""
    rules = list(blueprint.rules.select_related("module"))
    if not rules:
        raise ValidationError(_("The blueprint has no rules: add at least one module and difficulty."))
    problems = shortages(rules)
    if problems:
        raise ValidationError(problems)


def module_order(blueprint: Blueprint) -> dict[int, int]:
    """ModulePage id -> its rank in the programme's module order."""
    from courses.models import ProgrammeModule

    ids = ProgrammeModule.objects.filter(programme_id=blueprint.programme_id).order_by(
        "segment", "order", "pk").values_list("module_page_id", flat=True)
    return {page_id: i for i, page_id in enumerate(ids)}


def option_order_for(version: QuestionVersion, rng: random.Random) -> list[int]:
    n = len(version.options)
    if version.kind == Kind.TRUE_FALSE:
        return list(range(n))
    return rng.sample(range(n), n)


def draw_paper(blueprint: Blueprint, rng: random.Random) -> list[tuple[QuestionVersion, list[int]]]:
    """The questions of a new paper and the order of their options, as the module docstring says.

    ``ValidationError`` (with every short rule named) when the bank cannot fill the blueprint.
    """
    rules = list(blueprint.rules.select_related("module").order_by("module_id", "difficulty", "pk"))
    if not rules:
        raise ValidationError(_("This exam has no questions set up yet."))
    by_module: dict[int, list[int]] = defaultdict(list)  # module id -> the drawn versions' ids
    problems = []
    pools = _eligible_pools(rules)
    for rule in rules:
        pool = pools.get((rule.module_id, rule.difficulty), [])
        if len(pool) < rule.count:
            problems.append(_("%(module)s, %(difficulty)s: the rule asks for %(count)s questions, the bank holds "
                              "%(have)s active ones.") % {"module": rule.module.title,
                                                           "difficulty": rule.get_difficulty_display(),
                                                           "count": rule.count, "have": len(pool)})
            continue
        by_module[rule.module_id].extend(rng.sample(pool, rule.count))
    if problems:
        raise ValidationError(problems)
    rank = module_order(blueprint)
    drawn = QuestionVersion.objects.select_related("question").in_bulk(
        [pk for pks in by_module.values() for pk in pks])
    paper: list[tuple[QuestionVersion, list[int]]] = []
    for module_id in sorted(by_module, key=lambda m: (rank.get(m, len(rank)), m)):
        versions = [drawn[pk] for pk in by_module[module_id]]
        rng.shuffle(versions)
        paper.extend((v, option_order_for(v, rng)) for v in versions)
    return paper


# ---------------------------------------------------------------- blueprints


def save_blueprint(actor, *, programme, name, time_limit_s, pass_mark_pct, attempts_allowed, rules,
                   wait_between_attempts_s=0, opens_at=None, closes_at=None, show_explanations=True,
                   leave_limit=None, is_active=True, blueprint: Blueprint | None = None) -> Blueprint:
    """Create or change a blueprint and replace its rules; audited as ``exams.blueprint_saved``.

    ``rules``: dicts with ``module`` (a ModulePage of the programme), ``difficulty``, ``count``
    and optionally ``points_each``. ``ValidationError`` (nothing stored) for values out of range,
    an empty or repeated rule, a module outside the programme, another active blueprint of the
    programme, or an active blueprint the bank cannot fill (every short rule is named).
    """
    from decimal import Decimal, InvalidOperation

    from django.db import transaction

    from courses.models import ProgrammeModule
    from lms import audit

    from .models import MAX_TIME_LIMIT_S, MIN_TIME_LIMIT_S, Difficulty
    from .questions import require_bank_manager

    require_bank_manager(actor)
    errors: list[str] = []
    name = (name or "").strip()
    if not name:
        errors.append(_("The blueprint needs a name."))
    if programme is None:
        errors.append(_("Choose a programme."))
    try:
        time_limit_s = int(time_limit_s)
    except (TypeError, ValueError):
        time_limit_s = 0
    if not MIN_TIME_LIMIT_S <= time_limit_s <= MAX_TIME_LIMIT_S:
        errors.append(_("The time limit is between 1 minute and 4 hours."))
    try:
        pass_mark_pct = Decimal(str(pass_mark_pct)).quantize(Decimal("0.01"))
        if not Decimal(0) <= pass_mark_pct <= Decimal(100):
            raise InvalidOperation
    except (InvalidOperation, ValueError, TypeError):
        errors.append(_("The pass mark is a percentage between 0 and 100."))
    if not isinstance(attempts_allowed, int) or attempts_allowed < 1:
        errors.append(_("At least one attempt is allowed."))
    if not isinstance(wait_between_attempts_s, int) or wait_between_attempts_s < 0:
        errors.append(_("The wait between attempts cannot be negative."))
    if leave_limit is not None and (not isinstance(leave_limit, int) or leave_limit < 0):
        errors.append(_("The leave limit cannot be negative."))
    if opens_at and closes_at and closes_at <= opens_at:
        errors.append(_("The exam must close after it opens."))
    in_programme = set()
    if programme is not None:
        in_programme = set(ProgrammeModule.objects.filter(programme=programme).values_list("module_page_id", flat=True))
    clean_rules, seen = [], set()
    for r in rules:
        module, difficulty, count = r.get("module"), r.get("difficulty"), r.get("count")
        points_each = r.get("points_each") or 1
        try:
            difficulty, count, points_each = int(difficulty), int(count), int(points_each)
        except (TypeError, ValueError):
            errors.append(_("A rule needs a module, a difficulty and a number of questions."))
            continue
        if module is None or difficulty not in Difficulty.values or count < 1 or points_each < 1:
            errors.append(_("A rule needs a module, a difficulty and a number of questions."))
            continue
        if module.pk not in in_programme:
            errors.append(_("%(module)s is not a module of this programme.") % {"module": module.title})
        if (module.pk, difficulty) in seen:
            errors.append(_("%(module)s, %(difficulty)s appears in two rules.")
                          % {"module": module.title, "difficulty": Difficulty(difficulty).label})
        seen.add((module.pk, difficulty))
        clean_rules.append(BlueprintRule(module=module, difficulty=difficulty, count=count,
                                         points_each=points_each))
    if not clean_rules and not errors:
        errors.append(_("The blueprint has no rules: add at least one module and difficulty."))
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        if is_active:
            others = Blueprint.objects.select_for_update().filter(programme=programme, is_active=True)
            if blueprint is not None:
                others = others.exclude(pk=blueprint.pk)
            other = others.first()
            if other is not None:
                raise ValidationError(_("%(programme)s already has an active blueprint (%(name)s); make that one "
                                        "inactive first.") % {"programme": programme.name, "name": other.name})
            problems = shortages(clean_rules)
            if problems:
                raise ValidationError(problems)
        values = {"programme": programme, "name": name, "is_active": is_active, "time_limit_s": time_limit_s,
                  "pass_mark_pct": pass_mark_pct, "attempts_allowed": attempts_allowed,
                  "wait_between_attempts_s": wait_between_attempts_s, "opens_at": opens_at, "closes_at": closes_at,
                  "show_explanations": show_explanations, "leave_limit": leave_limit}
        before = None
        if blueprint is None:
            blueprint = Blueprint.objects.create(**values)
        else:
            blueprint = Blueprint.objects.select_for_update().get(pk=blueprint.pk)
            before = {**_blueprint_state(blueprint)}
            for k, v in values.items():
                setattr(blueprint, k, v)
            blueprint.save()
            blueprint.rules.all().delete()
        for rule in clean_rules:
            rule.blueprint = blueprint
        BlueprintRule.objects.bulk_create(clean_rules)
        after = _blueprint_state(blueprint)
        if before != after:
            audit.record(actor, "exams.blueprint_saved", blueprint, before=before, after=after)
    return blueprint


def _blueprint_state(blueprint: Blueprint) -> dict:
    return {"programme": blueprint.programme_id, "name": blueprint.name, "is_active": blueprint.is_active,
            "time_limit_s": blueprint.time_limit_s, "pass_mark_pct": str(blueprint.pass_mark_pct),
            "attempts_allowed": blueprint.attempts_allowed,
            "wait_between_attempts_s": blueprint.wait_between_attempts_s,
            "opens_at": blueprint.opens_at.isoformat() if blueprint.opens_at else None,
            "closes_at": blueprint.closes_at.isoformat() if blueprint.closes_at else None,
            "show_explanations": blueprint.show_explanations, "leave_limit": blueprint.leave_limit,
            "rules": sorted([r.module_id, r.difficulty, r.count, r.points_each] for r in blueprint.rules.all())}
