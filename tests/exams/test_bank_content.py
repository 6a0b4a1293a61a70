"""The 救护员 question bank as data (exams.bank): sound, big enough, balanced, tied to the course, and a
validator that catches every kind of mistake. Plain data: no database."""

from __future__ import annotations

import copy
import re
from collections import Counter

import pytest

from content.course import modules
from exams import bank
from exams.bank import BankError, course_lessons, first_aider, validate
from exams.bank.first_aider import MODULE_ORDER, QUESTIONS

MINIMUM_PER_MODULE = {
    "overview": 18,
    "cpr-aed": 40,
    "airway-obstruction": 18,
    "bleeding-bandaging": 22,
    "fracture-transport": 18,
    "medical-emergencies": 20,
    "accidents": 20,
}


def by_code(questions, code):
    return next(q for q in questions if q["code"] == code)


# ---------------------------------------------------------------- the real bank


def test_the_real_bank_has_no_problems():
    assert validate(QUESTIONS) == []
    loaded = first_aider()
    assert [q["code"] for q in loaded] == [q["code"] for q in QUESTIONS]
    assert len(loaded) >= 156


def test_first_aider_returns_a_copy_the_caller_may_change():
    loaded = first_aider()
    loaded[0]["options"].append("改动")
    loaded[0]["stem"] = "改动"
    assert "改动" not in QUESTIONS[0]["options"] and QUESTIONS[0]["stem"] != "改动"


def test_first_aider_refuses_a_broken_bank(monkeypatch):
    broken = copy.deepcopy(QUESTIONS)
    broken[1]["explanation"] = ""
    monkeypatch.setattr("exams.bank.first_aider.QUESTIONS", broken)
    with pytest.raises(BankError) as caught:
        first_aider()
    assert caught.value.problems == [f"#2 {broken[1]['code']}: empty explanation"]


def test_module_order_is_the_course_order_and_questions_follow_it():
    assert list(MODULE_ORDER) == [m["slug"] for m in modules()]
    positions = [MODULE_ORDER.index(q["module"]) for q in QUESTIONS]
    assert positions == sorted(positions)


def test_every_module_and_lesson_slug_exists_in_the_course_data():
    lessons = {m["slug"]: [lesson["slug"] for lesson in m["lessons"]] for m in modules()}
    for q in QUESTIONS:
        assert q["module"] in lessons, q["code"]
        assert q["lesson"] in lessons[q["module"]], q["code"]
    # and every lesson of the course is examined
    examined = {(q["module"], q["lesson"]) for q in QUESTIONS}
    assert examined == {(m, lesson) for m, ls in lessons.items() for lesson in ls}


def test_counts_per_module_and_difficulty():
    per_module = Counter(q["module"] for q in QUESTIONS)
    for module, minimum in MINIMUM_PER_MODULE.items():
        assert per_module[module] >= minimum, module
        difficulties = Counter(q["difficulty"] for q in QUESTIONS if q["module"] == module)
        assert difficulties[1] >= 5 and difficulties[2] >= 5 and difficulties[3] >= 3, (module, difficulties)
    assert set(per_module) == set(MINIMUM_PER_MODULE)
    assert sum(per_module.values()) >= 156


def test_kinds_are_about_sixty_twenty_twenty():
    kinds = Counter(q["kind"] for q in QUESTIONS)
    share = {kind: kinds[kind] / len(QUESTIONS) for kind in bank.KINDS}
    assert 0.50 <= share["single"] <= 0.70, share
    assert 0.15 <= share["multiple"] <= 0.27, share
    assert 0.15 <= share["true_false"] <= 0.27, share
    for module in MODULE_ORDER:  # every module has every kind
        assert {q["kind"] for q in QUESTIONS if q["module"] == module} == set(bank.KINDS), module


def test_answer_positions_are_varied():
    singles = [q for q in QUESTIONS if q["kind"] == "single"]
    positions = Counter(q["answer"][0] for q in singles)
    for position in range(4):
        assert 0.15 <= positions[position] / len(singles) <= 0.35, positions
    true_false = Counter(q["answer"] for q in QUESTIONS if q["kind"] == "true_false")
    assert min(true_false[True], true_false[False]) >= 0.35 * sum(true_false.values()), true_false
    multiples = [q for q in QUESTIONS if q["kind"] == "multiple"]
    wrong_last = [q for q in multiples if q["answer"] == list(range(len(q["answer"])))]
    assert len(wrong_last) <= len(multiples) / 3, [q["code"] for q in wrong_last]
    wrong_positions = Counter(i for q in multiples for i in range(len(q["options"])) if i not in q["answer"])
    assert len(wrong_positions) >= 4, wrong_positions


def test_key_facts_of_the_course():
    """The numbers a first-aider must know, as the course teaches them."""
    def right(code):
        q = by_code(QUESTIONS, code)
        return [q["options"][i] for i in q["answer"]] if q["kind"] != "true_false" else q["answer"]

    assert right("JHY-CPR-013") == ["5～6 厘米"]
    assert right("JHY-CPR-014") == ["100～120 次/分"]
    assert right("JHY-CPR-015") == ["30∶2"]
    assert right("JHY-CPR-019") == ["10 秒"]
    assert right("JHY-ACC-001") == ["20 分钟"]
    assert "先进行 5 次人工呼吸" in right("JHY-ACC-015")[0]
    assert right("JHY-BLD-010") == ["直接压迫止血"]
    assert right("JHY-ACC-023") is True  # cut the power first
    assert right("JHY-EMG-030") == ["往嘴里塞毛巾或筷子，防止咬伤舌头", "掐人中", "喂水喂药"]


def test_texts_use_full_width_punctuation_and_the_blank():
    for q in QUESTIONS:
        texts = [q["stem"], q["explanation"], *q.get("options", []), *q["tags"]]
        for text in texts:
            assert not set(text) & set(",;:?!()") or not bank.CJK_RE.search(text), (q["code"], text)
        if q["kind"] != "true_false":
            assert q["stem"].count("（　）") == 1, q["code"]


def test_explanations_are_one_to_three_sentences():
    for q in QUESTIONS:
        sentences = len(re.findall(r"[。！？](?!”)", q["explanation"]))
        assert 1 <= sentences <= 3 and q["explanation"].endswith("。"), q["code"]


# ---------------------------------------------------------------- the validator on broken copies


def _single(questions):
    return next(q for q in questions if q["kind"] == "single")


def _multiple(questions):
    return next(q for q in questions if q["kind"] == "multiple")


def _true_false(questions):
    return next(q for q in questions if q["kind"] == "true_false")


def _missing_field(qs):
    q = _single(qs)
    del q["lesson"]
    return q, "missing field 'lesson'"


def _missing_options(qs):
    q = _single(qs)
    del q["options"]
    return q, "missing field 'options'"


def _unknown_field(qs):
    q = _single(qs)
    q["anwser"] = [0]
    return q, "unknown field 'anwser'"


def _wrong_kind(qs):
    q = _true_false(qs)
    q["kind"] = "truefalse"
    return q, "wrong kind 'truefalse'"


def _wrong_difficulty(qs):
    q = _single(qs)
    q["difficulty"] = 4
    return q, "difficulty 4 is not 1, 2 or 3"


def _answer_out_of_range(qs):
    q = _single(qs)
    q["answer"] = [4]
    return q, "answer index out of range: [4]"


def _single_with_two_answers(qs):
    q = _single(qs)
    q["answer"] = sorted({q["answer"][0], (q["answer"][0] + 1) % 4})
    return q, "single choice needs exactly 1 answer, has 2"


def _single_without_answer(qs):
    q = _single(qs)
    q["answer"] = []
    return q, "single choice needs exactly 1 answer, has 0"


def _multiple_with_one_answer(qs):
    q = _multiple(qs)
    q["answer"] = q["answer"][:1]
    return q, "multiple choice needs at least 2 answers, has 1"


def _true_false_answer_not_bool(qs):
    q = _true_false(qs)
    q["answer"] = [0]
    return q, "a true/false answer is True or False"


def _true_false_with_options(qs):
    q = _true_false(qs)
    q["options"] = ["正确", "错误"]
    return q, "a true/false question has no options"


def _single_with_three_options(qs):
    q = _single(qs)
    right = q["options"][q["answer"][0]]
    q["options"] = [right] + [o for o in q["options"] if o != right][:2]
    q["answer"] = [0]
    return q, "single needs 4 options, has 3"


def _duplicate_option(qs):
    q = _multiple(qs)
    q["options"][-1] = q["options"][0]
    return q, "duplicate option"


def _duplicate_code(qs):
    first, q = qs[0], qs[5]
    q["code"] = first["code"]
    return q, "duplicate code (also #1)"


def _duplicate_stem(qs):
    first, q = qs[0], qs[5]
    q["stem"] = first["stem"]
    return q, "duplicate stem (also #1)"


def _empty_explanation(qs):
    q = _single(qs)
    q["explanation"] = "  "
    return q, "empty explanation"


def _empty_stem(qs):
    q = _single(qs)
    q["stem"] = ""
    return q, "empty stem"


def _unknown_module(qs):
    q = next(q for q in qs if q["module"] == "overview")
    q["module"] = "first-aid-basics"
    return q, "unknown module slug 'first-aid-basics'"


def _unknown_lesson(qs):
    q = next(q for q in qs if q["module"] == "cpr-aed")
    q["lesson"] = "heimlich"  # a lesson of another module
    return q, "unknown lesson slug 'heimlich' in module 'cpr-aed'"


def _code_prefix_of_another_module(qs):
    q = next(q for q in qs if q["module"] == "accidents")
    q["code"] = "JHY-CPR-999"
    return q, "code prefix CPR does not match module 'accidents' (ACC)"


def _malformed_code(qs):
    q = _single(qs)
    q["code"] = "jhy_cpr_1"
    return q, "is not like JHY-CPR-001"


def _half_width_in_stem(qs):
    q = _single(qs)
    q["stem"] = q["stem"].replace("（　）", "( )").replace("。", "?")
    return q, "stem: half-width punctuation ( ) ? in Chinese text"


def _half_width_in_option(qs):
    q = _single(qs)
    q["options"][1] = "先止血,再固定"
    return q, "option 1: half-width punctuation , in Chinese text"


def _half_width_in_explanation(qs):
    q = _true_false(qs)
    q["explanation"] = "注意:" + q["explanation"]
    return q, "explanation: half-width punctuation : in Chinese text"


def _choice_without_blank(qs):
    q = _single(qs)
    q["stem"] = q["stem"].replace("（　）", "")
    return q, "a choice question's stem needs the blank （　）"


def _option_pointing_at_others(qs):
    q = _single(qs)
    wrong = next(i for i in range(4) if i not in q["answer"])
    q["options"][wrong] = "以上都对"
    return q, f"option {wrong} refers to other options"


def _tag_with_separator(qs):
    q = _single(qs)
    q["tags"] = ["止血、包扎"]
    return q, "contains a separator"


def _no_tags(qs):
    q = _single(qs)
    q["tags"] = []
    return q, "tags must be a non-empty list of non-empty strings"


BREAKERS = [
    _missing_field, _missing_options, _unknown_field, _wrong_kind, _wrong_difficulty, _answer_out_of_range,
    _single_with_two_answers, _single_without_answer, _multiple_with_one_answer, _true_false_answer_not_bool,
    _true_false_with_options, _single_with_three_options, _duplicate_option, _duplicate_code, _duplicate_stem,
    _empty_explanation, _empty_stem, _unknown_module, _unknown_lesson, _code_prefix_of_another_module,
    _malformed_code, _half_width_in_stem, _half_width_in_option, _half_width_in_explanation,
    _choice_without_blank, _option_pointing_at_others, _tag_with_separator, _no_tags,
]


@pytest.mark.parametrize("breaker", BREAKERS, ids=lambda f: f.__name__.strip("_"))
def test_validate_reports_each_kind_of_problem(breaker):
    broken = copy.deepcopy(QUESTIONS)
    question, expected = breaker(broken)
    problems = validate(broken)
    assert problems, breaker.__name__
    assert any(expected in p for p in problems), problems
    n = broken.index(question) + 1
    assert all(p.startswith(f"#{n} ") for p in problems), problems  # only the broken question is reported
    assert validate(QUESTIONS) == []  # the real bank is untouched


def test_validate_reports_every_problem_at_once():
    broken = copy.deepcopy(QUESTIONS)
    _empty_explanation(broken)
    _unknown_lesson(broken)
    _multiple_with_one_answer(broken)
    problems = validate(broken)
    assert len(problems) == 3
    assert validate([{"code": "JHY-OVW-001"}])[0] == "#1 JHY-OVW-001: missing field 'module'"
    assert validate(["not a question"]) == ["#1: not a dict"]


def test_validate_against_other_course_data():
    q = copy.deepcopy(_single(QUESTIONS))
    assert validate([q], lessons={q["module"]: {q["lesson"]}}) == []
    assert validate([q], lessons={"other": {"x"}}) == [f"#1 {q['code']}: unknown module slug {q['module']!r}"]
    assert course_lessons()["cpr-aed"] == {"recognise-cardiac-arrest", "high-quality-cpr", "aed"}


def test_every_question_is_accepted_by_the_bank_operations():
    """What ``exams.questions.save_question`` checks (no database touched): the demo loader can save them all."""
    from exams.models import TRUE_FALSE_OPTIONS
    from exams.questions import clean_code, clean_content

    for q in first_aider():
        if q["kind"] == "true_false":
            options, correct = TRUE_FALSE_OPTIONS, [TRUE_FALSE_OPTIONS.index("正确" if q["answer"] else "错误")]
        else:
            options, correct = q["options"], q["answer"]
        assert clean_code(q["code"]) == q["code"]
        cleaned = clean_content(kind=q["kind"], difficulty=q["difficulty"], stem=q["stem"], options=options,
                                correct=correct, explanation=q["explanation"], tags=q["tags"])
        assert cleaned["correct"] == sorted(correct) and cleaned["tags"] == q["tags"], q["code"]
