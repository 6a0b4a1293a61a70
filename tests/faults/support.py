"""Shared pieces of the fault tests: a demo server's database, a signed-in HTTP client, an in-process
bridge (the real bridge code; only its Bluetooth is the virtual fleet) on a thread of its own, and the
printed recovery times (run pytest with ``-s`` to see them)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import requests

from lms.demo import DEMO_PASSWORD
from manikin.bridge.app import Bridge, BridgeConfig
from manikin.bridge.spool import Spool
from manikin.bridge.uplink import Backoff
from manikin.tests_support import manage_shell


def report(what: str, seconds: float, detail: str = "") -> None:
    """The recovery time of one fault, printed for people (never asserted: timing belongs in benchmarks)."""
    print(f"\nrecovery: {what}: {seconds:.2f} s" + (f" ({detail})" if detail else ""), flush=True)


def wait(predicate, timeout_s: float = 60.0, what: str = "condition", interval_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def log_in(base: str, username: str, password: str = DEMO_PASSWORD) -> requests.Session:
    s = requests.Session()
    s.get(base + "/login/", timeout=10)
    resp = s.post(base + "/login/", data={"username": username, "password": password,
                                          "csrfmiddlewaretoken": s.cookies["csrftoken"]},
                  headers={"Referer": base + "/login/"}, timeout=10)
    assert resp.status_code == 200 and "sessionid" in s.cookies, resp.text[-500:]
    return s


def post_form(s: requests.Session, url: str, data: dict | None = None, files=None, timeout_s: float = 10):
    return s.post(url, data={"csrfmiddlewaretoken": s.cookies["csrftoken"], **(data or {})}, files=files,
                  headers={"Referer": url}, allow_redirects=False, timeout=timeout_s)


def post_json(s: requests.Session, url: str, data, timeout_s: float = 10):
    return s.post(url, json=data, headers={"X-CSRFToken": s.cookies["csrftoken"], "Referer": url}, timeout=timeout_s)


def shell_json(env: dict, code: str):
    """Run ``code`` in the server's Django (its database); it prints one JSON line, returned decoded."""
    return json.loads(manage_shell(env, code).strip().splitlines()[-1])


class BridgeThread:
    """The real bridge (``manikin.bridge.app.Bridge``: sessions, decoding, spool, uplink) in a thread of its
    own, so that a test can kill and start servers with blocking calls while it streams. ``sent`` holds
    every frame the bridge spooled (what the manikins produced, decoded), in order."""

    def __init__(self, server_ws_url: str, token: str, spool_path: Path, radio):
        config = BridgeConfig(server=server_ws_url, token=token, spool_path=str(spool_path), scan_timeout_s=0.05)
        self.bridge = Bridge(config, ble=radio, session_backoff=Backoff(0.05, 0.2), uplink_backoff=Backoff(0.05, 0.3))
        self.sent: list[dict] = []
        append = self.bridge.spool.append

        def capture(frame):
            seq = append(frame)
            self.sent.append({**json.loads(json.dumps(frame)), "seq": seq})
            return seq

        self.bridge.spool.append = capture
        self.loop = asyncio.new_event_loop()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="bridge", daemon=True)

    def _run(self):
        try:
            self.loop.run_until_complete(self.bridge.run())
        except BaseException as exc:  # noqa: BLE001 (reported by stop())
            self.error = exc

    def start(self) -> BridgeThread:
        self.thread.start()
        return self

    @property
    def spool(self) -> Spool:
        """The bridge's spool; after ``stop()`` (which closes it) the same file opened again."""
        if self.thread.is_alive() or not self.thread.ident:
            return self.bridge.spool
        return Spool(self.bridge.config.spool_path)

    def samples(self, device: str | None = None) -> int:
        return sum(len(f.get("t") or []) for f in list(self.sent)
                   if f["type"] == "samples" and (device is None or f["device"] == device))

    def last_seq(self) -> int:
        return self.spool.next_seq - 1

    def acked_through(self, seq: int) -> bool:
        """Every frame up to ``seq`` acknowledged by the server (gone from the spool)."""
        first = self.spool.pending(limit=1)
        return not first or first[0][0] > seq

    def stop(self, timeout_s: float = 30) -> None:
        self.loop.call_soon_threadsafe(self.bridge.stop)
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), "the bridge did not stop"
        if self.error:
            raise self.error


def stored_frames(env: dict, bridge_id: str) -> dict:
    """What the server stored of one bridge: every frame's seq (a list: a seq twice would show), the samples
    per device, and how many of its messages were refused."""
    return shell_json(env, f"""
import json
from manikin.models import Frame, RejectedFrame
rows = list(Frame.objects.filter(bridge_id={bridge_id!r}).values_list("seq", "n_samples", "manikin__address"))
per_device = {{}}
for _seq, n, address in rows:
    per_device[address] = per_device.get(address, 0) + n
print(json.dumps({{"seqs": sorted(s for s, _n, _a in rows), "samples": per_device,
                  "rejected": RejectedFrame.objects.filter(bridge_id={bridge_id!r}).count()}}))
""")


class Console:
    """A room console's live socket (``/ws/rooms/<id>/``) in a thread, reconnecting like the console page
    (``manikin/static``) does when its socket drops. ``frames_at`` has the arrival time of every
    ``live.frames`` message with samples."""

    def __init__(self, server, cookie: str, room_id: int = 1):
        self.url = f"{server.ws_url}/ws/rooms/{room_id}/"
        self.headers = {"Cookie": cookie, "Origin": server.url}
        self.frames_at: list[float] = []
        self.closes = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="console", daemon=True)

    def _run(self):
        from websockets.sync.client import connect

        while not self._stop.is_set():
            try:
                with connect(self.url, additional_headers=self.headers, open_timeout=5) as ws:
                    while not self._stop.is_set():
                        try:
                            msg = json.loads(ws.recv(timeout=0.5))
                        except TimeoutError:
                            continue
                        if msg.get("type") == "live.frames" and any(i.get("t") for i in msg.get("items", [])):
                            self.frames_at.append(time.time())
            except Exception:  # noqa: BLE001 (dropped or refused: the page tries again)
                self.closes += 1
                self._stop.wait(1.0)

    def start(self) -> Console:
        self.thread.start()
        return self

    def live_since(self, at: float) -> bool:
        return any(t > at for t in list(self.frames_at))

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(10)


def cookie_header(session: requests.Session) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)
