"""Papers obey their blueprint (a hypothesis property test) and every eligible question gets drawn (fairness)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from django.utils import translation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exams.models import Blueprint, BlueprintRule, Difficulty, Kind, Question, QuestionVersion
from exams.papers import check_blueprint, draw_paper

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in English (msgids); tests of the Chinese wording override back."""
    with translation.override("en"):
        yield

DIFFS = list(Difficulty.values)


def add_question(module, difficulty, kind, n_options, *, active=True, old_difficulty=None, code):
    """A question straight into the tables (fast setup); ``old_difficulty``: a first version with another one."""
    q = Question.objects.create(code=code, module=module, is_active=active)
    if kind == Kind.TRUE_FALSE:
        options, correct = ["正确", "错误"], [1]
    else:
        options = [f"{code}-选项{i}" for i in range(n_options)]
        correct = [0, n_options - 1] if kind == Kind.MULTIPLE else [n_options - 1]
    number = 1
    if old_difficulty is not None:
        QuestionVersion.objects.create(question=q, number=1, kind=kind, difficulty=old_difficulty, stem="旧",
                                       options=options, correct=correct, explanation="旧解析")
        number = 2
    v = QuestionVersion.objects.create(question=q, number=number, kind=kind, difficulty=difficulty, stem=f"{code}",
                                       options=options, correct=correct, explanation="解析")
    q.current = v
    q.save(update_fields=["current"])
    return q


# One bank cell: (module index, difficulty) -> list of (kind, n_options, active, old difficulty or None)
cell = st.lists(st.tuples(st.sampled_from(list(Kind.values)), st.integers(2, 5), st.booleans(),
                          st.one_of(st.none(), st.sampled_from(DIFFS))), max_size=5)
bank_strategy = st.fixed_dictionaries({(m, d): cell for m in range(4) for d in DIFFS})


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(bank=bank_strategy, data=st.data(), seed=st.integers(0, 2**32))
def test_papers_obey_the_blueprint(exam_course, bank, data, seed):
    with transaction.atomic():
        modules = exam_course.modules
        n = 0
        active = {}  # (module, difficulty) -> number of active questions with that current difficulty
        for (m, d), questions in bank.items():
            for kind, n_options, is_active, old in questions:
                n += 1
                add_question(modules[m], d, kind, n_options, active=is_active, old_difficulty=old, code=f"P-{n}")
                active[(m, d)] = active.get((m, d), 0) + int(is_active)
        fillable = [key for key, k in active.items() if k > 0]
        bp = Blueprint.objects.create(programme=exam_course.programme, name="卷")
        chosen = data.draw(st.lists(st.sampled_from(fillable), unique=True, min_size=1, max_size=len(fillable))
                           if fillable else st.just([]))
        expected = Counter()
        for m, d in chosen:
            k = data.draw(st.integers(1, active[(m, d)]))
            BlueprintRule.objects.create(blueprint=bp, module=modules[m], difficulty=d, count=k)
            expected[(modules[m].pk, d)] = k

        if not chosen:
            with pytest.raises(ValidationError):
                draw_paper(bp, random.Random(seed))
        else:
            check_blueprint(bp)
            paper = draw_paper(bp, random.Random(seed))
            # counts per module and difficulty, as the blueprint says
            got = Counter((v.question.module_id, v.difficulty) for v, _ in paper)
            assert got == expected
            # no repeated question; only active questions' current versions
            assert len({v.question_id for v, _ in paper}) == len(paper)
            for v, order in paper:
                q = Question.objects.get(pk=v.question_id)
                assert q.is_active and q.current_id == v.pk
                # option_order is a permutation; true/false is never shuffled
                assert sorted(order) == list(range(len(v.options)))
                if v.kind == Kind.TRUE_FALSE:
                    assert order == [0, 1] and [v.options[i] for i in order] == ["正确", "错误"]
                # the answer maps back: the displayed positions of the correct options name the original ones
                shown = [pos for pos, original in enumerate(order) if original in v.correct]
                assert sorted(order[pos] for pos in shown) == v.correct
            # grouped by module in programme order
            rank = {page.pk: i for i, page in enumerate(modules)}
            ranks = [rank[v.question.module_id] for v, _ in paper]
            assert ranks == sorted(ranks)

            # one more than the bank holds: a clear error naming the rule, nothing drawn
            rule = bp.rules.first()
            rule.count = active[(modules.index(rule.module), rule.difficulty)] + 1
            rule.save()
            with pytest.raises(ValidationError, match="the bank holds"):
                draw_paper(bp, random.Random(seed))
            with pytest.raises(ValidationError, match=rule.module.title):
                check_blueprint(bp)
        transaction.set_rollback(True)


def test_every_eligible_question_is_drawn_about_equally_often(exam_course):
    module = exam_course.modules[0]
    pool = [add_question(module, Difficulty.EASY, Kind.SINGLE, 4, code=f"F-{i}") for i in range(10)]
    retired = add_question(module, Difficulty.EASY, Kind.SINGLE, 4, active=False, code="F-retired")
    bp = Blueprint.objects.create(programme=exam_course.programme, name="公平")
    BlueprintRule.objects.create(blueprint=bp, module=module, difficulty=Difficulty.EASY, count=3)
    rng = random.Random(20261124)
    draws = 2000
    seen, first_shown = Counter(), Counter()
    orders = set()
    for _ in range(draws):
        paper = draw_paper(bp, rng)
        seen.update(v.question_id for v, _ in paper)
        orders.add(tuple(v.question_id for v, _ in paper))
        first_shown.update(order[0] for _, order in paper)
    assert retired.pk not in seen
    expected = draws * 3 / len(pool)  # 600 each
    # each question near its expected share (4 standard deviations ≈ ±80)
    assert all(abs(seen[q.pk] - expected) < 90 for q in pool), seen
    chi2 = sum((seen[q.pk] - expected) ** 2 / expected for q in pool)
    assert chi2 < 27.9  # chi-square, 9 degrees of freedom, p = 0.001
    # the options are shuffled: each original option is shown first about a quarter of the time
    total = draws * 3
    assert all(abs(first_shown[i] - total / 4) < total * 0.05 for i in range(4)), first_shown
    assert len(orders) > 600  # papers differ: of the 720 ordered triples about 675 are expected in 2000 draws


def test_a_short_bank_is_a_clear_error(exam_course):
    module = exam_course.modules[1]
    add_question(module, Difficulty.HARD, Kind.SINGLE, 4, code="S-1")
    bp = Blueprint.objects.create(programme=exam_course.programme, name="不够")
    BlueprintRule.objects.create(blueprint=bp, module=module, difficulty=Difficulty.HARD, count=2)
    with pytest.raises(ValidationError) as exc:
        draw_paper(bp, random.Random(1))
    assert "心肺复苏" in exc.value.messages[0] and "2" in exc.value.messages[0] and "1" in exc.value.messages[0]


def test_the_shared_exam_fixture_draws_16_questions(exam):
    paper = draw_paper(exam.blueprint, random.Random(7))
    assert len(paper) == 16
    assert [v.question.module_id for v, _ in paper][:4] == [exam.modules[0].pk] * 4


def test_the_demo_bank_and_blueprint_load_idempotently_and_draw_50_questions():
    from content.course.load import load_course, load_programmes
    from exams import demo

    course = load_course()
    programme = load_programmes(course)["first-aider"]
    bp = demo.load()
    bank = demo.bank_questions()
    assert Question.objects.count() == len(bank) >= 150
    assert all(q.current.explanation for q in Question.objects.select_related("current"))
    assert bp.is_active and bp.programme == programme and sum(r.count for r in bp.rules.all()) == 50
    assert (bp.time_limit_s, bp.pass_mark_pct, bp.attempts_allowed, bp.wait_between_attempts_s,
            bp.show_explanations, bp.leave_limit) == (2700, 80, 3, 3600, True, 5)
    assert bp.opens_at <= timezone.now() < bp.closes_at
    tf = next(q for q in bank if q["kind"] == "true_false")
    stored = Question.objects.get(code=tf["code"]).current
    assert stored.options == ["正确", "错误"] and stored.correct == [0 if tf["answer"] else 1]
    versions = list(QuestionVersion.objects.order_by("pk").values_list("pk", "stem", "correct"))
    again = demo.load()
    assert again.pk == bp.pk and Blueprint.objects.count() == 1
    assert list(QuestionVersion.objects.order_by("pk").values_list("pk", "stem", "correct")) == versions
    paper = draw_paper(bp, random.Random(3))
    assert len(paper) == 50 and len({v.question_id for v, _ in paper}) == 50
    slugs = [v.question.module.slug for v, _ in paper]
    assert slugs[:5] == ["overview"] * 5 and slugs[5:15] == ["cpr-aed"] * 10
