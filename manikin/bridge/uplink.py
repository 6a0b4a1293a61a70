"""WebSocket uplink: spooled frames to the server, acknowledgements back.

Protocol (see ``docs/bridge.md``): connect to ``{server}/ws/bridge/`` with
``Authorization: Bearer <station token>``, send ``hello``, receive
``welcome`` (with ``acked_seq``), then send spooled frames in seq order with
at most ``max_in_flight`` unacknowledged; the server acks every frame by
seq. After any disconnection everything still spooled is sent again, in
order, before new frames. Close code 4401 (or an HTTP 401/403 handshake
rejection) means a bad token: the bridge says so and retries slowly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from typing import Any, Callable, Optional

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from .spool import Spool

log = logging.getLogger("manikin.bridge")

PROTOCOL_VERSION = 1
SOFTWARE = "redcross-lms-bridge/0.1"
AUTH_CLOSE_CODE = 4401
BRIDGE_TAKEN_CLOSE_CODE = 4409  # this bridge id belongs to another station: retry as rarely as a bad token


class Backoff:
    """Exponential back-off with full jitter: ``base * 2**n`` capped at ``cap``."""

    def __init__(self, base_s: float = 0.5, cap_s: float = 30.0, rng: Optional[random.Random] = None) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self.attempt = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        ceiling = min(self.cap_s, self.base_s * (2 ** self.attempt))
        self.attempt += 1
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.attempt = 0


class AuthRejected(Exception):
    pass


class Uplink:
    """Sends spooled frames over a WebSocket and deletes them when acknowledged."""

    def __init__(
        self,
        server: str,
        token: Optional[str],
        spool: Spool,
        *,
        max_in_flight: int = 256,
        on_welcome: Optional[Callable[[dict], None]] = None,
        backoff: Optional[Backoff] = None,
        auth_retry_s: float = 60.0,
        welcome_timeout_s: float = 10.0,
        open_timeout_s: float = 10.0,
    ) -> None:
        self.url = server.rstrip("/") + "/ws/bridge/"
        self.token = token
        self.spool = spool
        self.max_in_flight = max_in_flight
        self.on_welcome = on_welcome
        self.backoff = backoff or Backoff(0.5, 30.0)
        self.auth_retry_s = auth_retry_s
        self.welcome_timeout_s = welcome_timeout_s
        self.open_timeout_s = open_timeout_s
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._ws = None
        self.connected = asyncio.Event()
        self.auth_failed = False
        self.station: Optional[dict] = None
        self.in_flight: set[int] = set()
        self.stats = {"connects": 0, "sent": 0, "acked": 0, "duplicate_acks": 0}

    # -- producer side -------------------------------------------------------------------

    def submit(self, frame: dict[str, Any]) -> int:
        """Spool ``frame`` (assigning its seq) and wake the sender. Safe to call at any time."""
        seq = self.spool.append(frame)
        self._wakeup.set()
        return seq

    # -- connection loop -------------------------------------------------------------------

    async def run(self) -> None:
        while not self._stopping:
            delay: Optional[float] = None
            try:
                await self._connect_once()
            except asyncio.CancelledError:
                raise
            except AuthRejected as exc:
                self.auth_failed = True
                log.error("server rejected the station token (%s): check --token or MANIKIN_STATION_TOKEN "
                          "(4409: this bridge id belongs to another station); retrying in %.0f s",
                          exc, self.auth_retry_s)
                delay = self.auth_retry_s
            except InvalidURI as exc:
                log.error("bad server URL %s: %s", self.url, exc)
                delay = self.auth_retry_s
            except (OSError, asyncio.TimeoutError, InvalidHandshake, ConnectionClosed, ValueError) as exc:
                log.warning("server %s unreachable or connection lost: %s", self.url, exc or type(exc).__name__)
            finally:
                self.connected.clear()
                self._ws = None
                self.in_flight.clear()
            if self._stopping:
                break
            if delay is None:
                delay = self.backoff.next()
            log.info("reconnecting to the server in %.1f s (%d frames spooled)", delay, self.spool.count())
            await asyncio.sleep(delay)

    async def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()
        if self._ws is not None:
            await self._ws.close()

    async def drain(self, timeout_s: float) -> bool:
        """Wait until nothing is spooled (all acked) or ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        while self.spool.count() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return self.spool.count() == 0

    async def _connect_once(self) -> None:
        headers = {"Authorization": f"Bearer {self.token or ''}"}
        try:
            async with ws_connect(self.url, additional_headers=headers, open_timeout=self.open_timeout_s,
                                  max_size=2 ** 20, ping_interval=20, ping_timeout=20) as ws:
                self._ws = ws
                await self._session(ws)
        except InvalidStatus as exc:
            if exc.response.status_code in (401, 403):
                raise AuthRejected(f"HTTP {exc.response.status_code}") from exc
            raise
        except ConnectionClosed as exc:
            if exc.rcvd is not None and exc.rcvd.code in (AUTH_CLOSE_CODE, BRIDGE_TAKEN_CLOSE_CODE):
                raise AuthRejected(f"close code {exc.rcvd.code}") from exc
            if self._stopping:
                return
            raise

    async def _session(self, ws) -> None:
        # ``clock`` lets the server place every sample on its own clock (samples carry this clock's time).
        await ws.send(json.dumps({"type": "hello", "bridge_id": self.spool.bridge_id,
                                  "version": PROTOCOL_VERSION, "software": SOFTWARE, "clock": time.time()}))
        welcome = None
        while welcome is None:
            msg = json.loads(await asyncio.wait_for(ws.recv(), self.welcome_timeout_s))
            if msg.get("type") == "welcome":
                welcome = msg
            elif msg.get("type") == "error":
                log.error("server error before welcome: %s %s", msg.get("code"), msg.get("message"))
            else:
                log.warning("unexpected frame before welcome: %s", msg.get("type"))
        acked = int(welcome.get("acked_seq") or 0)
        dropped = self.spool.ack_through(acked)
        self.station = welcome.get("station")
        self.auth_failed = False
        self.backoff.reset()
        self.stats["connects"] += 1
        log.info("connected to %s as station %s; server has seq <= %d (%d spooled frames settled), %d to send",
                 self.url, (self.station or {}).get("name"), acked, dropped, self.spool.count())
        if self.on_welcome is not None:
            try:
                self.on_welcome(welcome)
            except Exception:  # a bad assignment must not kill the uplink
                log.exception("handling the welcome frame failed")
        self.connected.set()
        sender = asyncio.create_task(self._send_loop(ws))
        receiver = asyncio.create_task(self._receive_loop(ws))
        try:
            done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # re-raise ConnectionClosed etc.
        finally:
            for task in (sender, receiver):
                task.cancel()
            await asyncio.gather(sender, receiver, return_exceptions=True)

    async def _send_loop(self, ws) -> None:
        last_sent = 0
        while not self._stopping:
            self._wakeup.clear()
            room = self.max_in_flight - len(self.in_flight)
            frames = self.spool.pending(after_seq=last_sent, limit=room) if room > 0 else []
            if not frames:
                await self._wakeup.wait()
                continue
            for seq, body in frames:
                body["sent_at"] = time.time()
                self.in_flight.add(seq)
                await ws.send(json.dumps(body, separators=(",", ":")))
                self.stats["sent"] += 1
                last_sent = seq

    async def _receive_loop(self, ws) -> None:
        async for raw in ws:
            try:
                msg = json.loads(raw)
                kind = msg.get("type")
            except (ValueError, AttributeError):
                log.warning("ignoring a non-JSON frame from the server")
                continue
            if kind == "ack":
                # {"seq": N} acknowledges one frame, {"seqs": [...]} a whole batch stored in one transaction.
                try:
                    seqs = [int(x) for x in msg["seqs"]] if "seqs" in msg else [int(msg["seq"])]
                except (KeyError, TypeError, ValueError):
                    log.warning("ack without a valid seq: %r", msg)
                    continue
                deleted = self.spool.ack_many(seqs)
                self.stats["acked"] += deleted
                self.stats["duplicate_acks"] += len(seqs) - deleted
                self.in_flight.difference_update(seqs)
                self._wakeup.set()
            elif kind == "error":
                log.error("server error %s: %s", msg.get("code"), msg.get("message"))
            elif kind == "welcome":
                if self.on_welcome is not None:
                    self.on_welcome(msg)
            else:
                log.debug("ignoring server frame of type %r", kind)
