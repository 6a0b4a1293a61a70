"""Fixtures for the study tests: a course tree of Wagtail pages, programmes over it, classes, trainees.

Imported by tests/courses/test_progress.py and test_enrol.py (``from .study_support import *``)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
from django.utils import timezone
from wagtail.models import Page

from content.models import CourseIndexPage, CoursePage, LessonPage, ModulePage
from courses.models import Programme, ProgrammeModule, TrainingClass
from lms import api as lms_api
from lms.models import Organisation, Role

T0 = datetime(2026, 11, 24, 9, 0, 0, tzinfo=dt_timezone.utc)


def at(seconds: float) -> datetime:
    """Server time ``seconds`` after T0 (tests pass ``now=`` instead of sleeping)."""
    return T0 + timedelta(seconds=seconds)


def play(user, lesson_id, video_key, start_s: float, end_s: float, at_s: float, step_s: float = 10):
    """Play ``start_s``–``end_s`` of a video in real time from server time ``at_s``, reporting every
    ``step_s`` seconds of play as study.js does; returns the last answer."""
    from courses import api

    result, t = None, start_s
    while t < end_s:
        nxt = min(end_s, t + step_s)
        result = api.record_video_ranges(user, lesson_id, video_key, [[t, nxt]], now=at(at_s + (nxt - start_s)))
        t = nxt
    return result


def video_block(key: str, duration_s: float, title: str = "演示视频") -> dict:
    return {"type": "video", "id": key,
            "value": {"video": None, "poster": None, "captions": None, "duration_s": duration_s, "title": title}}


def question_block(key: str, choices: list[tuple[str, bool]], prompt: str = "成人胸外按压的深度是多少？") -> dict:
    return {"type": "question", "id": key,
            "value": {"prompt": prompt, "choices": [{"text": t, "correct": c} for t, c in choices],
                      "explanation": "<p>成人按压深度为 5～6 厘米。</p>"}}


def text_block(key: str, html: str = "<p>正文。</p>") -> dict:
    return {"type": "text", "id": key, "value": html}


class Tree:
    """Build course → module → lesson pages under the home page."""

    def __init__(self):
        home = Page.objects.get(depth=2)
        self.index = CourseIndexPage.objects.first() or home.add_child(
            instance=CourseIndexPage(title="课程中心", slug="courses"))
        self.n = 0

    def course(self, title="救护员课程"):
        self.n += 1
        return self.index.add_child(instance=CoursePage(title=title, slug=f"course-{self.n}", summary="课程"))

    def module(self, course, title):
        self.n += 1
        return course.add_child(instance=ModulePage(title=title, slug=f"module-{self.n}", summary="模块"))

    def lesson(self, module, title, *, minutes=10, body=None) -> LessonPage:
        self.n += 1
        page = module.add_child(instance=LessonPage(title=title, slug=f"lesson-{self.n}", summary="",
                                                    estimated_minutes=minutes, body=body or [text_block(f"t{self.n}")]))
        return page


@pytest.fixture
def tree(db):
    return Tree()


@pytest.fixture
def base(regions):
    return lms_api.create_organisation(None, name="西湖区红十字培训基地", kind=Organisation.Kind.TRAINING_BASE,
                                       region=regions["xihu"])


def make_programme(code="first-aider", mode=Programme.Mode.SEGMENTED, required_credits=0, **kw) -> Programme:
    return Programme.objects.create(code=code, name=kw.pop("name", "救护员取证培训"), kind=Programme.Kind.FIRST_AIDER,
                                    mode=mode, required_credits=Decimal(required_credits),
                                    required_class_hours=kw.pop("required_class_hours", Decimal(16)), **kw)


def add_module(programme, module_page, *, segment=1, order=0, required=True, credits=1, class_hours=1):
    return ProgrammeModule.objects.create(programme=programme, module_page=module_page, segment=segment, order=order,
                                          required=required, credits=Decimal(credits),
                                          class_hours=Decimal(class_hours))


def make_class(programme, base, *, code=None, capacity=50, status=TrainingClass.Status.OPEN, name="西湖区救护员一班",
               ends_in_days=30, deadline=True):
    today = timezone.localdate()
    kw = {"code": code} if code else {}
    return TrainingClass.objects.create(
        programme=programme, name=name, training_base=base, starts_on=today - timedelta(days=1),
        ends_on=today + timedelta(days=ends_in_days), theory_deadline=(today + timedelta(days=14)) if deadline else None,
        capacity=capacity, status=status, **kw)


@pytest.fixture
def trainee(make_person, regions):
    return make_person(regions["xihu"], roles=(Role.TRAINEE,), username="xueyuan", real_name="张学员")


__all__ = ["T0", "at", "video_block", "question_block", "text_block", "Tree", "tree", "base", "make_programme",
           "add_module", "make_class", "trainee", "date"]
