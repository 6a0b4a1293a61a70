"""Editors build courses in the Wagtail admin: the page tree's rules, creating pages through the admin's
forms, preview, drafts, revisions and scheduled publishing."""

from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone
from wagtail.models import Page
from wagtail.rich_text import RichText
from wagtail.test.utils import WagtailPageTestCase
from wagtail.test.utils.form_data import nested_form_data, rich_text, streamfield

from content.models import CourseIndexPage, CoursePage, HomePage, LessonPage, ModulePage
from tests.content.factories import build_course, publish


def listblock(items):
    """Form data of a ListBlock (Wagtail's form_data helpers have none)."""
    data = {"count": len(items)}
    for i, item in enumerate(items):
        data[str(i)] = {"value": item, "deleted": "", "order": i, "id": ""}
    return data


class TestCoursePagesInTheAdmin(WagtailPageTestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tree = build_course()

    def setUp(self):
        # Wagtail's helpers sign in with the first backend, django-axes' (which loads no users).
        patcher = mock.patch("wagtail.test.utils.page_tests.AUTH_BACKEND", "django.contrib.auth.backends.ModelBackend")
        patcher.start()
        self.addCleanup(patcher.stop)
        self.login()

    def test_the_tree_is_catalogue_course_module_lesson(self):
        self.assertCanCreateAt(HomePage, CourseIndexPage)
        self.assertCanCreateAt(CourseIndexPage, CoursePage)
        self.assertCanCreateAt(CoursePage, ModulePage)
        self.assertCanCreateAt(ModulePage, LessonPage)
        self.assertCanNotCreateAt(HomePage, LessonPage)
        self.assertCanNotCreateAt(CoursePage, LessonPage)
        self.assertCanNotCreateAt(CourseIndexPage, ModulePage)
        self.assertAllowedSubpageTypes(CourseIndexPage, {CoursePage})
        self.assertAllowedSubpageTypes(CoursePage, {ModulePage})
        self.assertAllowedSubpageTypes(ModulePage, {LessonPage})
        self.assertAllowedSubpageTypes(LessonPage, {})
        self.assertAllowedParentPageTypes(LessonPage, {ModulePage})
        self.assertAllowedParentPageTypes(CourseIndexPage, {HomePage})

    def test_an_editor_creates_a_course_and_a_module(self):
        self.assertCanCreate(self.tree["index"], CoursePage, nested_form_data({
            "title": "普及课程", "slug": "awareness", "summary": "人人学急救", "body": rich_text("<p>面向公众。</p>"),
        }))
        course = CoursePage.objects.get(slug="awareness")
        assert course.live and course.summary == "人人学急救"
        self.assertCanCreate(course, ModulePage, nested_form_data({
            "title": "现场评估", "slug": "scene", "summary": "确保安全", "objectives": rich_text("<p>会评估现场。</p>"),
        }))
        assert ModulePage.objects.get(slug="scene").get_parent().specific == course

    def test_an_editor_creates_a_lesson_with_blocks(self):
        m = self.tree["media"]
        body = streamfield([
            ("text", rich_text("<p>烧烫伤后立即用流动的凉水冲洗。</p>")),
            ("keypoint", {"title": "一冲二脱", "text": rich_text("<p>冲、脱、泡、盖、送。</p>")}),
            ("warning", {"title": "不要涂抹", "text": rich_text("<p>不要涂牙膏、酱油。</p>")}),
            ("image", {"image": m["svg"].pk, "caption": "冲洗示意", "alt": "手在水龙头下冲洗"}),
            ("video", {"video": m["video"].pk, "poster": m["png"].pk, "captions": m["captions"].pk,
                       "duration_s": "60", "title": "烧烫伤的处理"}),
            ("steps", {"title": "处理步骤", "steps": listblock([
                {"title": "冲", "text": "凉水冲洗15～30分钟。", "image": ""},
                {"title": "盖", "text": "用清洁敷料覆盖。", "image": m["svg"].pk},
            ])}),
            ("question", {"prompt": "烧烫伤后首先应该？", "choices": listblock([
                {"text": "涂牙膏", "correct": ""},
                {"text": "凉水冲洗", "correct": "on"},
            ]), "explanation": rich_text("<p>先用凉水冲洗降温。</p>")}),
        ])
        self.assertCanCreate(self.tree["m2"], LessonPage, nested_form_data({
            "title": "烧烫伤", "slug": "burns", "summary": "冲脱泡盖送", "estimated_minutes": "12", "body": body,
        }))
        lesson = LessonPage.objects.get(slug="burns")
        assert [b.block_type for b in lesson.body] == ["text", "keypoint", "warning", "image", "video", "steps",
                                                       "question"]
        assert lesson.live and lesson.estimated_minutes == 12
        question = lesson.questions()
        assert len(question) == 1 and [c["correct"] for c in list(question.values())[0]["choices"]] == [False, True]

    def test_a_lesson_needs_a_correct_choice_and_a_video_file(self):
        m = self.tree["media"]
        data = nested_form_data({"title": "坏课", "slug": "bad", "estimated_minutes": "5", "body": streamfield([
            ("question", {"prompt": "？", "choices": listblock([{"text": "甲", "correct": ""}, {"text": "乙", "correct": ""}]),
                          "explanation": rich_text("<p>解释</p>")}),
            ("video", {"video": m["captions"].pk, "poster": m["png"].pk, "captions": m["video"].pk,
                       "duration_s": "60", "title": "错的文件"}),
        ])})
        with pytest.raises(AssertionError, match="body"):
            self.assertCanCreate(self.tree["m2"], LessonPage, data)
        assert not LessonPage.objects.filter(slug="bad").exists()

    def test_every_page_type_renders_routes_and_previews(self):
        for key in ("index", "course", "m1", "l1"):
            page = self.tree[key]
            self.assertPageIsRoutable(page)
            self.assertPageIsRenderable(page)
            post_data = None
            if key == "l1":  # the admin draws a StreamField with JavaScript: its form data cannot be scraped
                post_data = nested_form_data({
                    "title": page.title, "slug": page.slug, "summary": page.summary, "estimated_minutes": "10",
                    "body": streamfield([
                        ("text", rich_text("<p>判断意识。</p>")),
                        ("question", {"prompt": "按压深度？", "choices": listblock([
                            {"text": "5～6厘米", "correct": "on"}, {"text": "2厘米", "correct": ""}]),
                            "explanation": rich_text("<p>5～6厘米。</p>")}),
                    ])})
            self.assertPageIsEditable(page, post_data=post_data)
            self.assertPageIsPreviewable(page, post_data=post_data)

    def test_preview_shows_unsaved_text_and_does_not_touch_the_cache(self):
        lesson = self.tree["l2"]
        live_html = self.client.get(lesson.url).content.decode()
        assert "海姆立克急救法用于气道异物梗阻" in live_html
        post = nested_form_data({"title": lesson.title, "slug": lesson.slug, "summary": lesson.summary,
                                 "estimated_minutes": "8",
                                 "body": streamfield([("text", rich_text("<p>预览中的新文字。</p>"))])})
        url = f"/admin/pages/{lesson.pk}/edit/preview/"
        assert self.client.post(url, post).json()["is_valid"]
        preview = self.client.get(url).content.decode()
        assert "预览中的新文字" in preview
        self.client.logout()
        assert "预览中的新文字" not in self.client.get(lesson.url).content.decode()


@pytest.mark.django_db
def test_a_draft_is_not_live_until_published(course, client):
    lesson = course["l3"]
    lesson.body = [("text", RichText("<p>草稿：止血带每隔一小时放松一次。</p>"))]
    revision = lesson.save_revision()
    assert "草稿" not in client.get(lesson.url).content.decode()
    assert LessonPage.objects.get(pk=lesson.pk).has_unpublished_changes
    revision.publish()
    assert "草稿：止血带" in client.get(lesson.url).content.decode()


@pytest.mark.django_db
def test_revisions_are_kept_and_an_old_one_can_be_published_again(course, client):
    lesson = course["l3"]
    first = lesson.latest_revision
    lesson.title = "止血带止血（修订）"
    publish(lesson)
    assert lesson.revisions.count() == 2
    assert "修订" in client.get(lesson.url).content.decode()
    first.publish()  # "revert" in the admin: the old revision goes live again
    html = client.get(lesson.url).content.decode()
    assert "修订" not in html and "止血带止血" in html


@pytest.mark.django_db
def test_scheduled_publishing(course, client):
    module = course["m2"]
    lesson = module.add_child(instance=LessonPage(title="包扎方法", slug="bandaging", live=False,
                                                  body=[("text", RichText("<p>环形包扎法。</p>"))]))
    go_live = timezone.now() + timedelta(hours=2)
    lesson.go_live_at = go_live
    lesson.save_revision().publish()  # as "Publish" in the admin with a go-live time: scheduled
    lesson.refresh_from_db()
    assert not lesson.live and lesson.revisions.get().approved_go_live_at == go_live
    call_command("publish_scheduled")
    lesson.refresh_from_db()
    assert not lesson.live
    assert client.get("/courses/first-aider/bleeding/bandaging/").status_code == 404
    # The time comes: the scheduled revision goes live when publish_scheduled runs.
    with mock.patch("django.utils.timezone.now", return_value=go_live + timedelta(minutes=1)):
        call_command("publish_scheduled")
    lesson.refresh_from_db()
    assert lesson.live
    assert "环形包扎法" in client.get("/courses/first-aider/bleeding/bandaging/").content.decode()


@pytest.mark.django_db
def test_lessons_in_order_and_their_neighbours(course):
    c, l1, l2, l3 = course["course"], course["l1"], course["l2"], course["l3"]
    assert list(c.lessons()) == [l1, l2, l3]
    assert list(course["m1"].lessons()) == [l1, l2]
    assert l1.previous_lesson() is None and l1.next_lesson() == l2
    assert l2.next_lesson() == l3  # across the module boundary
    assert l3.previous_lesson() == l2 and l3.next_lesson() is None
    assert l3.module() == course["m2"] and l3.course() == c
    l2.unpublish()
    assert l1.next_lesson() == l3


@pytest.mark.django_db
def test_the_home_page_links_to_the_catalogue(course, client):
    html = client.get("/").content.decode()
    assert 'href="/courses/"' in html
    assert Page.objects.get(slug="courses").specific_class is CourseIndexPage


@pytest.mark.django_db
def test_the_scheduling_loop_publishes_on_time(course, client):
    """``python -m lms.serving`` runs ``publish_scheduled_loop`` beside the task worker."""
    lesson = course["m2"].add_child(instance=LessonPage(title="三角巾包扎", slug="triangle", live=False,
                                                        body=[("text", RichText("<p>三角巾头部包扎。</p>"))]))
    go_live = timezone.now() + timedelta(minutes=5)
    lesson.go_live_at = go_live
    lesson.save_revision().publish()
    call_command("publish_scheduled_loop", once=True)
    assert not LessonPage.objects.get(pk=lesson.pk).live
    with mock.patch("django.utils.timezone.now", return_value=go_live + timedelta(seconds=1)):
        call_command("publish_scheduled_loop", once=True)
    assert LessonPage.objects.get(pk=lesson.pk).live
    assert "三角巾头部包扎" in client.get("/courses/first-aider/bleeding/triangle/").content.decode()
