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


def _eligible(rule: BlueprintRule) -> list[QuestionVersion]:
    qs = (QuestionVersion.objects
          .filter(question__module_id=rule.module_id, question__is_active=True, question__current=F("pk"),
                  difficulty=rule.difficulty)
          .select_related("question").order_by("question_id"))
    return list(qs)


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
    by_module: dict[int, list[QuestionVersion]] = defaultdict(list)
    problems = []
    for rule in rules:
        pool = _eligible(rule)
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
    paper: list[tuple[QuestionVersion, list[int]]] = []
    for module_id in sorted(by_module, key=lambda m: (rank.get(m, len(rank)), m)):
        versions = by_module[module_id]
        rng.shuffle(versions)
        paper.extend((v, option_order_for(v, rng)) for v in versions)
    return paper
