"""The WebSocket endpoints in-process: token checks, hello/ack, live fan-out, browser-socket permissions."""

import json
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from lms.routing import application
from manikin.models import Frame

from .conftest import ADDR

pytestmark = pytest.mark.django_db(transaction=True)
T0 = 1_763_900_000.0  # epoch seconds on the bridge's clock


def bridge_socket(token):
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    return WebsocketCommunicator(application, "/ws/bridge/", headers=headers)


def sign_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


async def console_socket(site, user, origin="http://127.0.0.1:8000", path=None, client=None):
    """A browser's socket to the room console, signed in as ``site[user]`` with a real session cookie."""
    client = client or await database_sync_to_async(sign_in)(site[user])
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    comm = WebsocketCommunicator(application, path or f"/ws/rooms/{site['room'].pk}/",
                                 headers=[(b"origin", origin.encode()), (b"host", b"127.0.0.1:8000"),
                                          (b"cookie", cookie)])
    comm.client = client
    return comm


async def hello(comm, bridge_id="bridge-1"):
    await comm.send_json_to({"type": "hello", "bridge_id": bridge_id, "version": 1, "software": "test",
                             "clock": time.time()})
    return await comm.receive_json_from(timeout=5)


@pytest.mark.parametrize("token", [None, "not-a-real-station-token"])
async def test_a_wrong_token_is_refused_with_4401(site, token):
    comm = bridge_socket(token)
    connected, _ = await comm.connect()
    assert connected  # accepted only to say why: then closed with 4401
    out = await comm.receive_output(timeout=5)
    assert out == {"type": "websocket.close", "code": 4401}
    await comm.disconnect()


async def test_hello_welcome_and_acks(site):
    comm = bridge_socket(site["tok1"])
    assert (await comm.connect())[0]
    welcome = await hello(comm)
    assert welcome["type"] == "welcome" and welcome["station"]["name"] == "1号" and welcome["acked_seq"] == 0
    assert welcome["manikins"] == [{"address": ADDR, "label": "1-1", "protocol": "laerdal-qcpr"}]
    for seq in (1, 2, 2):  # the last one is a resend
        await comm.send_json_to({"type": "samples", "seq": seq, "device": ADDR, "protocol": "laerdal-qcpr",
                                 "sent_at": T0, "t": [T0 + seq * 0.1], "depth_mm": [3.0], "volume_ml": None,
                                 "lost": 0, "malformed": 0})
    acked = []
    while len(acked) < 3:  # group commit: one ack message may cover several frames
        ack = await comm.receive_json_from(timeout=5)
        assert ack["type"] == "ack"
        acked += ack["seqs"]
    assert sorted(acked) == [1, 2, 2]
    await comm.disconnect()
    stored = await database_sync_to_async(Frame.objects.filter(bridge_id="bridge-1").count)()
    assert stored == 2


async def test_another_stations_bridge_is_refused(site):
    first = bridge_socket(site["tok1"])
    await first.connect()
    await hello(first, "bridge-x")
    await first.send_json_to({"type": "status", "seq": 1, "device": ADDR, "sent_at": T0, "state": "connected"})
    assert (await first.receive_json_from(timeout=5)) == {"type": "ack", "seqs": [1]}
    await first.disconnect()
    second = bridge_socket(site["tok2"])  # same bridge (same spool), station 2's token
    await second.connect()
    error = await hello(second, "bridge-x")
    assert error["type"] == "error" and error["code"] == "bridge_id_taken"
    assert f"station {site['s1'].pk}" in error["message"]
    assert (await second.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4409}
    await second.disconnect()


async def test_console_receives_live_frames_and_strangers_are_refused(site):
    console = await console_socket(site, "examiner")
    assert (await console.connect())[0]
    comm = bridge_socket(site["tok1"])
    await comm.connect()
    await hello(comm)
    assert json.loads(await console.receive_from(timeout=5))["type"] == "station.changed"
    await comm.send_json_to({"type": "samples", "seq": 1, "device": ADDR, "protocol": "laerdal-qcpr",
                             "sent_at": T0 + 0.5, "t": [T0, T0 + 0.016], "depth_mm": [1.0, 4.5], "volume_ml": None,
                             "lost": 0, "malformed": 0})
    event = json.loads(await console.receive_from(timeout=5))
    assert event["type"] == "live.frames"
    item = event["items"][0]
    assert item["depth_mm"] == [1.0, 4.5] and item["sent_at"] == T0 + 0.5
    assert (await comm.receive_json_from(timeout=5)) == {"type": "ack", "seqs": [1]}  # stored after it was shown
    await comm.disconnect()
    await console.disconnect()

    stranger = await console_socket(site, "stranger")
    connected, code = await stranger.connect()
    assert not connected and code == 4403
    await stranger.disconnect()


async def test_console_socket_refuses_other_origins(site):
    console = await console_socket(site, "examiner", origin="http://evil.example")
    connected, _ = await console.connect()
    assert not connected


async def test_consoles_see_a_bridge_come_and_go(site):
    console = await console_socket(site, "examiner")
    assert (await console.connect())[0]
    comm = bridge_socket(site["tok1"])
    await comm.connect()
    await hello(comm)
    assert await console.receive_json_from(timeout=5) == {"type": "station.changed", "station": site["s1"].pk,
                                                          "connected": True}
    await comm.disconnect()
    assert await console.receive_json_from(timeout=5) == {"type": "station.changed", "station": site["s1"].pk,
                                                          "connected": False}
    await console.disconnect()
