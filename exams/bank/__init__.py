"""Question banks as data, and their validation.

A bank is a list of question dicts (see ``exams.bank.first_aider`` for the 救护员 bank)::

    {"code": "JHY-CPR-001", "module": "cpr-aed", "lesson": "high-quality-cpr",
     "kind": "single" | "multiple" | "true_false", "difficulty": 1 | 2 | 3,
     "stem": "成人胸外按压的深度应为（　）。",
     "options": ["3～4 厘米", "4～5 厘米", "5～6 厘米", "6～7 厘米"],   # not for true_false
     "answer": [2],                    # 0-based option indices; True or False for true_false
     "explanation": "…", "tags": ["胸外按压"]}

``validate(questions)`` returns every problem found (an empty list means the bank is sound); it checks
module and lesson slugs against the course data in ``content.course`` (no database needed).
``first_aider()`` returns the 救护员 bank, validated.
"""

from __future__ import annotations

import copy
import re

KINDS = ("single", "multiple", "true_false")
DIFFICULTIES = (1, 2, 3)
REQUIRED_FIELDS = ("code", "module", "lesson", "kind", "difficulty", "stem", "answer", "explanation", "tags")
OPTIONAL_FIELDS = ("options",)
SINGLE_OPTIONS = 4
MULTIPLE_OPTIONS = (4, 5)
BLANK = "（　）"  # full-width parentheses around an ideographic space

# Code prefix of each module of the 救护员 course: JHY-<prefix>-<3 digits>.
CODE_PREFIXES = {
    "overview": "OVW",
    "cpr-aed": "CPR",
    "airway-obstruction": "AIR",
    "bleeding-bandaging": "BLD",
    "fracture-transport": "FRX",
    "medical-emergencies": "EMG",
    "accidents": "ACC",
}
CODE_RE = re.compile(r"^JHY-([A-Z]{3})-(\d{3})$")

# As the bank's import (exams.questions) accepts them: tags are separated by these in XLSX cells.
TAG_SEPARATORS_RE = re.compile(r"[、,，;；]")
TAG_MAX_LENGTH = 32
MAX_TAGS = 10

CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
HALF_WIDTH_PUNCTUATION = ",;:?!()"
# Options that point at other options ("以上都对") break when a paper shuffles the options.
POSITIONAL_OPTION_RE = re.compile(r"以上(都|均|皆|全)|都不(对|正确)|全部(正确|错误)|A和B|A、B")


def course_lessons() -> dict[str, set[str]]:
    """Module slug -> its lesson slugs, from the course data (``content.course``)."""
    from content.course import modules

    return {module["slug"]: {lesson["slug"] for lesson in module["lessons"]} for module in modules()}


def _half_width_problems(label: str, text: str) -> list[str]:
    if not isinstance(text, str) or not CJK_RE.search(text):
        return []
    found = sorted({ch for ch in text if ch in HALF_WIDTH_PUNCTUATION})
    if not found:
        return []
    return [f"{label}: half-width punctuation {' '.join(found)} in Chinese text (use full-width)"]


def _check_question(n: int, q, lessons: dict[str, set[str]]) -> list[str]:
    if not isinstance(q, dict):
        return [f"#{n}: not a dict"]
    where = f"#{n} {q.get('code', '?')}"
    problems = []
    for field in REQUIRED_FIELDS:
        if field not in q:
            problems.append(f"{where}: missing field {field!r}")
    for field in q:
        if field not in REQUIRED_FIELDS and field not in OPTIONAL_FIELDS:
            problems.append(f"{where}: unknown field {field!r}")

    code = q.get("code")
    if "code" in q:
        match = CODE_RE.match(code) if isinstance(code, str) else None
        if not match:
            problems.append(f"{where}: code {code!r} is not like JHY-CPR-001")
        elif q.get("module") in CODE_PREFIXES and match.group(1) != CODE_PREFIXES[q["module"]]:
            problems.append(f"{where}: code prefix {match.group(1)} does not match module {q['module']!r} "
                            f"({CODE_PREFIXES[q['module']]})")

    module, lesson = q.get("module"), q.get("lesson")
    if "module" in q and module not in lessons:
        problems.append(f"{where}: unknown module slug {module!r}")
    elif "lesson" in q and lesson not in lessons.get(module, ()):
        problems.append(f"{where}: unknown lesson slug {lesson!r} in module {module!r}")

    kind = q.get("kind")
    if "kind" in q and kind not in KINDS:
        problems.append(f"{where}: wrong kind {kind!r} (one of {', '.join(KINDS)})")
    difficulty = q.get("difficulty")
    if "difficulty" in q and (isinstance(difficulty, bool) or difficulty not in DIFFICULTIES):
        problems.append(f"{where}: difficulty {difficulty!r} is not 1, 2 or 3")

    stem = q.get("stem")
    if "stem" in q:
        if not isinstance(stem, str) or not stem.strip():
            problems.append(f"{where}: empty stem")
        else:
            problems += _half_width_problems(f"{where} stem", stem)
            if kind in ("single", "multiple") and BLANK not in stem:
                problems.append(f"{where}: a choice question's stem needs the blank {BLANK}")
            if kind == "true_false" and BLANK in stem:
                problems.append(f"{where}: a true/false stem is a statement, without the blank {BLANK}")

    explanation = q.get("explanation")
    if "explanation" in q:
        if not isinstance(explanation, str) or not explanation.strip():
            problems.append(f"{where}: empty explanation")
        else:
            problems += _half_width_problems(f"{where} explanation", explanation)

    tags = q.get("tags")
    if "tags" in q:
        if not isinstance(tags, list) or not tags or not all(isinstance(t, str) and t.strip() for t in tags):
            problems.append(f"{where}: tags must be a non-empty list of non-empty strings")
        else:
            if len(tags) > MAX_TAGS:
                problems.append(f"{where}: more than {MAX_TAGS} tags")
            if len(set(tags)) != len(tags):
                problems.append(f"{where}: duplicate tag")
            for tag in tags:
                problems += _half_width_problems(f"{where} tag", tag)
                if TAG_SEPARATORS_RE.search(tag):
                    problems.append(f"{where}: tag {tag!r} contains a separator (、，；,;)")
                if len(tag) > TAG_MAX_LENGTH:
                    problems.append(f"{where}: tag {tag!r} is longer than {TAG_MAX_LENGTH} characters")

    answer = q.get("answer")
    options = q.get("options")
    if kind == "true_false":
        if "options" in q:
            problems.append(f"{where}: a true/false question has no options")
        if "answer" in q and not isinstance(answer, bool):
            problems.append(f"{where}: a true/false answer is True or False, not {answer!r}")
    elif kind in ("single", "multiple"):
        if "options" not in q:
            problems.append(f"{where}: missing field 'options'")
        elif not isinstance(options, list) or not all(isinstance(o, str) and o.strip() for o in options):
            problems.append(f"{where}: options must be a list of non-empty strings")
            options = None
        else:
            wanted = (SINGLE_OPTIONS,) if kind == "single" else MULTIPLE_OPTIONS
            if len(options) not in wanted:
                problems.append(f"{where}: {kind} needs {' or '.join(map(str, wanted))} options, has {len(options)}")
            if len(set(o.strip() for o in options)) != len(options):
                problems.append(f"{where}: duplicate option")
            for i, option in enumerate(options):
                problems += _half_width_problems(f"{where} option {i}", option)
                if POSITIONAL_OPTION_RE.search(option):
                    problems.append(f"{where}: option {i} refers to other options (papers shuffle them)")
        if "answer" in q:
            if not isinstance(answer, list) or not all(isinstance(a, int) and not isinstance(a, bool)
                                                       for a in answer):
                problems.append(f"{where}: answer must be a list of option indices")
            else:
                if len(set(answer)) != len(answer):
                    problems.append(f"{where}: repeated answer index")
                if isinstance(options, list):
                    bad = [a for a in answer if not 0 <= a < len(options)]
                    if bad:
                        problems.append(f"{where}: answer index out of range: {bad}")
                if kind == "single" and len(answer) != 1:
                    problems.append(f"{where}: single choice needs exactly 1 answer, has {len(answer)}")
                if kind == "multiple" and len(set(answer)) < 2:
                    problems.append(f"{where}: multiple choice needs at least 2 answers, has {len(set(answer))}")
    return problems


def validate(questions, lessons: dict[str, set[str]] | None = None) -> list[str]:
    """Every problem found in a bank (empty when it is sound). ``lessons``: module slug -> lesson slugs
    (default: the 救护员 course data)."""
    if lessons is None:
        lessons = course_lessons()
    problems = []
    seen_codes: dict[str, int] = {}
    seen_stems: dict[str, int] = {}
    for n, q in enumerate(questions, start=1):
        problems += _check_question(n, q, lessons)
        if not isinstance(q, dict):
            continue
        code = q.get("code")
        if isinstance(code, str):
            if code in seen_codes:
                problems.append(f"#{n} {code}: duplicate code (also #{seen_codes[code]})")
            seen_codes.setdefault(code, n)
        stem = q.get("stem")
        if isinstance(stem, str) and stem.strip():
            key = re.sub(r"\s+", "", stem)
            if key in seen_stems:
                problems.append(f"#{n} {code}: duplicate stem (also #{seen_stems[key]})")
            seen_stems.setdefault(key, n)
    return problems


class BankError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("question bank has problems:\n" + "\n".join(problems))


def first_aider() -> list[dict]:
    """The 救护员 bank (all modules in course order), validated; raises ``BankError`` listing every problem."""
    from exams.bank.first_aider import QUESTIONS

    problems = validate(QUESTIONS)
    if problems:
        raise BankError(problems)
    return copy.deepcopy(QUESTIONS)
