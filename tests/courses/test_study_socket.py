"""The study socket (/ws/study/): heartbeats over one authenticated connection, credited by the same rules.

Real sessions (the Django test client signs in; its cookie goes on the socket), the real ASGI
router, the in-memory channel layer and the test database; time is the server's real clock, so the
crediting test waits one real second."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.exceptions import ValidationError
from django.test import Client

from courses import api
from courses.consumers import BEAT_BURST
from courses.models import Enrolment, LessonProgress, StudyClock
from lms.routing import application
from lms.sockets import AUTH_CLOSE_CODE

from .study_support import *  # noqa: F403
from .study_support import add_module, at, make_class, make_programme, text_block

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
ORIGIN = "http://127.0.0.1:8000"


@pytest.fixture
def world(tree, base, trainee):
    course = tree.course()
    module = tree.module(course, "心肺复苏与AED")
    lesson = tree.lesson(module, "胸外按压", minutes=10, body=[text_block("t1")])
    programme = make_programme(code="menu", mode="menu", required_credits=1)
    add_module(programme, module, credits=1)
    klass = make_class(programme, base)
    enrolment, _ = api.enrol(None, trainee, klass, source=Enrolment.Source.ADMIN)
    other = tree.lesson(tree.module(tree.course("别的课程"), "别的模块"), "别的课")
    return {"lesson": lesson, "other": other, "enrolment": enrolment}


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


async def socket(user=None, origin=ORIGIN, client=None):
    """A browser's study socket with a real session cookie (none for ``user=None``)."""
    headers = [(b"origin", origin.encode()), (b"host", b"127.0.0.1:8000")]
    if user is not None or client is not None:
        client = client or await database_sync_to_async(_signed_in)(user)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    comm = WebsocketCommunicator(application, "/ws/study/", headers=headers)
    comm.client = client
    return comm


async def beat(comm, lesson_id, n, visible=True, start=False):
    await comm.send_to(text_data=json.dumps({"type": "beat", "id": n, "lesson": lesson_id, "visible": visible,
                                             "start": start}))
    return await comm.receive_json_from(timeout=5)


async def closed_with(comm, timeout=5):
    while True:
        out = await comm.receive_output(timeout=timeout)
        if out["type"] == "websocket.close":
            return out["code"]


async def test_beats_over_the_socket_are_credited_by_the_servers_clock(world, trainee):
    comm = await socket(trainee)
    assert (await comm.connect())[0]
    lesson = world["lesson"]
    first = await beat(comm, lesson.pk, 1, start=True)
    assert first == {"type": "beat", "id": 1, "credited_s": 0, "lesson_seconds": 0, "complete": False}
    await asyncio.sleep(1.1)
    second = await beat(comm, lesson.pk, 2)
    assert second["id"] == 2 and second["credited_s"] == 1 and second["lesson_seconds"] == 1
    hidden = await beat(comm, lesson.pk, 3, visible=False)
    assert hidden["credited_s"] == 0
    stored = await database_sync_to_async(lambda: LessonProgress.objects.get(user=trainee, lesson_id=lesson.pk))()
    assert stored.seconds_on_task == 1
    await comm.disconnect()


async def test_the_socket_and_http_share_one_clock(world, trainee):
    """Two transports (a socket and an HTTP beat) earn no more than the real time, like two tabs."""
    comm = await socket(trainee)
    assert (await comm.connect())[0]
    lesson = world["lesson"]
    await beat(comm, lesson.pk, 1, start=True)
    await asyncio.sleep(1.1)
    response = await database_sync_to_async(comm.client.post)(
        "/study/heartbeat/", {"lesson": lesson.pk, "visible": True}, content_type="application/json")
    assert response.json()["credited_s"] == 1
    again = await beat(comm, lesson.pk, 2)  # the HTTP beat took the second: nothing left for this one
    assert again["credited_s"] == 0 and again["lesson_seconds"] == 1
    await comm.disconnect()


async def test_a_signed_out_socket_is_refused(world):
    comm = await socket(None)
    connected, code = await comm.connect()
    assert not connected and code == AUTH_CLOSE_CODE


async def test_another_sites_page_may_not_open_the_socket(world, trainee):
    comm = await socket(trainee, origin="https://evil.example")
    connected, _code = await comm.connect()
    assert not connected


async def test_without_the_privacy_consent_the_socket_is_refused(world, trainee, settings):
    settings.LMS_PRIVACY_CONSENT_REQUIRED = True
    comm = await socket(trainee)
    connected, code = await comm.connect()
    assert not connected and code == AUTH_CLOSE_CODE


async def test_a_timed_out_session_is_refused(world, trainee, settings):
    client = await database_sync_to_async(_signed_in)(trainee)

    def age_session():
        session = client.session
        session["lms_seen_at"] = 1  # seen long ago
        session.save()

    await database_sync_to_async(age_session)()
    comm = await socket(client=client)
    connected, code = await comm.connect()
    assert not connected and code == AUTH_CLOSE_CODE


async def test_refusals_say_why_and_change_nothing(world, trainee):
    comm = await socket(trainee)
    assert (await comm.connect())[0]
    not_mine = await beat(comm, world["other"].pk, 1, start=True)
    assert not_mine["type"] == "error" and not_mine["status"] == 403 and not_mine["id"] == 1
    assert "报名" in not_mine["error"]  # in the person's language (Chinese by default)
    missing = await beat(comm, 999999, 2)
    assert missing["status"] == 404
    for text in ("not json", json.dumps([1]), json.dumps({"type": "beat", "lesson": world["lesson"].pk,
                                                          "visible": "yes"}), "x" * 5000):
        await comm.send_to(text_data=text)
        reply = await comm.receive_json_from(timeout=5)
        assert reply["type"] == "error" and reply["status"] == 400
    assert not await database_sync_to_async(
        lambda: StudyClock.objects.filter(user=trainee).exists() or LessonProgress.objects.filter(user=trainee).exists())()
    ok = await beat(comm, world["lesson"].pk, 3, start=True)  # the socket still works after bad messages
    assert ok["type"] == "beat"
    await comm.disconnect()


async def test_a_flood_of_beats_is_cut_off_and_credits_nothing_more(world, trainee):
    comm = await socket(trainee)
    assert (await comm.connect())[0]
    replies = [await beat(comm, world["lesson"].pk, n, start=(n == 0)) for n in range(BEAT_BURST + 3)]
    limited = [r for r in replies if r["type"] == "error"]
    assert limited and all(r["status"] == 429 for r in limited)
    assert sum(r.get("credited_s", 0) for r in replies) <= 1  # no more than the real time that passed
    await comm.disconnect()


async def test_a_withdrawn_trainee_is_refused_on_the_next_beat(world, trainee):
    comm = await socket(trainee)
    assert (await comm.connect())[0]
    assert (await beat(comm, world["lesson"].pk, 1, start=True))["type"] == "beat"

    def withdraw():
        enrolment = world["enrolment"]
        enrolment.status = Enrolment.Status.WITHDRAWN
        enrolment.save()

    await database_sync_to_async(withdraw)()
    await asyncio.sleep(0.2)  # the access.changed event reaches the socket
    refused = await beat(comm, world["lesson"].pk, 2)
    assert refused["type"] == "error" and refused["status"] == 403
    await comm.disconnect()


async def test_logging_out_closes_the_socket(world, trainee):
    comm = await socket(trainee)
    assert (await comm.connect())[0]
    await database_sync_to_async(comm.client.post)("/logout/")
    assert await closed_with(comm) == AUTH_CLOSE_CODE


def test_one_failing_beat_of_a_group_commit_costs_the_others_nothing(world, trainee):
    lesson = world["lesson"]
    good = api.heartbeat_lesson(trainee, lesson.pk)
    results = api.record_heartbeats([
        api.Beat(trainee, good, True, True, at(0)),
        api.Beat(trainee, good, "yes", False, at(10)),  # malformed: refused alone
        api.Beat(trainee, good, True, False, at(20)),
    ])
    assert isinstance(results[1], ValidationError)
    assert results[0]["credited_s"] == 0 and results[2]["credited_s"] == 20
    assert LessonProgress.objects.get(user=trainee, lesson_id=lesson.pk).seconds_on_task == 20
