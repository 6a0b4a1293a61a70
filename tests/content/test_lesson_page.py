"""The lesson page: every block rendered per the rendering contract, no correct answer in the HTML,
the shared part cached (and re-rendered when the course changes), and video files with HTTP Range."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from wagtail.rich_text import RichText

from content.models import LessonPage
from content.rendering import lesson_cache_key
from content.sendfile import parse_range
from tests.content.factories import MP4, publish

pytestmark = pytest.mark.django_db


def html_of(client, page) -> str:
    response = client.get(page.url)
    assert response.status_code == 200
    return response.content.decode()


def main_of(html: str) -> str:
    """The page's main part (the header holds a per-visitor CSRF token)."""
    return re.search(r"<main.*</main>", html, re.S).group(0)


def test_every_block_follows_the_rendering_contract(course, client):
    lesson, m = course["l1"], course["media"]
    html = html_of(client, lesson)
    blocks = {b.block_type: b for b in lesson.body}
    assert f'<article class="lesson" data-lesson-id="{lesson.pk}" data-study-url="/study/">' in html
    assert f'<div class="lesson-progress" data-state-url="/study/lessons/{lesson.pk}/state/" aria-live="polite">' in html
    assert html.count("<h1") == 1
    assert '<nav class="lesson-nav"' in html and 'href="/courses/first-aider/cpr/choking/"' in html
    assert '<script src="/static/courses/study.js" defer></script>' in html
    # text
    assert "<h2>为什么要学心肺复苏</h2>" in html
    # image: an SVG stays an SVG, with its alt text and caption
    figure = re.search(r'<figure class="block-image">(.*?)</figure>', html, re.S).group(1)
    assert re.search(r'<img alt="双手叠放于胸骨下半部的示意图"[^>]* src="/media/images/cpr[^"]*\.svg"', figure)
    assert "<figcaption>按压位置：胸部正中，两乳头连线中点</figcaption>" in figure
    # video: key, duration, poster, source, captions track
    video = re.search(r"<video [^>]*>", html).group(0)
    for attribute in ('controls', 'preload="metadata"', "playsinline", f'data-video-key="{blocks["video"].id}"',
                      'data-duration-s="95"', 'poster="/media/images/poster'):
        assert attribute in video
    assert f'<source src="{m["video"].url}" type="video/mp4">' in html
    assert re.search(rf'<track kind="captions" srclang="zh-hans" [^>]*src="{m["captions"].url}" default>', html)
    # call-outs and steps
    assert '<aside class="callout keypoint"' in html and "按压要点" in html
    assert '<aside class="callout warning"' in html and "确保现场安全" in html
    steps = re.search(r'<ol class="steps">(.*?)</ol>', html, re.S).group(1)
    assert steps.count('<li class="step">') == 3 and "呼救并取AED" in steps
    # questions: one correct choice → radios, several → check boxes
    forms = re.findall(r'<form class="practice-question" data-question-key="([^"]+)">(.*?)</form>', html, re.S)
    assert [key for key, _ in forms] == [b.id for b in lesson.body if b.block_type == "question"]
    single, multiple = forms[0][1], forms[1][1]
    assert single.count('type="radio" name="choice"') == 3 and "checkbox" not in single
    assert multiple.count('type="checkbox" name="choice"') == 3 and "radio" not in multiple
    for _, form in forms:
        assert "<fieldset>" in form and "<legend>" in form and 'type="submit"' in form
        assert '<div class="practice-feedback" aria-live="polite" hidden></div>' in form
        assert [int(v) for v in re.findall(r'value="(\d+)"', form)] == [0, 1, 2]


def test_the_page_never_says_which_choice_is_correct(course, client):
    html = html_of(client, course["l1"])
    assert "指南要求成人按压深度" not in html  # the explanations
    assert "直接压迫和加压包扎都是常用的止血方法" not in html
    for _, form in re.findall(r'<form class="practice-question" data-question-key="([^"]+)">(.*?)</form>', html, re.S):
        assert "correct" not in form and "checked" not in form
        inputs = re.findall(r"<input [^>]*>", form)
        # every choice's input is the same but for its index
        assert len({re.sub(r'value="\d+"', "", i) for i in inputs}) == 1


def test_the_shared_part_is_rendered_once(course, client, settings):
    settings.CONTENT_PAGE_CACHE = False  # the part inside the page; the whole page is the next test
    lesson = course["l1"]
    first = html_of(client, lesson)
    with CaptureQueriesContext(connection) as queries:
        second = html_of(client, lesson)
    assert main_of(second) == main_of(first)
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    # no image, rendition or document is loaded, nor are the neighbours looked up
    assert "wagtailimages" not in sql and "wagtaildocs" not in sql
    assert "content_lessonpage" in sql  # the page itself, routed by Wagtail
    with CaptureQueriesContext(connection) as repeat:
        html_of(client, lesson)
    assert len(repeat.captured_queries) == len(queries.captured_queries)  # the same light request every time


def test_the_whole_page_is_the_same_for_everyone_and_served_from_the_cache(course, client, make_person, regions):
    """content.pagecache: the second visitor, signed in or not, gets the page without a query; it has no
    name in it, no CSRF token, and it is refreshed when the lesson is published again."""
    from django.test import Client

    lesson = course["l1"]
    anonymous_html = html_of(client, lesson)
    trainee = make_person(regions["xihu"], real_name="何秀芝")
    signed_in = Client()
    signed_in.force_login(trainee)
    with CaptureQueriesContext(connection) as queries:
        response = signed_in.get(lesson.url)
    assert response.status_code == 200 and queries.captured_queries == []
    html = response.content.decode()
    assert html == anonymous_html
    assert "何秀芝" not in html and "csrfmiddlewaretoken" not in html
    assert response["Content-Security-Policy"] and response["X-Frame-Options"] == "DENY"
    assert int(response["Content-Length"]) == len(response.content)
    # English is another page.
    signed_in.cookies["django_language"] = "en"
    english = signed_in.get(lesson.url).content.decode()
    assert 'lang="en"' in english and "My study" in english
    # A new revision shows at once.
    lesson.title = "新的课时标题"
    lesson.save_revision().publish()
    assert "新的课时标题" in signed_in.get(lesson.url).content.decode()


def test_a_republished_lesson_shows_its_new_text(course, client):
    lesson = course["l2"]
    assert "海姆立克急救法用于气道异物梗阻" in html_of(client, lesson)
    old_key = lesson_cache_key(lesson)
    lesson.body = [("text", RichText("<p>一手握拳，另一手包住拳头，快速向内上方冲击。</p>"))]
    publish(lesson)
    assert lesson_cache_key(LessonPage.objects.get(pk=lesson.pk)) != old_key
    html = html_of(client, lesson)
    assert "快速向内上方冲击" in html and "海姆立克急救法用于气道异物梗阻" not in html


def test_a_new_neighbour_updates_the_lesson_links(course, client):
    l3 = course["l3"]
    assert 'rel="next"' not in html_of(client, l3)
    new = publish(course["m2"].add_child(instance=LessonPage(title="加压包扎", slug="pressure",
                                                             body=[("text", RichText("<p>加压包扎。</p>"))])))
    html = html_of(client, l3)
    assert f'href="{new.url}"' in html and "加压包扎" in html
    new.unpublish()
    assert 'rel="next"' not in html_of(client, l3)


def test_the_cache_is_per_language(course, client):
    lesson = course["l1"]
    zh = html_of(client, lesson)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    en = html_of(client, lesson)
    assert "练习题" in zh and "Practice question" in en
    with translation.override("en"):
        en_key = lesson_cache_key(lesson)
    with translation.override("zh-hans"):
        assert lesson_cache_key(lesson) != en_key


def test_without_the_cache_the_page_is_the_same(course, client, settings):
    lesson = course["l1"]
    cached = html_of(client, lesson)
    settings.CONTENT_LESSON_CACHE_S = 0
    assert main_of(html_of(client, lesson)) == main_of(cached)


# ---------------------------------------------------------------- video files: HTTP Range


def test_a_video_is_served_in_ranges(course, client):
    video = course["media"]["video"]
    whole = client.get(video.url)
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    assert b"".join(whole.streaming_content) == MP4
    part = client.get(video.url, HTTP_RANGE="bytes=100-1099")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-1099/{len(MP4)}"
    assert part["Content-Length"] == "1000"
    assert b"".join(part.streaming_content) == MP4[100:1100]
    tail = client.get(video.url, HTTP_RANGE="bytes=-10")
    assert tail.status_code == 206 and b"".join(tail.streaming_content) == MP4[-10:]
    past = client.get(video.url, HTTP_RANGE=f"bytes={len(MP4)}-")
    assert past.status_code == 416 and past["Content-Range"] == f"bytes */{len(MP4)}"


def test_behind_nginx_the_file_goes_out_through_x_accel_redirect(course, client):
    video = course["media"]["video"]
    response = client.get(video.url, HTTP_X_SENDFILE_TYPE="X-Accel-Redirect", HTTP_RANGE="bytes=0-99")
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == "/_documents/" + video.file.name.split("/", 1)[1]
    assert response["Content-Type"] == "video/mp4"


def test_the_captions_are_served_as_webvtt(course, client):
    response = client.get(course["media"]["captions"].url)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/vtt")


def test_parse_range():
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-9", 100) == (0, 9)
    assert parse_range("bytes=90-", 100) == (90, 99)
    assert parse_range("bytes=90-500", 100) == (90, 99)
    assert parse_range("bytes=-5", 100) == (95, 99)
    assert parse_range("bytes=100-", 100) is False
    assert parse_range("bytes=5-1", 100) is False
    assert parse_range("bytes=0-1,5-6", 100) is None  # several ranges: the whole file
    assert parse_range("items=0-1", 100) is None


def test_course_images_are_served_and_nothing_else_under_media(course, client, settings):
    from django.core.files.storage import default_storage

    rendition = course["media"]["svg"].get_rendition("original")
    response = client.get(rendition.url)
    assert response.status_code == 200 and "default-src 'none'" in response["Content-Security-Policy"]
    default_storage.save("photos/2026/someone.png", __import__("io").BytesIO(b"private"))
    assert client.get("/media/photos/2026/someone.png").status_code == 404
    assert client.get("/media/images/../photos/2026/someone.png").status_code == 404


def test_nginx_serves_images_and_documents_but_no_other_upload(tmp_path):
    from lms.serving import nginx_conf

    conf = nginx_conf(tmp_path / "run-8000", "127.0.0.1", 8000, 8001, 8002)
    media = tmp_path / "media"
    assert f"location /media/images/ {{\n            alias {media}/images/;" in conf
    assert f"location /_documents/ {{\n            internal;\n            alias {media}/documents/;" in conf
    assert "proxy_set_header X-Sendfile-Type X-Accel-Redirect;" in conf
    assert "photos" not in conf and "location /media/ " not in conf


def test_a_lesson_is_routed_in_one_query_and_only_when_live(course, client):
    lesson = course["l1"]
    html_of(client, lesson)
    with CaptureQueriesContext(connection) as queries:
        html_of(client, lesson)
    # the site, its root page, the lesson; Wagtail's alias and view-restriction checks
    assert len(queries.captured_queries) <= 5
    lesson.unpublish()
    assert client.get(lesson.url if lesson.url else "/courses/first-aider/cpr/adult-cpr/").status_code == 404
    assert client.get("/courses/first-aider/cpr/no-such-lesson/").status_code == 404
    assert client.get("/courses/first-aider/cpr/").status_code == 200
