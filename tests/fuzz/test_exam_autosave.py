"""Bad input for the theory exam's autosave: the HTTP endpoints (answer, leave) and the exam socket
(/ws/exams/attempts/<id>/). Any body or message is answered (400 with a reason in Chinese, or saved when it
happens to be a good answer); a rejected one stores nothing."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from exams import attempts
from exams.models import AnswerEvent, Attempt, LeaveEvent, PaperItem

from .conftest import FUZZ, FUZZ_FEW, assert_chinese_message, assert_unchanged, rolled_back, snapshot

TABLES = (AnswerEvent, LeaveEvent, Attempt, PaperItem)

small_json = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
                          | st.text(max_size=20),
                          lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner,
                                                                                      max_size=4),
                          max_leaves=12)
any_int = st.one_of(st.integers(-3, 20), st.integers(-2**70, 2**70), st.booleans(), st.none(), st.floats(),
                    st.text(max_size=5))
answer_body = st.fixed_dictionaries({}, optional={
    "position": any_int, "choice": st.one_of(st.lists(any_int, max_size=6), small_json), "seq": any_int,
    "returned": small_json, "type": st.sampled_from(["answer", "leave", "hello", ""]), "id": any_int})


@pytest.fixture
def open_attempt(exam, exam_trainee, base):
    from tests.exams.test_attempts import complete_theory

    complete_theory(exam_trainee, exam.programme, base)
    attempt = attempts.start_or_resume(exam_trainee, exam.blueprint)
    client = Client()
    client.force_login(exam_trainee)
    return attempt, client


def _check(resp):
    assert resp.status_code in (200, 400), (resp.status_code, resp.content[:300])
    data = json.loads(resp.content)
    if resp.status_code == 400:
        assert_chinese_message(data["error"])
    return data


@FUZZ
@given(body=st.one_of(answer_body.map(lambda d: json.dumps(d).encode()),
                      small_json.map(lambda v: json.dumps(v).encode()),
                      st.binary(max_size=300), st.just(b"x" * 70_000)))
def test_answer_endpoint_answers_any_body(open_attempt, body):
    attempt, client = open_attempt
    with rolled_back():
        before = snapshot(*TABLES, media=False)
        resp = client.post(f"/exams/attempts/{attempt.pk}/answer/", body, content_type="application/json")
        data = _check(resp)
        if resp.status_code == 400:
            assert_unchanged(before, snapshot(*TABLES, media=False))
        else:
            assert data["choice"] is not None and AnswerEvent.objects.count() == len(before["exams.AnswerEvent"]) + 1


@FUZZ_FEW
@given(body=st.one_of(answer_body.map(lambda d: json.dumps(d).encode()), st.binary(max_size=100)))
def test_leave_endpoint_answers_any_body(open_attempt, body):
    attempt, client = open_attempt
    with rolled_back():
        before = snapshot(*TABLES, media=False)
        resp = client.post(f"/exams/attempts/{attempt.pk}/leave/", body, content_type="application/json")
        _check(resp)
        if resp.status_code == 400:
            assert_unchanged(before, snapshot(*TABLES, media=False))


ws_message = st.one_of(
    answer_body.map(lambda d: json.dumps({"type": "answer", **d})),
    answer_body.map(json.dumps),
    small_json.map(json.dumps),
    st.text(min_size=1, max_size=60),
    st.just("x" * 3000),
)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@FUZZ_FEW
@given(messages=st.lists(ws_message, min_size=1, max_size=20))
def test_exam_socket_answers_any_message(open_attempt, messages):
    """Every message gets one reply: saved, or an error (400 bad, 429 too many at once) with a reason in Chinese;
    only the saved ones are stored."""
    from tests.exams.test_exam_socket import socket

    attempt, _client = open_attempt
    user = attempt.user

    async def run():
        comm = await socket(user, attempt.pk)
        assert (await comm.connect())[0]
        before = await database_sync_to_async(AnswerEvent.objects.count)()
        saved = 0
        for text in messages:
            await comm.send_to(text_data=text)
            reply = await comm.receive_json_from(timeout=10)
            if reply["type"] == "saved":
                saved += 1
            elif reply["type"] == "error":
                assert reply["status"] in (400, 409, 429), reply  # 409: closed (too many leaves)
                assert_chinese_message(reply["error"])
            else:
                assert reply["type"] == "leave"
        assert await database_sync_to_async(AnswerEvent.objects.count)() == before + saved
        await comm.disconnect()

    async_to_sync(run)()
