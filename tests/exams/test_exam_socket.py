"""The exam socket (/ws/exams/attempts/<id>/) and the group commit of answers (exams/autosave.py).

Real sessions (the test client signs in; its cookie goes on the socket), the real ASGI router, the
in-memory channel layer and the test database."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone

from exams import attempts
from exams.autosave import Save, save_answers
from exams.models import AnswerEvent, Attempt, LeaveEvent
from lms.models import AuditLog, Role
from lms.routing import application
from lms.sockets import AUTH_CLOSE_CODE, FORBIDDEN_CLOSE_CODE

from .test_attempts import at, complete_theory, key_displayed, wrong_displayed

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
ORIGIN = "http://127.0.0.1:8000"


@pytest.fixture
def ready(exam, exam_trainee, base):
    complete_theory(exam_trainee, exam.programme, base)
    return exam


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


async def socket(user, attempt_id, origin=ORIGIN):
    headers = [(b"origin", origin.encode()), (b"host", b"127.0.0.1:8000"), (b"x-forwarded-for", b"203.0.113.7")]
    if user is not None:
        client = await database_sync_to_async(_signed_in)(user)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return WebsocketCommunicator(application, f"/ws/exams/attempts/{attempt_id}/", headers=headers)


async def ask(comm, message):
    await comm.send_to(text_data=json.dumps(message) if not isinstance(message, str) else message)
    return await comm.receive_json_from(timeout=5)


def _start(user, blueprint):
    attempt = attempts.start_or_resume(user, blueprint)
    items = list(attempt.items.select_related("version").order_by("position"))
    return attempt, items


async def test_an_answer_over_the_socket_is_saved_before_it_is_acknowledged(ready, exam_trainee):
    attempt, items = await database_sync_to_async(_start)(exam_trainee, ready.blueprint)
    single = next(i for i in items if i.version.kind == "single")
    comm = await socket(exam_trainee, attempt.pk)
    assert (await comm.connect())[0]
    reply = await ask(comm, {"type": "answer", "id": 7, "position": single.position, "choice": [2], "seq": 1})
    assert reply["type"] == "saved" and reply["id"] == 7 and reply["counts"] is True and reply["choice"] == [2]
    assert 0 < reply["remaining_s"] <= ready.blueprint.time_limit_s

    def stored():
        event = AnswerEvent.objects.get(item=single)
        log = AuditLog.objects.get(action="exams.answer_saved", object_id=str(attempt.pk))
        return event.choice, event.client_seq, log.ip

    assert await database_sync_to_async(stored)() == ([single.option_order[2]], 1, "203.0.113.7")
    left = await ask(comm, {"type": "leave", "id": 8, "returned": False})
    assert left["type"] == "leave" and left["leave_count"] == 1
    assert await database_sync_to_async(LeaveEvent.objects.filter(attempt=attempt).count)() == 1
    await comm.disconnect()


async def test_only_the_trainee_may_open_their_attempts_socket(ready, exam_trainee, make_person, regions):
    attempt, _items = await database_sync_to_async(_start)(exam_trainee, ready.blueprint)
    other = await database_sync_to_async(make_person)(regions["xihu"], roles=(Role.TRAINEE,), username="pangren")
    comm = await socket(other, attempt.pk)
    connected, code = await comm.connect()
    assert not connected and code == FORBIDDEN_CLOSE_CODE
    anonymous = await socket(None, attempt.pk)
    connected, code = await anonymous.connect()
    assert not connected and code == AUTH_CLOSE_CODE
    elsewhere = await socket(exam_trainee, attempt.pk, origin="https://evil.example")
    assert not (await elsewhere.connect())[0]


async def test_bad_messages_are_answered_with_the_reason_and_store_nothing(ready, exam_trainee):
    attempt, items = await database_sync_to_async(_start)(exam_trainee, ready.blueprint)
    single = next(i for i in items if i.version.kind == "single")
    comm = await socket(exam_trainee, attempt.pk)
    assert (await comm.connect())[0]
    for message, status in (("not json", 400), ({"type": "hello"}, 400),
                            ({"type": "answer", "id": 1, "position": single.position, "choice": [0, 1]}, 400),
                            ({"type": "answer", "id": 2, "position": 999, "choice": [0]}, 400),
                            ({"type": "answer", "id": 3, "position": single.position, "choice": [0], "seq": -5}, 400)):
        reply = await ask(comm, message)
        assert reply["type"] == "error" and reply["status"] == status and reply["error"]
    assert "请" in (await ask(comm, {"type": "answer", "id": 4, "position": single.position, "choice": []}))["error"]
    assert not await database_sync_to_async(AnswerEvent.objects.exists)()
    await comm.disconnect()


async def test_a_closed_attempt_takes_no_more_answers(ready, exam_trainee):
    attempt, items = await database_sync_to_async(_start)(exam_trainee, ready.blueprint)
    comm = await socket(exam_trainee, attempt.pk)
    assert (await comm.connect())[0]
    # The time runs out (the deadline moved into the past stands in for waiting 45 minutes).
    await database_sync_to_async(Attempt.objects.filter(pk=attempt.pk).update)(
        started_at=timezone.now() - timedelta(hours=1), deadline_at=timezone.now() - timedelta(seconds=1))
    reply = await ask(comm, {"type": "answer", "id": 1, "position": items[0].position, "choice": [0], "seq": 9})
    assert reply["type"] == "error" and reply["status"] == 409 and reply["closed"] is True
    closed = await database_sync_to_async(Attempt.objects.get)(pk=attempt.pk)
    assert closed.status == Attempt.Status.SUBMITTED and closed.submitted_by == Attempt.SubmittedBy.TIME_LIMIT
    assert not await database_sync_to_async(AnswerEvent.objects.exists)()
    await comm.disconnect()


def test_a_batch_saves_each_answer_by_the_rules_and_one_bad_save_costs_the_others_nothing(
        ready, exam_trainee, make_person, regions, base):
    other = make_person(regions["xihu"], roles=(Role.TRAINEE,), username="tongxue")
    complete_theory(other, ready.programme, base)
    mine = attempts.start_or_resume(exam_trainee, ready.blueprint, now=at(0))
    theirs = attempts.start_or_resume(other, ready.blueprint, now=at(0))
    item = mine.items.filter(version__kind="single").select_related("version").first()
    their_item = theirs.items.select_related("version").order_by("position").first()
    results = save_answers([
        Save(exam_trainee, mine.pk, item.position, key_displayed(item), 3000, at(10)),
        Save(exam_trainee, mine.pk, item.position, wrong_displayed(item), 2000, at(11)),  # older, arrives late
        Save(exam_trainee, theirs.pk, their_item.position, [0], 1, at(11)),  # not theirs to answer
        Save(other, theirs.pk, their_item.position, key_displayed(their_item), 1, at(12)),
        Save(other, theirs.pk, 999, [0], 2, at(12)),  # no such question
    ])
    assert results[0]["counts"] is True and results[0]["choice"] == key_displayed(item)
    assert results[1]["counts"] is False and results[1]["choice"] == key_displayed(item)
    assert isinstance(results[2], PermissionDenied)
    assert results[3]["counts"] is True
    assert isinstance(results[4], ValidationError)
    assert AnswerEvent.objects.filter(item=item).count() == 2  # append-only: the late one is kept, not counted
    assert attempts.current_answers(mine) == {item.pk: sorted(item.version.correct)}
    assert AnswerEvent.objects.filter(item=their_item).count() == 1
    assert AuditLog.objects.filter(action="exams.answer_saved").count() == 3
