"""The trainee's pages: my results (exams apart from practice, pass/fail, the site), the result page's
number formats and verdict, the trainee screen's result after a stop, the dashboard card."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from lms import api as lms_api
from lms.models import Organisation, Role
from manikin import api
from manikin.models import Manikin, Recording, Room

pytestmark = pytest.mark.django_db


def result(score, *, passed, **extra):
    """A scored result as the scorer stores it (only the keys the pages read)."""
    return {"score": score, "passed": passed, "count": 1234, "mean_depth_mm": 52.04, "mean_recoil_mm": 0.96,
            "mean_rate_cpm": 109.6, "pct_depth_ok": 79.6, "pct_rate_ok": 99.96, "pct_recoil_ok": 100.0,
            "ccf": 0.876, "longest_pause_s": 3.04, "cycles": [{"index": i} for i in range(5)],
            "feedback": [{"code": "depth_shallow", "message": "按压深度不足：请垂直用力下压"},
                         {"code": "rate_fast", "message": "按压频率过快"},
                         {"code": "pause_too_long", "message": "中断时间过长"},
                         {"code": "ccf_low", "message": "第四条建议"}],
            "compressions": [], **extra}


def stopped(manikin, trainee, starter, *, score, passed, purpose=Room.Mode.PRACTICE, **extra):
    """A stopped, scored recording; each one made later than the one before (a minute apart)."""
    rec = Recording.objects.create(
        manikin=manikin, trainee=trainee, started_by=starter, stopped_by=starter, standard_id="crc-first-aider-2024",
        purpose=purpose, stopped_at=timezone.now(), sample_count=6000, score=score, passed=passed,
        outcome=Recording.Outcome.SCORED, result=result(score, passed=passed, **extra))
    when = timezone.now() - timezone.timedelta(hours=1) + timezone.timedelta(minutes=Recording.objects.count())
    Recording.objects.filter(pk=rec.pk).update(started_at=when, stopped_at=when + timezone.timedelta(minutes=2))
    rec.refresh_from_db()
    return rec


@pytest.fixture
def world(site, regions, make_person):
    """The examiner's site (考点 · 考场) and a training base elsewhere, a trainee with attempts at both,
    and another trainee with an attempt of their own."""
    manikin = Manikin.objects.get(station=site["s1"])
    base = lms_api.create_organisation(None, name="培训基地", kind=Organisation.Kind.TRAINING_BASE,
                                       region=regions["xihu"])
    base_room = api.create_room(None, organisation=base, name="练习室")
    station, _ = api.create_station(None, room=base_room, name="练习台")
    base_manikin = api.assign_manikin(None, station=station, address="F0:0D:00:00:00:09", label="B-1")
    trainee = make_person(regions["xihu"], real_name="张学员")
    other = make_person(regions["xihu"], real_name="李学员")
    ex = site["examiner"]
    recs = {
        "exam_pass": stopped(manikin, trainee, ex, score=85.04, passed=True, purpose=Room.Mode.EXAM,
                             cycles_done=5, cycles_expected=5, complete=True),
        "exam_incomplete": stopped(manikin, trainee, ex, score=88.0, passed=False, purpose=Room.Mode.EXAM,
                                   cycles_done=3, cycles_expected=5, complete=False,
                                   feedback=[{"code": "attempt_incomplete", "message": "未完成规定的 5 个循环"},
                                             *result(0, passed=False)["feedback"]]),
        "practice_fail": stopped(base_manikin, trainee, ex, score=79.96, passed=False),  # an old result: no cycle keys
        "other": stopped(base_manikin, other, ex, score=91.0, passed=True),
    }
    return {**site, "manikin": manikin, "base_manikin": base_manikin, "trainee": trainee, "other": other,
            "recs": recs}


def client_for(user):
    c = Client()
    c.force_login(user)
    return c


def section(html: str, name: str) -> str:
    m = re.search(r'<ul class="result-list" data-section="%s">(.*?)</ul>' % name, html, re.S)
    assert m, f"no {name} section"
    return m.group(1)


def test_my_results_separate_exams_from_practice_with_verdicts_and_sites(world):
    html = client_for(world["trainee"]).get(reverse("manikin:my_recordings")).content.decode()
    assert "我的成绩" in html
    exams, practice = section(html, "exam"), section(html, "practice")
    assert exams.count("<li>") == 2 and practice.count("<li>") == 1
    # exams: at the examiner's site, one passed, one incomplete (so not passed, whatever its score)
    assert "考点 · 考场" in exams and "培训基地" not in exams
    assert "85.0" in exams and "合格" in exams
    assert "88.0" in exams and "未完成：完成 3/5 个循环" in exams
    assert exams.count("不合格") == 1
    # practice: the training base, a failing 79.96 reads 79.9 (never 80.0), 不合格
    assert "培训基地 · 练习室" in practice
    assert "79.9" in practice and "80.0" not in practice and "不合格" in practice
    # the date and time, not a manikin label
    assert timezone.localtime(world["recs"]["practice_fail"].started_at).strftime("%Y-%m-%d %H:%M") in practice
    assert "B-1" not in html


def test_my_results_shows_only_my_own(world):
    html = client_for(world["other"]).get(reverse("manikin:my_recordings")).content.decode()
    assert section(html, "exam") == '<li class="empty">暂无考试记录。</li>'
    practice = section(html, "practice")
    assert practice.count("<li>") == 1 and "91.0" in practice
    assert "85.0" not in html and "79.9" not in html and "88.0" not in html
    for rec in ("exam_pass", "practice_fail"):
        assert reverse("manikin:recording", args=[world["recs"][rec].pk]) not in html


def test_result_page_formats_and_verdict(world):
    rec = world["recs"]["practice_fail"]
    html = client_for(world["trainee"]).get(reverse("manikin:recording", args=[rec.pk])).content.decode()
    main = html[html.index("<main"):]
    assert '<span class="num" data-score>79.9</span>' in main and "80.0" not in main
    assert "不合格" in main and "练习" in main
    assert "按压时间占比" in main and '<dd data-ccf>87%</dd>' in main
    assert "52.0 <span class=\"unit\">mm</span>" in main          # depth: one decimal
    assert "110 <span class=\"unit\">次/分</span>" in main       # rate: whole
    assert "<dd>79%</dd>" in main and "<dd>99%</dd>" in main       # percentages: whole, rounded down
    assert "1.0 <span class=\"unit\">mm</span>" in main            # residual depth: one decimal
    assert "3.0 <span class=\"unit\">s</span>" in main             # pause: one decimal
    assert "1,234" in main                                         # counts: thousands separators
    assert "<dd data-cycles>5</dd>" in main                        # an old result: the cycles it has
    assert "未完成" not in main
    # the trainee is sent back to their results, not to a console
    assert "data-back-to-console" not in main and reverse("manikin:my_recordings") in main


def test_result_page_incomplete_exam_and_console_link_for_staff(world):
    rec = world["recs"]["exam_incomplete"]
    html = client_for(world["examiner"]).get(reverse("manikin:recording", args=[rec.pk])).content.decode()
    main = html[html.index("<main"):]
    assert "不合格" in main and "未完成：完成 3/5 个循环" in main and "<dd data-cycles>3/5</dd>" in main
    assert 'data-purpose>考试<' in main
    assert f'href="{reverse("manikin:console", args=[world["room"].pk])}" data-back-to-console' in main


def test_result_page_passed(world):
    rec = world["recs"]["exam_pass"]
    html = client_for(world["trainee"]).get(reverse("manikin:recording", args=[rec.pk])).content.decode()
    main = html[html.index("<main"):]
    assert '<span class="num" data-score>85.0</span>' in main
    assert 'class="verdict big pass" data-verdict>合格<' in main


def test_trainee_screen_after_the_stop_shows_the_trainees_own_result(world):
    """The trainee may no longer watch the manikin (the socket closes with 4403), but the screen's state
    answers with their result; another trainee gets nothing."""
    url = reverse("manikin:live", args=[world["manikin"].pk])
    trainee = client_for(world["trainee"])
    page = trainee.get(url).content.decode()
    assert 'data-on-forbidden="event"' in page
    assert "未完成：完成 3/5 个循环" in page and "不合格" in page  # their latest attempt on this manikin
    # a bare layout: no navigation, no signed-in name, no logout
    assert reverse("lms:logout") not in page and reverse("lms:dashboard") not in page
    assert world["examiner"].real_name not in page and 'class="topbar"' not in page
    state = trainee.get(url, {"state": "1"}).json()
    assert state["active"] is False and state["recording"] == world["recs"]["exam_incomplete"].pk
    assert state["watching"] is False  # the trainee's screen waits by polling, not on a socket
    # the verdict says the attempt is incomplete; the three corrections after it follow
    assert "88.0" in state["html"] and "未完成规定的" not in state["html"]
    assert state["html"].count("<li>") == 3 and "按压深度不足" in state["html"] and "第四条建议" not in state["html"]
    assert client_for(world["other"]).get(url).status_code == 404
    assert client_for(world["other"]).get(url, {"state": "1"}).status_code == 404


def test_trainee_screen_for_staff_follows_the_manikin(world):
    url = reverse("manikin:live", args=[world["base_manikin"].pk])
    examiner_of_base = world["examiner"]
    # the examiner's own site: the latest result on its manikin, whoever's
    state = client_for(examiner_of_base).get(reverse("manikin:live", args=[world["manikin"].pk]),
                                             {"state": "1"}).json()
    assert state["recording"] == world["recs"]["exam_incomplete"].pk and not state["active"]
    # a recording starts: the screen is live
    rec = api.start_recording(examiner_of_base, world["manikin"], trainee=world["other"])
    state = client_for(examiner_of_base).get(reverse("manikin:live", args=[world["manikin"].pk]),
                                             {"state": "1"}).json()
    assert state == {"recording": rec.pk, "active": True, "watching": True, "html": state["html"]}
    # ... and while it runs the earlier trainee still sees only their own result there
    state = client_for(world["trainee"]).get(reverse("manikin:live", args=[world["manikin"].pk]),
                                             {"state": "1"}).json()
    assert state["recording"] == world["recs"]["exam_incomplete"].pk and not state["active"]
    # the training base is not the examiner's: not found
    assert client_for(examiner_of_base).get(url).status_code == 404


def test_dashboard_card_uses_the_score_format_and_says_exam_or_practice(world):
    html = client_for(world["trainee"]).get(reverse("lms:dashboard")).content.decode()
    assert "我的心肺复苏成绩" in html
    assert "79.9（不合格）" in html and "80（" not in html
    assert "练习" in html and "培训基地 · 练习室" in html


def test_my_results_in_english(world):
    c = client_for(world["trainee"])
    c.post("/i18n/setlang/", {"language": "en", "next": "/"})
    html = c.get(reverse("manikin:my_recordings")).content.decode()
    assert "My results" in html and ">Exams<" in html
    assert "Not passed" in html and "Passed" in html and "Incomplete: 3/5 cycles done" in html
    assert "合格" not in html and "我的成绩" not in html


def test_demo_results_of_the_demo_trainee(db):
    """``make demo``: the demo trainee has exam attempts and practice, passed and not, one incomplete."""
    from django.core.management import call_command

    call_command("load_demo", stdout=open("/dev/null", "w"))
    recs = Recording.objects.filter(trainee__username="trainee")
    assert {r.purpose for r in recs} == {Room.Mode.EXAM, Room.Mode.PRACTICE}
    assert {r.passed for r in recs} == {True, False}
    assert any(r.result["complete"] is False for r in recs)
    from manikin.demo_results import load_results

    assert load_results() == 0  # the demo's results are made once (the whole demo's idempotence: test_pages)
    assert Recording.objects.filter(trainee__username="trainee").count() == recs.count()
