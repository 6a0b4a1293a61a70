"""The 救护员 course loader: the whole course as published pages, idempotent, with the demo class."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from wagtail.documents import get_document_model
from wagtail.images import get_image_model
from wagtail.models import PageLogEntry, Revision

from content.course import MODULE_NAMES, modules
from content.course.load import DEMO_CLASS_CODE, DEMO_CLASS_NAME, load_course
from content.models import CourseIndexPage, CoursePage, LessonPage, ModulePage

pytestmark = pytest.mark.django_db

PLACEHOLDERS = re.compile(r"lorem|ipsum|TODO|TBD|placeholder|待补充|占位", re.I)


def _counts():
    return {
        "pages": LessonPage.objects.count() + ModulePage.objects.count() + CoursePage.objects.count(),
        "revisions": Revision.objects.count(),
        "log": PageLogEntry.objects.count(),
        "images": get_image_model().objects.count(),
        "documents": get_document_model().objects.count(),
    }


def test_course_data_is_well_formed():
    """Every lesson of the data has text, steps have plain text, questions a correct choice, images alt text."""
    data = modules()
    assert len(data) == len(MODULE_NAMES) == 7
    for module in data:
        assert 2 <= len(module["lessons"]) <= 4, module["slug"]
        assert any(block[0] == "question" for lesson in module["lessons"] for block in lesson["body"])
        for lesson in module["lessons"]:
            kinds = [block[0] for block in lesson["body"]]
            assert "text" in kinds, lesson["slug"]
            assert "keypoint" in kinds or "warning" in kinds, lesson["slug"]
            for block in lesson["body"]:
                flat = repr(block)
                assert not PLACEHOLDERS.search(flat), (lesson["slug"], flat[:80])
                if block[0] == "steps":
                    for title, text, _image in block[2]:
                        assert title and text and "<" not in text, (lesson["slug"], title)
                if block[0] == "question":
                    assert 1 <= sum(1 for _t, correct in block[2] if correct) < len(block[2])
                    assert block[3].startswith("<p>")
                if block[0] == "image":
                    assert block[2].strip() and block[3].strip()


def test_load_course_builds_the_published_tree():
    course = load_course()
    index = CourseIndexPage.objects.get()
    assert index.title == "课程中心" and index.slug == "courses" and index.live
    assert course.get_parent().pk == index.pk and course.title == "救护员培训（理论）"
    assert course.live and course.cover is not None and course.cover.file.name.endswith(".svg")

    module_pages = list(ModulePage.objects.child_of(course).order_by("path"))
    assert [m.title for m in module_pages] == [m["title"] for m in modules()]
    assert len(module_pages) == 7
    lessons = list(LessonPage.objects.descendant_of(course).order_by("path"))
    assert len(lessons) == sum(len(m["lessons"]) for m in modules())
    for page in [course, *module_pages, *lessons]:
        assert page.live and not page.has_unpublished_changes and page.live_revision_id, page.title

    images = 0
    videos = 0
    for module in module_pages:
        module_lessons = LessonPage.objects.child_of(module)
        assert 2 <= module_lessons.count() <= 4
        assert any(lesson.questions() for lesson in module_lessons), module.title
    for lesson in lessons:
        types = [block.block_type for block in lesson.body]
        texts = [str(block.value.source) for block in lesson.body if block.block_type == "text"]
        assert texts and all(len(re.sub("<[^>]+>", "", t)) > 40 for t in texts), lesson.title
        for block in lesson.body:
            if block.block_type == "image":
                images += 1
                assert block.value["alt"].strip() and block.value["caption"].strip()
                assert block.value["image"].file.name.endswith(".svg")
                assert block.value["image"].width > 0 and block.value["image"].height > 0
            if block.block_type == "question":
                choices = block.value["choices"]
                assert any(c["correct"] for c in choices) and str(block.value["explanation"])
            if block.block_type == "video":
                videos += 1
                value = block.value
                assert value["video"].file.name.endswith(".webm")
                assert value["captions"].file.name.endswith(".vtt")
                assert value["poster"] is not None and 20 <= value["duration_s"] <= 40
        assert "text" in types
    assert images >= 8 and videos == 1
    assert len({image.title for image in get_image_model().objects.all()}) >= 9


def test_block_ids_are_stable_and_unique():
    load_course()
    keys = [block.id for lesson in LessonPage.objects.all() for block in lesson.body]
    assert len(keys) == len(set(keys))
    lesson = LessonPage.objects.get(slug="high-quality-cpr")
    before = list(lesson.questions())
    load_course()
    lesson.refresh_from_db()
    assert list(lesson.questions()) == before and len(before) == 3
    assert list(lesson.videos())


def test_load_course_is_idempotent():
    first = load_course()
    before = _counts()
    ids = set(LessonPage.objects.values_list("pk", flat=True))
    again = load_course()
    assert again.pk == first.pk
    assert _counts() == before
    assert set(LessonPage.objects.values_list("pk", flat=True)) == ids


def test_changed_data_updates_in_place(monkeypatch):
    load_course()
    lesson = LessonPage.objects.get(slug="burns")
    revisions = Revision.objects.count()
    from content.course import m7_accidents

    data = m7_accidents.MODULE["lessons"][0]
    monkeypatch.setitem(data, "title", "烧烫伤的现场处理")
    load_course()
    updated = LessonPage.objects.get(pk=lesson.pk)
    assert updated.title == "烧烫伤的现场处理" and updated.live and not updated.has_unpublished_changes
    assert Revision.objects.count() == revisions + 1  # one page changed, one revision
    assert [b.id for b in updated.body] == [b.id for b in lesson.body]


def test_load_demo_makes_the_class_with_the_trainee_enrolled():
    from courses import api as courses_api
    from courses.models import Enrolment, Programme, TrainingClass

    call_command("load_demo", stdout=open("/dev/null", "w"))  # (loading twice: test_load_course_is_idempotent,
    # and the whole demo's idempotence in tests/lms/test_pages.py)
    assert CoursePage.objects.count() == 1 and ModulePage.objects.count() == 7

    cls = TrainingClass.objects.get(code=DEMO_CLASS_CODE)
    assert cls.name == DEMO_CLASS_NAME and cls.capacity == 60
    assert cls.training_base.name == "杭州市红十字应急救护培训基地（演示）"
    assert cls.instructors.filter(username="instructor").exists()
    assert cls.theory_deadline and 14 <= (cls.theory_deadline - cls.starts_on).days <= 28
    enrolments = Enrolment.objects.filter(training_class=cls)
    # The demo trainee, the exam demo's two trainees who finished the theory (exams.demo_attempts), and the
    # practical exam demo's candidate who sat it (exams.demo_practical).
    assert sorted(e.user.username for e in enrolments) == ["exam_done", "exam_failed", "exam_passed", "trainee"]
    assert enrolments.get(user__username="trainee").source == Enrolment.Source.ADMIN

    first_aider = Programme.objects.get(code="first-aider")
    assert first_aider.mode == Programme.Mode.SEGMENTED and first_aider.required_class_hours == 16
    assert first_aider.course_page_id == CoursePage.objects.get().pk
    rows = list(first_aider.modules.all())
    assert len(rows) == 7 and 0 < sum(r.class_hours for r in rows) < 16
    assert all(r.credits > 0 for r in rows)
    assert Programme.objects.get(code="awareness").mode == Programme.Mode.MENU
    assert Programme.objects.get(code="refresher").mode == Programme.Mode.CREDITS
    assert len(courses_api.lessons_of(first_aider)) == LessonPage.objects.count()

    from lms.models import User

    trainee_nb = User.objects.get(username="trainee_nb")
    assert not Enrolment.objects.filter(user=trainee_nb).exists()
    enrolment = courses_api.enrol_with_code(trainee_nb, DEMO_CLASS_CODE.lower())
    assert enrolment.training_class_id == cls.pk

    # The exam demo's attempts look like real sittings: answers over half an hour, the failed trainee's
    # two trips away from the page with their lengths, both graded once.
    from exams.models import AnswerEvent, Attempt

    passed, failed = (Attempt.objects.get(user__username=u) for u in ("exam_passed", "exam_failed"))
    assert passed.passed and not failed.passed
    for attempt in (passed, failed):
        assert 25 * 60 < (attempt.submitted_at - attempt.started_at).total_seconds() < attempt.blueprint.time_limit_s
        times = list(AnswerEvent.objects.filter(item__attempt=attempt).order_by("pk").values_list("saved_at", flat=True))
        assert times == sorted(times) and (times[-1] - times[0]).total_seconds() > 20 * 60
    assert passed.leave_count == 0 and not passed.leaves.exists()
    assert failed.leave_count == 2
    assert [e.seconds for e in failed.leaves.order_by("left_at")] == [45, 12]


def _originals(media):
    """Stored files but renditions (images/ holds renditions, made on demand)."""
    return sorted(p.relative_to(media) for p in media.rglob("*")
                  if p.is_file() and p.relative_to(media).parts[0] != "images")


def test_a_fresh_database_reuses_the_stored_files(settings):
    """Loading into a new database (a demo made afresh) does not store a second copy of each file."""
    from pathlib import Path

    load_course()
    media = Path(settings.MEDIA_ROOT)
    files = _originals(media)
    get_image_model().objects.all().delete()
    get_document_model().objects.all().delete()
    for page in LessonPage.objects.all():
        page.delete()
    load_course()
    after = _originals(media)
    assert after == files
    image = get_image_model().objects.get(title="胸外按压的部位与手法")
    assert re.fullmatch(r"original_images/cpr-hand-position-[0-9a-f]{8}\.svg", image.file.name)
    assert image.width == 480


def test_the_loaded_lessons_render_for_the_demo_trainee(client):
    call_command("load_demo", stdout=open("/dev/null", "w"))
    client.login(username="trainee", password="Demo@2026")
    lesson = LessonPage.objects.get(slug="high-quality-cpr")
    html = client.get(lesson.url).content.decode()
    assert "高质量胸外按压与人工呼吸" in html
    assert 'alt="仰卧者的胸部示意图' in html and ".svg" in html
    assert "<video" in html and 'srclang="zh-hans"' in html and ".webm" in html
    assert html.count('class="practice-question"') == 3
    assert "深度 5～6 厘米，频率 100～120 次/分" in html  # the choice text is shown ...
    assert "过快则胸廓来不及回弹" not in html  # ... the explanation is not
    for module in ModulePage.objects.all():
        assert client.get(module.url).status_code == 200
    assert client.get(CoursePage.objects.get().url).status_code == 200


def test_an_editors_changes_are_kept_unless_forced(monkeypatch):
    from lms.models import User

    load_course()
    editor = User.objects.create_user(username="editor", password="pw-Secret-123", is_staff=True)
    lesson = LessonPage.objects.get(slug="drowning")
    lesson.title = "溺水的预防与救护"
    lesson.save_revision(user=editor).publish()

    from content.course import m7_accidents

    monkeypatch.setitem(m7_accidents.MODULE["lessons"][1], "summary", "改过的摘要。")
    load_course()
    kept = LessonPage.objects.get(pk=lesson.pk)
    assert kept.title == "溺水的预防与救护" and kept.summary != "改过的摘要。"

    load_course(force=True)
    forced = LessonPage.objects.get(pk=lesson.pk)
    assert forced.title == "溺水" and forced.summary == "改过的摘要。" and forced.live
