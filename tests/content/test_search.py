"""Search over courses, modules and lessons in Chinese (jieba word segmentation), on SQLite and PostgreSQL
(run with DATABASE_URL=postgres://… for the latter)."""

import re

import pytest
from django.db import connection
from wagtail.rich_text import RichText

from content.models import LessonPage
from content.search import query_words, search_pages, segment_for_index
from tests.content.factories import publish

pytestmark = pytest.mark.django_db


def titles(query):
    return [page.title for page in search_pages(query)]


def test_the_database_in_use(course):
    assert connection.vendor in ("sqlite", "postgresql")


def test_words_are_cut_the_same_way_for_the_index_and_the_query():
    assert query_words("心肺复苏") == ["心肺复苏"]
    assert {"心肺", "复苏", "心肺复苏"} <= set(segment_for_index("成人心肺复苏的步骤").split())
    assert "海姆立克" in segment_for_index("海姆立克急救法").split()
    assert query_words(" 止血，包扎！ ") == ["止血", "包扎"]
    assert query_words("？？") == []


def test_chinese_queries_find_the_lessons(course):
    assert titles("心肺复苏")[0] in ("心肺复苏与AED", "成人心肺复苏")
    assert {"心肺复苏与AED", "成人心肺复苏"} <= set(titles("心肺复苏"))
    assert "止血带止血" in titles("止血")
    assert "止血带止血" in titles("止血带")
    assert titles("海姆立克") == ["气道异物梗阻与海姆立克急救法"]
    # words inside a lesson's body: a call-out, a step, a question
    assert "成人心肺复苏" in titles("按压要点")
    assert "成人心肺复苏" in titles("自动体外除颤器")
    assert titles("心肺复苏 止血带") == []  # every word must match
    assert titles("烧烫伤") == []


def test_unpublished_pages_are_not_found(course):
    course["l3"].unpublish()
    assert "止血带止血" not in titles("止血带")


def test_a_republished_lesson_is_found_by_its_new_words(course):
    lesson = course["l2"]
    assert titles("背部叩击") == []
    lesson.body = [("text", RichText("<p>婴儿采用背部叩击法。</p>"))]
    publish(lesson)
    assert titles("背部叩击") == [lesson.title]


def test_the_search_page(course, client):
    html = client.get("/search/", {"q": "海姆立克"}).content.decode()
    assert html.count("<h1") == 1 and 'role="search"' in html and 'value="海姆立克"' in html
    result = re.search(r'<ol class="search-results">(.*?)</ol>\s*\n', html, re.S).group(1)
    assert 'href="/courses/first-aider/cpr/choking/"' in result
    assert "救护员取证课程</li><li>心肺复苏与AED</li>" in result  # breadcrumb course › module
    assert "腹部冲击法" in result  # the summary
    assert "1 条" in html


def test_the_search_page_without_a_hit_or_a_query(course, client):
    html = client.get("/search/", {"q": "不存在的内容"}).content.decode()
    assert "没有找到与“不存在的内容”相关的内容" in html
    html = client.get("/search/").content.decode()
    assert "请输入要查找的内容" in html
    assert client.post("/search/", {"q": "止血"}).status_code == 405


def test_the_search_page_in_english(course, client):
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    html = client.get("/search/", {"q": "止血"}).content.decode()
    assert "Search the courses" in html and "result" in html


def test_search_results_cost_a_fixed_number_of_queries(course, client, django_assert_max_num_queries):
    for n in range(6):
        publish(course["m2"].add_child(instance=LessonPage(title=f"止血方法{n}", slug=f"bleeding-{n}",
                                                           summary="止血", body=[])))
    with django_assert_max_num_queries(12):
        html = client.get("/search/", {"q": "止血"}).content.decode()
    assert html.count('class="tag"') >= 7


def test_the_demo_course_is_searchable_as_soon_as_load_demo_ends_without_a_task_worker(settings):
    """In production a page save only queues its index update (django_tasks' database backend, run by
    ``manage.py db_worker``). ``load_demo`` indexes its pages itself: search works before any worker runs."""
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult
    from wagtail.search.models import IndexEntry

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    call_command("load_demo", stdout=open("/dev/null", "w"))
    assert DBTaskResult.objects.filter(status="READY").exists()  # the queued updates no worker has run
    assert IndexEntry.objects.exists()
    assert set(titles("海姆立克")) == {"气道异物梗阻", "海姆立克法及不同人群的处理"}
    assert "止血方法：直接压迫、加压包扎与止血带" in titles("止血带")
