"""Poison frames among valid frames from other bridges, through a real server process.

The server runs on the run's own database (PostgreSQL and Redis in CI's second run, see
``lms.liveserver.LiveDatabase``). One station's bridge sends every value that once failed a group
commit; two other stations stream at the same time. All valid frames are stored, every poison frame is
kept as rejected and answered, and no other station's connection is closed.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import websockets

from lms.liveserver import LiveDatabase, LiveServer
from manikin.tests_support import manage_shell
from manikin.virtual import fake_address

pytestmark = pytest.mark.slow
DEVICE = fake_address(1)


def good(seq: int) -> str:
    t0 = time.time() - 0.05
    return json.dumps({"type": "samples", "seq": seq, "device": DEVICE, "protocol": "laerdal-qcpr",
                       "sent_at": time.time(), "t": [t0 + i * 0.01 for i in range(5)], "depth_mm": [45.0] * 5,
                       "volume_ml": None, "lost": 0, "malformed": 0})


def poison() -> list[tuple[str, int | None]]:
    """(message, the seq it should be acknowledged with, if any)."""
    base = json.loads(good(1))
    items = [
        ({**base, "seq": 2**63}, None),
        ({**base, "seq": 2, "lost": 1e20}, 2),
        ({**base, "seq": 3, "lost": 3e9}, 3),
        ({**base, "seq": 4, "sent_at": int("9" * 400)}, 4),
        ({"type": "status", "seq": 5, "device": DEVICE, "state": "error", "message": "NUL\x00"}, 5),
        ({"type": "status", "seq": 6, "device": DEVICE, "state": "error", "info": {"serial": "\x00"}}, 6),
        ({**base, "seq": 7, "device": "F0\x00"}, 7),
        ({**base, "seq": 8, "depth_mm": [1e300] * 5}, 8),
        ({**base, "seq": "nine"}, None),
    ]
    out = [(json.dumps(m), seq) for m, seq in items]
    out += [('{"type": "samples", "seq": 10, "lost": Infinity}', None), ("[" * 20_000, None), ("not json", None)]
    return out


async def stream(url: str, token: str, bridge_id: str, count: int, results: dict) -> None:
    async with websockets.connect(url + "/ws/bridge/", additional_headers={"Authorization": f"Bearer {token}"},
                                  max_size=2**22) as ws:
        await ws.send(json.dumps({"type": "hello", "bridge_id": bridge_id, "version": 1, "clock": time.time()}))
        assert json.loads(await ws.recv())["type"] == "welcome"
        acked: set[int] = set()
        for seq in range(1, count + 1):
            await ws.send(good(seq))
            await asyncio.sleep(0.01)
        while len(acked) < count:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 20))
            assert msg["type"] == "ack", msg
            acked.update(msg["seqs"])
        results[bridge_id] = {"acked": sorted(acked), "open": ws.state.name}


async def poisoner(url: str, token: str, results: dict) -> None:
    """Sends the poison twice, over two connections, as a bridge repeating its spool would."""
    for round_ in (1, 2):
        async with websockets.connect(url + "/ws/bridge/",
                                      additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            await ws.send(json.dumps({"type": "hello", "bridge_id": "poisoner", "version": 1, "clock": time.time()}))
            assert json.loads(await ws.recv())["type"] == "welcome"
            answers, acked = 0, set()
            expected = poison()
            for message, _seq in expected:
                await ws.send(message)
                await asyncio.sleep(0.02)
            while answers < len(expected):
                msg = json.loads(await asyncio.wait_for(ws.recv(), 20))
                if msg["type"] == "ack":
                    acked.update(msg["seqs"])
                else:
                    assert msg["type"] == "error" and msg["message"]
                    answers += 1
            results[f"poisoner-{round_}"] = sorted(acked)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveDatabase(tmp_path_factory.mktemp("poison")) as db:
        db.prepare()
        srv = LiveServer(db.var_dir, db.env()).start()
        try:
            yield srv, db.env()
        finally:
            srv.stop()


async def test_poison_frames_cost_other_stations_nothing(server):
    srv, env = server
    results: dict = {}
    await asyncio.gather(
        poisoner(srv.ws_url, "demo-station-1-token", results),
        stream(srv.ws_url, "demo-station-2-token", "good-2", 60, results),
        stream(srv.ws_url, "demo-station-3-token", "good-3", 60, results),
    )
    assert results["good-2"] == {"acked": list(range(1, 61)), "open": "OPEN"}
    assert results["good-3"] == {"acked": list(range(1, 61)), "open": "OPEN"}
    with_seq = sorted({s for _m, s in poison() if s is not None})
    assert set(with_seq) <= set(results["poisoner-1"]) and set(with_seq) <= set(results["poisoner-2"])
    counts = json.loads(manage_shell(env, """
import json
from manikin.models import Frame, RejectedFrame
print(json.dumps({"good-2": Frame.objects.filter(bridge_id="good-2").count(),
                  "good-3": Frame.objects.filter(bridge_id="good-3").count(),
                  "poison_stored": Frame.objects.filter(bridge_id="poisoner").count(),
                  "kept": RejectedFrame.objects.filter(station__name="1号工位").count(),
                  "codes": sorted(set(RejectedFrame.objects.values_list("code", flat=True)))}))
""").strip().splitlines()[-1])
    assert counts["good-2"] == 60 and counts["good-3"] == 60
    assert counts["poison_stored"] == 0
    assert counts["kept"] == 2 * len(poison())  # each message of both rounds kept verbatim with its reason
    assert {"bad_json", "bad_seq", "out_of_range", "bad_frame"} <= set(counts["codes"])
