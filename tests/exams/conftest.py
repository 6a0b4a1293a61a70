"""Shared fixtures for the exams tests: a programme with modules, a question bank, a blueprint, people.

- ``exam_course``: a 救护员 course with four module pages and the programme over them
  (``ExamCourse``: ``.programme``, ``.modules`` in programme order, ``.course``); the programme
  order deliberately differs from the page order.
- ``make_question(module, ...)``: one question through ``exams.questions.save_question``.
- ``make_bank(modules, per=N)``: N questions per module and difficulty, kinds in turn.
- ``make_blueprint(programme, rules, **settings)``: a blueprint with its rules.
- ``exam``: the course, a bank of 4 per module/difficulty and an active blueprint (2 easy + 1 medium
  + 1 hard per module: 16 questions).
- ``bank_admin`` (a system admin), ``province_admin``, ``city_admin``, ``exam_trainee``, ``base``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from itertools import count

import pytest

from courses.models import Programme
from exams.models import Blueprint, BlueprintRule, Difficulty, Kind
from exams.questions import save_question
from lms.models import Role
from tests.courses.study_support import Tree, add_module, base, make_class, make_programme  # noqa: F401

MODULE_TITLES = ["心肺复苏", "创伤救护", "常见急症", "意外伤害"]


@dataclass
class ExamCourse:
    course: object
    programme: Programme
    modules: list  # ModulePage, in ProgrammeModule.order


@pytest.fixture
def exam_course(db) -> ExamCourse:
    tree = Tree()
    course = tree.course("救护员取证课程")
    pages = [tree.module(course, title) for title in MODULE_TITLES]
    programme = make_programme(code="exam-first-aider", name="救护员取证培训", course_page=course)
    # Programme order: the last page first, to tell programme order from page order.
    ordered = [pages[3], pages[0], pages[1], pages[2]]
    for i, page in enumerate(ordered):
        add_module(programme, page, order=i + 1)
    return ExamCourse(course=course, programme=programme, modules=ordered)


_codes = count(1)


@pytest.fixture
def make_question(db):
    def make(module, *, difficulty=Difficulty.MEDIUM, kind=Kind.SINGLE, code=None, actor=None, **content):
        n = next(_codes)
        if kind == Kind.TRUE_FALSE:
            options, correct = ["正确", "错误"], [n % 2]
        elif kind == Kind.MULTIPLE:
            options, correct = [f"选项{n}-{i}" for i in range(4)], [0, 2]
        else:
            options, correct = [f"选项{n}-{i}" for i in range(4)], [n % 4]
        fields = {"stem": f"第{n}题：题干", "options": options, "correct": correct,
                  "explanation": f"第{n}题的解析。", "tags": ["测试"]}
        fields.update(content)
        return save_question(actor, code=code or f"T-{n:05d}", module=module, kind=kind, difficulty=difficulty,
                             **fields).question

    return make


@pytest.fixture
def make_bank(make_question):
    kinds = [Kind.SINGLE, Kind.MULTIPLE, Kind.TRUE_FALSE]

    def make(modules, per: int = 4, difficulties=tuple(Difficulty.values)):
        out = []
        for module in modules:
            for d in difficulties:
                for i in range(per):
                    out.append(make_question(module, difficulty=d, kind=kinds[i % 3]))
        return out

    return make


@pytest.fixture
def make_blueprint(db):
    def make(programme, rules, **kw):
        kw.setdefault("name", f"{programme.name}理论考试")
        kw.setdefault("time_limit_s", 45 * 60)
        kw.setdefault("pass_mark_pct", Decimal("80"))
        kw.setdefault("attempts_allowed", 3)
        bp = Blueprint.objects.create(programme=programme, **kw)
        for module, difficulty, n, *points in rules:
            BlueprintRule.objects.create(blueprint=bp, module=module, difficulty=difficulty, count=n,
                                         points_each=points[0] if points else 1)
        return bp

    return make


@dataclass
class Exam:
    course: ExamCourse
    questions: list
    blueprint: Blueprint

    @property
    def programme(self):
        return self.course.programme

    @property
    def modules(self):
        return self.course.modules


@pytest.fixture
def exam(exam_course, make_bank, make_blueprint) -> Exam:
    questions = make_bank(exam_course.modules, per=4)
    rules = []
    for m in exam_course.modules:
        rules += [(m, Difficulty.EASY, 2), (m, Difficulty.MEDIUM, 1), (m, Difficulty.HARD, 1)]
    return Exam(course=exam_course, questions=questions, blueprint=make_blueprint(exam_course.programme, rules))


@pytest.fixture
def bank_admin(make_person, regions):
    return make_person(regions["zj"], roles=(Role.SYSTEM_ADMIN,), username="tiku-admin", real_name="题库管理员")


@pytest.fixture
def province_admin(make_person, regions):
    return make_person(regions["zj"], roles=(), admin_of=regions["zj"], username="sheng-admin", real_name="省管理员")


@pytest.fixture
def city_admin(make_person, regions):
    return make_person(regions["hz"], roles=(), admin_of=regions["hz"], username="shi-admin", real_name="市管理员")


@pytest.fixture
def exam_trainee(make_person, regions):
    return make_person(regions["xihu"], roles=(Role.TRAINEE,), username="kaosheng", real_name="李考生")
