"""The examiner's console pages: the trainee picker, exam mode, the result on the tile and the room's result
history, the confirmed token rotation and the bridge command on the set-up page."""

import datetime
import re
import shlex

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from lms import protection
from lms.models import AuditLog, Role
from manikin import api
from manikin.bridge.__main__ import build_parser, server_url
from manikin.models import Manikin, Recording, Room, Station, token_digest

pytestmark = pytest.mark.django_db


def client_for(user):
    c = Client()
    c.force_login(user)
    return c


def id_card(serial: int, birth: str = "19900101") -> str:
    first17 = f"330106{birth}{serial:03d}"
    return first17 + protection.id_card_check_char(first17)


@pytest.fixture
def room(site):
    return site["room"]


@pytest.fixture
def manikin(site):
    return Manikin.objects.get(station=site["s1"])


@pytest.fixture
def admin(regions, make_person):
    return make_person(regions["xihu"], roles=(), admin_of=regions["xihu"])


def search(client, room, q):
    response = client.get(reverse("manikin:trainee_search", args=[room.pk]), {"q": q})
    assert response.status_code == 200
    return response.json()


def stopped(manikin, trainee, starter, *, score, passed, purpose=Room.Mode.PRACTICE, minutes_ago=0, **extra):
    rec = Recording.objects.create(
        manikin=manikin, trainee=trainee, started_by=starter, stopped_by=starter, standard_id="crc-first-aider-2024",
        purpose=purpose, stopped_at=timezone.now(), sample_count=6000, score=score, passed=passed,
        outcome=Recording.Outcome.SCORED, result={"score": score, "passed": passed, "feedback": [], "compressions": [],
                                                  **extra})
    when = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    Recording.objects.filter(pk=rec.pk).update(started_at=when - datetime.timedelta(minutes=2), stopped_at=when)
    rec.refresh_from_db()
    return rec


# ------------------------------------------------------------------ the trainee picker


def test_picker_finds_trainees_by_name_and_id_card_tail_within_the_room_region_and_limited(site, regions,
                                                                                         make_person, room):
    many = [make_person(regions["xihu"], real_name="王伟", id_card=id_card(i)) for i in range(1, 26)]
    zhang = make_person(regions["xihu"], real_name="张三丰", id_card=id_card(77))
    far = make_person(regions["beilun"], real_name="王伟远", id_card=id_card(78))  # another region: never offered
    make_person(regions["xihu"], roles=(Role.INSTRUCTOR,), real_name="王伟老师")  # not a trainee
    c = client_for(site["examiner"])

    by_name = search(c, room, "王伟")
    assert len(by_name["results"]) == api.TRAINEE_SEARCH_LIMIT == 20 and by_name["more"] is True
    assert {r["name"] for r in by_name["results"]} == {"王伟"}
    # the masked number is all a result shows: its last four characters tell namesakes apart
    first = by_name["results"][0]
    assert re.fullmatch(r"330\*{11}[\dX]{4}", first["id_card"]) and first["label"].startswith("王伟（330****")

    tail = zhang.id_card_masked[-4:]
    by_tail = search(c, room, tail)
    assert [r["id"] for r in by_tail["results"]] == [zhang.pk] and by_tail["more"] is False
    assert [r["id"] for r in search(c, room, many[3].id_card_masked[-2:])["results"]].count(many[3].pk) == 1
    assert search(c, room, far.id_card_masked[-4:])["results"] == []
    assert search(c, room, "王伟远")["results"] == [] and search(c, room, "老师")["results"] == []
    # more than four digits: the stored form keeps only the last four, so nothing longer can match
    assert search(c, room, id_card(77)[-6:])["results"] == []

    # outside the room's scope: not found; not signed in: to the login page
    assert client_for(site["stranger"]).get(reverse("manikin:trainee_search", args=[room.pk])).status_code == 404
    assert Client().get(reverse("manikin:trainee_search", args=[room.pk])).status_code == 302


def test_start_takes_the_chosen_trainee_or_a_typed_name_that_matches_one_and_refuses_others(site, regions,
                                                                                         make_person, room, manikin):
    a = make_person(regions["xihu"], real_name="赵敏", id_card=id_card(11))
    make_person(regions["xihu"], real_name="赵敏", id_card=id_card(12))
    unique = make_person(regions["xihu"], real_name="钱多多", id_card=id_card(13))
    far = make_person(regions["beilun"], real_name="孙远", id_card=id_card(14))
    c = client_for(site["examiner"])
    url = reverse("manikin:start", args=[manikin.pk])

    # not recordable here (another region): refused, nothing started
    response = c.post(url, {"trainee": far.pk}, follow=True)
    assert not Recording.objects.exists()
    assert "有效" in response.content.decode() or "选择" in response.content.decode()
    # two people of that name: the examiner is asked to choose
    response = c.post(url, {"trainee_q": "赵敏"}, follow=True)
    assert not Recording.objects.exists() and "有多名学员与“赵敏”匹配" in response.content.decode()
    # without script the typed name is sent: one match is taken
    c.post(url, {"trainee_q": "钱多多"})
    rec = Recording.objects.get()
    assert rec.trainee == unique and rec.purpose == Room.Mode.PRACTICE
    api.stop_recording(site["examiner"], rec)
    # the picker's choice (the hidden id) wins over the text shown in the box
    c.post(url, {"trainee": a.pk, "trainee_q": "赵敏（330***********0123）"})
    assert Recording.objects.filter(stopped_at__isnull=True).get().trainee == a


# ------------------------------------------------------------------ exam mode


def test_a_room_admin_sets_exam_mode_and_the_console_offers_no_practice_and_no_standard(site, admin, room,
                                                                                      manikin, regions, make_person):
    trainee = make_person(regions["xihu"], real_name="周考生", id_card=id_card(21))
    setup = reverse("manikin:room_setup", args=[room.pk])
    # the examiner may not change it; an unknown standard is refused
    with pytest.raises(PermissionDenied):
        api.set_room_mode(site["examiner"], room, mode=Room.Mode.EXAM, standard_id="aha-2020")
    with pytest.raises(ValidationError):
        api.set_room_mode(admin, room, mode=Room.Mode.EXAM, standard_id="no-such-standard")
    room.refresh_from_db()
    assert room.mode == Room.Mode.PRACTICE

    response = client_for(admin).post(setup, {"set_mode": "1", "mode": "exam", "standard_id": "aha-2020"})
    assert response.status_code == 302
    room.refresh_from_db()
    assert (room.mode, room.standard_id) == (Room.Mode.EXAM, "aha-2020")
    entry = AuditLog.objects.get(action="manikin.room.set_mode")
    assert entry.before == {"mode": "practice", "standard": ""} and entry.after == {"mode": "exam", "standard": "aha-2020"}

    c = client_for(site["examiner"])
    html = c.get(reverse("manikin:console", args=[room.pk])).content.decode()
    assert "考试模式" in html and "练习模式" not in html
    assert 'name="standard_id"' not in html and "留空为练习" not in html
    assert "AHA" in html  # the room's standard is the target shown

    # practice is refused with a clear message (form and api alike), nothing is stored
    response = c.post(reverse("manikin:start", args=[manikin.pk]), {}, follow=True)
    assert "本考场为考试模式，不提供练习" in response.content.decode()
    with pytest.raises(ValidationError, match="考试模式"):
        api.start_recording(site["examiner"], manikin)
    # another standard than the room's is refused
    with pytest.raises(ValidationError):
        api.start_recording(site["examiner"], manikin, trainee=trainee, standard_id="crc-first-aider-2024")
    assert not Recording.objects.exists()
    # a posted standard is not taken either: the room's is used, and the attempt is an exam
    c.post(reverse("manikin:start", args=[manikin.pk]), {"trainee": trainee.pk, "standard_id": "erc-2021"})
    rec = Recording.objects.get()
    assert (rec.trainee, rec.standard_id, rec.purpose) == (trainee, "aha-2020", Room.Mode.EXAM)

    # back to practice: recordings are practice again, any standard may be chosen
    client_for(admin).post(setup, {"set_mode": "1", "mode": "practice", "standard_id": "crc-first-aider-2024"})
    api.stop_recording(site["examiner"], rec)
    practice = api.start_recording(site["examiner"], manikin, standard_id="erc-2021")
    assert (practice.purpose, practice.standard_id, practice.trainee) == (Room.Mode.PRACTICE, "erc-2021", None)
    assert "练习模式" in c.get(reverse("manikin:console", args=[room.pk])).content.decode()


# ------------------------------------------------------------------ the result on the tile, the history


def test_stop_returns_to_the_console_where_the_tile_shows_the_result_rounded_down(site, regions, make_person, room,
                                                                                  manikin):
    trainee = make_person(regions["xihu"], real_name="吴学员", id_card=id_card(31))
    rec = api.start_recording(site["examiner"], manikin, trainee=trainee)
    c = client_for(site["examiner"])
    response = c.post(reverse("manikin:stop", args=[rec.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("manikin:console", args=[room.pk]) + f"#manikin-{manikin.pk}"
    # a failing 79.95 reads 79.9 on the tile, with 不合格 and the result page one click away
    Recording.objects.filter(pk=rec.pk).update(score=79.95, passed=False, outcome=Recording.Outcome.SCORED)
    html = c.get(reverse("manikin:console", args=[room.pk])).content.decode()
    box = re.search(r"<div class=\"tile-result\" data-result-box >(.*?)</div>", html, re.S)
    assert box, "no result on the tile"
    assert ">79.9<" in box.group(1) and "80" not in box.group(1).replace(f"/recordings/{rec.pk}/", "")
    assert "不合格" in box.group(1) and f'href="/recordings/{rec.pk}/"' in box.group(1)
    assert "吴学员" in box.group(1)
    # Cycles as the live tile counts them: "3/5" while short of the standard, the count alone past it.
    for done, shown in ((3, "3/5"), (5, "5/5"), (6, "6")):
        Recording.objects.filter(pk=rec.pk).update(result={"cycles_done": done, "cycles_expected": 5})
        html = c.get(reverse("manikin:console", args=[room.pk])).content.decode()
        assert f'<span data-field="cycles">{shown}</span>' in html


def test_room_history_lists_the_rooms_recordings_newest_first_filtered_and_scoped(site, regions, make_person,
                                                                                 room, manikin, admin):
    a = make_person(regions["xihu"], real_name="郑一", id_card=id_card(41))
    b = make_person(regions["xihu"], real_name="冯二", id_card=id_card(42))
    other_room = api.create_room(None, organisation=room.organisation, name="另一考场")
    st, _ = api.create_station(None, room=other_room, name="9号")
    other_manikin = api.assign_manikin(None, station=st, address="F0:0D:00:00:00:99")
    ex = site["examiner"]
    old = stopped(manikin, a, ex, score=79.96, passed=False, minutes_ago=3 * 24 * 60)
    exam = stopped(manikin, b, ex, score=91.0, passed=True, purpose=Room.Mode.EXAM, minutes_ago=5)
    elsewhere = stopped(other_manikin, a, ex, score=88.0, passed=True, minutes_ago=1)
    for i in range(30):
        stopped(manikin, None, ex, score=60.0 + i, passed=False, minutes_ago=10 + i)
    url = reverse("manikin:room_history", args=[room.pk])
    c = client_for(ex)

    html = c.get(url).content.decode()
    rows = re.findall(r'<tr data-recording="(\d+)">', html)
    assert len(rows) == 25 and int(rows[0]) == exam.pk  # newest first, 25 a page
    assert str(elsewhere.pk) not in rows
    assert "共 32 条记录" in html and "第 1 页，共 2 页" in html
    row = re.search(rf'<tr data-recording="{exam.pk}">(.*?)</tr>', html, re.S).group(1)
    assert "冯二" in row and "考试" in row and "91.0" in row and "合格" in row and "中国红十字会" in row
    page2 = c.get(url, {"page": 2}).content.decode()
    assert str(old.pk) in re.findall(r'<tr data-recording="(\d+)">', page2)
    old_row = re.search(rf'<tr data-recording="{old.pk}">(.*?)</tr>', page2, re.S).group(1)
    assert "79.9" in old_row and "80.0" not in old_row and "不合格" in old_row and "练习" in old_row

    # by trainee: name, or the last digits of the ID-card number
    for q in ("郑一", a.id_card_masked[-4:]):
        assert re.findall(r'<tr data-recording="(\d+)">', c.get(url, {"trainee": q}).content.decode()) == [str(old.pk)]
    # by date: the old one alone, then everything but it; the filter is kept on the next page's link
    day = timezone.localtime(old.started_at).date()
    only_old = c.get(url, {"date_from": day.isoformat(), "date_to": day.isoformat()}).content.decode()
    assert re.findall(r'<tr data-recording="(\d+)">', only_old) == [str(old.pk)]
    recent = c.get(url, {"date_from": (day + datetime.timedelta(days=1)).isoformat()}).content.decode()
    assert "共 31 条记录" in recent and f"date_from={(day + datetime.timedelta(days=1)).isoformat()}&amp;page=2" in recent

    # scope: the room's staff and its region's admin; not an examiner elsewhere; not signed in: login
    assert client_for(admin).get(url).status_code == 200
    assert client_for(site["stranger"]).get(url).status_code == 404
    with pytest.raises(PermissionDenied):
        api.room_recordings(site["stranger"], room)
    assert Client().get(url).status_code == 302


# ------------------------------------------------------------------ station tokens and the bridge command


def test_rotating_a_token_needs_the_confirmation_and_the_page_shows_a_bridge_command_that_works(site, admin, room,
                                                                                                settings):
    station = site["s1"]
    before = Station.objects.get(pk=station.pk).token_digest
    url = reverse("manikin:room_setup", args=[room.pk])
    c = client_for(admin)

    # the first press asks: nothing changes, the page says the bridge will be disconnected
    html = c.post(url, {"rotate": station.pk}).content.decode()
    assert Station.objects.get(pk=station.pk).token_digest == before
    assert "data-confirm-rotate" in html and "桥接程序会马上断开" in html
    assert 'name="confirm" value="1"' in html
    assert not AuditLog.objects.filter(action="manikin.station.rotate_token").exists()

    # confirmed: a new token, and the command as the browser's host and scheme give it
    html = c.post(url, {"rotate": station.pk, "confirm": "1"}).content.decode()
    after = Station.objects.get(pk=station.pk).token_digest
    assert after != before and AuditLog.objects.filter(action="manikin.station.rotate_token").count() == 1
    command = re.search(r"<pre class=\"mono command\" data-bridge-command>(.*?)</pre>", html, re.S).group(1)
    assert " --server ws://testserver" in command and "http://" not in command
    env, *argv = shlex.split(command)
    token = env.split("=", 1)[1]
    assert token_digest(token) == after
    assert argv[:3] == ["python", "-m", "manikin.bridge"]
    args = build_parser().parse_args(argv[3:])
    assert server_url(args.server) == ("ws://testserver", None)  # the bridge takes it as it is

    # over HTTPS: wss://, and the host the browser used
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "lms.example.org"]
    html = c.post(url, {"rotate": station.pk, "confirm": "1"}, secure=True,
                  HTTP_HOST="lms.example.org").content.decode()
    assert "--server wss://lms.example.org" in html


def test_the_bridge_takes_ws_urls_and_maps_a_pasted_http_url_with_a_note():
    assert server_url("wss://lms.example.org/") == ("wss://lms.example.org", None)
    url, note = server_url("https://lms.example.org")
    assert url == "wss://lms.example.org" and "wss://" in note
    assert server_url("http://127.0.0.1:8100")[0] == "ws://127.0.0.1:8100"
    for bad in ("ftp://x", "lms.example.org", ""):
        with pytest.raises(ValueError):
            server_url(bad)


def test_the_demo_prints_the_simulator_command_with_the_servers_real_port(monkeypatch):
    from manikin import demo

    monkeypatch.setenv("LMS_DEMO_URL", "http://127.0.0.1:8100")
    assert demo.demo_server_url() == "ws://127.0.0.1:8100"
    monkeypatch.setenv("LMS_DEMO_URL", "https://demo.example.org/")
    assert demo.demo_server_url() == "wss://demo.example.org"
