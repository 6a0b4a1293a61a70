"""WebSockets under a careless bridge and a changing world: every message answered, access that stays true."""

import asyncio
import json
import logging
import time

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from lms.models import Role, RoleAssignment
from manikin import api, consumers
from manikin.live import room_group
from manikin.models import Manikin, RejectedFrame

from .test_consumers import ADDR, bridge_socket, console_socket, hello

pytestmark = pytest.mark.django_db(transaction=True)


def sample(seq, t0=None, n=5, **extra):
    """``n`` samples measured just now (by default), sent now."""
    t0 = time.time() - n * 0.01 if t0 is None else t0
    return {"type": "samples", "seq": seq, "device": ADDR, "protocol": "laerdal-qcpr", "sent_at": time.time(),
            "t": [t0 + i * 0.01 for i in range(n)], "depth_mm": [40.0] * n, "volume_ml": None, "lost": 0,
            "malformed": 0, **extra}


async def receive_until(comm, kind, timeout=5):
    while True:
        msg = await comm.receive_json_from(timeout=timeout)
        if msg.get("type") == kind:
            return msg


async def closed_with(comm, timeout=5):
    while True:
        out = await comm.receive_output(timeout=timeout)
        if out["type"] == "websocket.close":
            return out["code"]


async def test_a_bridge_that_never_says_hello_is_closed(site, settings):
    settings.MANIKIN_HELLO_TIMEOUT_S = 0.2
    comm = bridge_socket(site["tok1"])
    assert (await comm.connect())[0]
    error = await comm.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["code"] == "no_hello"
    assert await closed_with(comm) == consumers.TIMEOUT_CLOSE_CODE


async def test_everything_before_hello_is_kept_and_answered(site):
    comm = bridge_socket(site["tok1"])
    await comm.connect()
    await comm.send_to(text_data="this is not json")
    assert (await comm.receive_json_from(timeout=5))["code"] == "bad_json"
    await comm.send_json_to(sample(5))
    ack = await comm.receive_json_from(timeout=5)
    assert ack == {"type": "ack", "seqs": [5]}  # kept as rejected: the bridge need not send it again
    error = await comm.receive_json_from(timeout=5)
    assert error["code"] == "no_hello" and error["seq"] == 5
    await comm.send_json_to({**sample(6), "seq": "six"})
    assert (await comm.receive_json_from(timeout=5))["code"] == "bad_seq"
    welcome = await hello(comm)
    assert welcome["type"] == "welcome"
    await comm.disconnect()
    kept = await database_sync_to_async(lambda: list(RejectedFrame.objects.order_by("pk").values_list(
        "code", "seq", "bridge_id")))()
    assert kept == [("bad_json", None, ""), ("no_hello", 5, ""), ("bad_seq", None, "")]


async def test_after_hello_bad_messages_are_kept_and_answered_and_good_ones_still_stored(site):
    comm = bridge_socket(site["tok1"])
    await comm.connect()
    await hello(comm)
    await comm.send_to(text_data="[" * 100_000)
    assert (await comm.receive_json_from(timeout=5))["code"] == "bad_json"
    await comm.send_json_to({**sample(1), "seq": 1.5})
    assert (await comm.receive_json_from(timeout=5))["code"] == "bad_seq"
    await comm.send_to(text_data=json.dumps(sample(2)).replace('"lost": 0', '"lost": Infinity'))
    assert (await comm.receive_json_from(timeout=5))["code"] == "bad_json"
    await comm.send_json_to(sample(3))
    assert await receive_until(comm, "ack") == {"type": "ack", "seqs": [3]}
    await comm.disconnect()
    assert await database_sync_to_async(RejectedFrame.objects.count)() == 3


async def test_two_stations_cannot_share_a_bridge_id_even_before_it_sent_anything(site):
    first = bridge_socket(site["tok1"])
    await first.connect()
    assert (await hello(first, "shared"))["type"] == "welcome"
    second = bridge_socket(site["tok2"])
    await second.connect()
    error = await hello(second, "shared")
    assert error["code"] == "bridge_id_taken"
    assert await closed_with(second) == consumers.BRIDGE_TAKEN_CLOSE_CODE
    await first.disconnect()
    third = bridge_socket(site["tok2"])  # later, with the first one gone: still refused
    await third.connect()
    assert (await hello(third, "shared"))["code"] == "bridge_id_taken"
    await third.disconnect()


async def test_rotating_a_token_closes_the_connection_that_uses_the_old_one(site, make_person, regions):
    admin = await database_sync_to_async(make_person)(regions["xihu"], roles=(), admin_of=regions["xihu"],
                                                      username="rot_admin")
    old = bridge_socket(site["tok1"])
    await old.connect()
    await hello(old)
    new_token = await database_sync_to_async(api.rotate_station_token)(admin, site["s1"])
    error = await old.receive_json_from(timeout=5)
    assert error["code"] == "token_rotated"
    assert await closed_with(old) == consumers.AUTH_CLOSE_CODE
    fresh = bridge_socket(new_token)
    await fresh.connect()
    assert (await hello(fresh))["type"] == "welcome"
    await database_sync_to_async(api.rotate_station_token)(admin, site["s2"])  # another station's rotation
    await fresh.send_json_to(sample(1))
    assert await receive_until(fresh, "ack") == {"type": "ack", "seqs": [1]}
    await fresh.disconnect()


async def test_signing_out_closes_the_console_at_once(site):
    console = await console_socket(site, "examiner")
    assert (await console.connect())[0]
    await database_sync_to_async(console.client.logout)()
    assert await closed_with(console) == consumers.AUTH_CLOSE_CODE


async def test_a_deactivated_person_loses_the_console_at_once(site):
    console = await console_socket(site, "examiner")
    assert (await console.connect())[0]
    user = site["examiner"]
    user.is_active = False
    await database_sync_to_async(user.save)()
    assert await closed_with(console) == consumers.FORBIDDEN_CLOSE_CODE


async def test_losing_the_role_closes_the_console_but_other_changes_do_not(site):
    console = await console_socket(site, "examiner")
    assert (await console.connect())[0]
    user = site["examiner"]
    user.real_name = "改名"
    await database_sync_to_async(user.save)()
    await asyncio.sleep(0.3)
    assert await console.receive_nothing(timeout=0.2)  # still allowed: still open
    await database_sync_to_async(RoleAssignment.objects.filter(user=user, role=Role.EXAMINER).delete)()
    assert await closed_with(console) == consumers.FORBIDDEN_CLOSE_CODE


async def test_the_periodic_recheck_closes_an_expired_session(site, settings):
    settings.MANIKIN_SOCKET_RECHECK_S = 0.2
    console = await console_socket(site, "examiner")
    assert (await console.connect())[0]
    from django.contrib.sessions.models import Session

    await database_sync_to_async(Session.objects.all().delete)()  # expired and purged
    assert await closed_with(console) == consumers.FORBIDDEN_CLOSE_CODE


async def test_a_console_that_does_not_read_is_not_buffered_without_bound(site, settings):
    settings.MANIKIN_CONSOLE_WINDOW = 5
    console = await console_socket(site, "examiner")
    assert (await console.connect())[0]
    layer = get_channel_layer()
    group = room_group(site["room"].pk)
    for i in range(20):
        await layer.group_send(group, {"type": "live.frames", "text": json.dumps(
            {"type": "live.frames", "items": [{"manikin": 1, "seq": i}], "statuses": []})})
    await layer.group_send(group, {"type": "recording.changed", "manikin": 1, "recording": {"id": 9, "active": True}})
    got = [await console.receive_json_from(timeout=5) for _ in range(6)]
    assert await console.receive_nothing(timeout=0.3)
    assert [m["type"] for m in got] == ["live.frames"] * 5 + ["recording.changed"]  # never skipped
    await console.send_json_to({"type": "seen", "n": 6})
    assert await console.receive_json_from(timeout=5) == {"type": "gap", "skipped": 15}
    await layer.group_send(group, {"type": "live.frames", "text": '{"type":"live.frames","items":[],"statuses":[]}'})
    assert (await console.receive_json_from(timeout=5))["type"] == "live.frames"
    await console.disconnect()


async def test_the_live_score_arrives_from_the_first_update_of_a_recording(site):
    """Starting a recording once raised in the consumer's score code (a property called as a method)."""
    console = await console_socket(site, "examiner")
    assert (await console.connect())[0]
    comm = bridge_socket(site["tok1"])
    await comm.connect()
    await hello(comm)
    manikin = await database_sync_to_async(Manikin.objects.get)(station=site["s1"], address=ADDR)
    rec = await database_sync_to_async(api.start_recording)(site["examiner"], manikin)
    await asyncio.sleep(0.1)  # the samples below are measured after the start
    await comm.send_json_to(sample(1))
    assert await receive_until(comm, "ack") == {"type": "ack", "seqs": [1]}
    while True:
        event = await receive_until(console, "live.frames")
        scored = [i for i in event["items"] if "summary" in i]
        if scored:
            break
    assert scored[0]["recording"] == rec.pk and isinstance(scored[0]["summary"], dict)
    await comm.send_json_to(sample(2))  # and the acks keep flowing
    assert await receive_until(comm, "ack") == {"type": "ack", "seqs": [2]}
    await comm.disconnect()
    await console.disconnect()


async def test_a_failing_background_task_is_logged(caplog):
    async def boom():
        raise RuntimeError("lost in the background")

    with caplog.at_level(logging.ERROR, logger="lms.sockets"):
        task = consumers.spawn(boom(), "test-task")
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0)
    failed = [r for r in caplog.records if getattr(r, "background_task", False)]
    assert len(failed) == 1 and "test-task" in failed[0].getMessage()
    assert "lost in the background" in repr(failed[0].exc_info[1])
    caplog.clear()  # expected here: the autouse check must not fail this test


async def test_the_trainee_view_gets_only_its_manikins_samples(site, make_person, regions):
    trainee = await database_sync_to_async(make_person)(regions["xihu"], username="tv_trainee")
    site["tv_trainee"] = trainee
    manikin = await database_sync_to_async(Manikin.objects.get)(station=site["s1"], address=ADDR)
    await database_sync_to_async(api.start_recording)(site["examiner"], manikin, trainee=trainee)
    view = await console_socket(site, "tv_trainee", path=f"/ws/manikins/{manikin.pk}/")
    assert (await view.connect())[0]
    layer = get_channel_layer()
    room_event = {"type": "live.frames", "published_at": 1.0, "statuses": [],
                  "items": [{"manikin": manikin.pk, "seq": 1}, {"manikin": manikin.pk + 100, "seq": 2}]}
    await layer.group_send(room_group(site["room"].pk), {"type": "live.frames", "text": json.dumps(room_event)})
    got = await receive_until(view, "live.frames")
    assert got["items"] == [{"manikin": manikin.pk, "seq": 1}]
    other = {**room_event, "items": [{"manikin": manikin.pk + 100, "seq": 3}]}
    await layer.group_send(room_group(site["room"].pk), {"type": "live.frames", "text": json.dumps(other)})
    assert await view.receive_nothing(timeout=0.3)
    await view.disconnect()
