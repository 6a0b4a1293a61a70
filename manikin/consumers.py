"""WebSocket consumers: bridge ingest, and the live views of a room or one manikin.

The bridge consumer is thin: each message is decoded by the pure :func:`manikin.frames.decode`
and stored by :func:`manikin.api.store_frames` (through the process-wide :class:`IngestHub`, which
commits the frames of all bridges together and isolates a failing one). Acks leave only after the
commit; every frame, valid or not, is stored or kept as rejected, and answered.

The live consumers re-check their authorisation whenever the person's access changes (logout,
deactivation, a role removed) and on a timer, and bound what a slow screen can make the server queue.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import numpy as np
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError

from lms.access import session_group, session_still_valid, user_group
from lms.sockets import (  # noqa: F401 (the close codes are part of this module's interface)
    AUTH_CLOSE_CODE,
    BRIDGE_TAKEN_CLOSE_CODE,
    FORBIDDEN_CLOSE_CODE,
    PROTOCOL_ERROR_CODE,
    TIMEOUT_CLOSE_CODE,
    TRY_AGAIN_CLOSE_CODE,
    DirectDispatch as _DirectDispatch,
    PerLoop as _PerLoop,
    header as _header,
    spawn,
)

from . import api, frames
from .live import room_group, station_group
from .models import Manikin, Recording, Room
from .scoring import StreamScorer

log = logging.getLogger("manikin.ingest")

class IngestHub(_PerLoop):
    """Group commit across all bridge connections of this process.

    Connections hand in their pending frames; whatever arrives while one transaction runs goes
    into the next one together. ``store_frames`` isolates a batch that fails, so one bridge's bad
    frame costs the others nothing; only a database outage fails every batch (and nothing is acked).
    """

    def __init__(self):
        self.queue: list[tuple[api.BridgeLink, list, asyncio.Future]] = []
        self.task: asyncio.Task | None = None

    async def submit(self, link: api.BridgeLink, decoded: list) -> api.IngestResult:
        future = asyncio.get_running_loop().create_future()
        self.queue.append((link, decoded, future))
        if self.task is None or self.task.done():
            self.task = spawn(self._run(), "ingest-hub")
        return await future

    async def _run(self):
        while self.queue:
            # Gather a little: a commit serving more frames costs less per frame. The consoles do not
            # wait for it (new samples are published before their commit); only acks and scores do.
            await asyncio.sleep(settings.MANIKIN_GROUP_COMMIT_GATHER_S)
            batch, self.queue = self.queue, []
            try:
                # Plain sync_to_async (the thread database_sync_to_async also uses), without its connection
                # check around every call: on PostgreSQL that check is a round trip per group commit.
                # A broken connection surfaces as an outage, and store_frames then drops it.
                results = await sync_to_async(api.store_frames)([(link, d) for link, d, _ in batch])
            except Exception as exc:  # nothing stored, nothing acknowledged: the bridges resend
                log.error("storing %d batches failed: %s", len(batch), exc)
                for _link, _decoded, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_link, _decoded, future), result in zip(batch, results):
                if not future.done():
                    future.set_result(result)


class RoomPublisher(_PerLoop):
    """Coalesces what the bridge connections of this process publish to a room.

    After a group commit every connection publishes at nearly the same moment; gathering for
    ``WINDOW_S`` turns that into one channel-layer message per room instead of one per station,
    which keeps a console that watches 60 manikins far from its limits.
    """

    WINDOW_S = 0.01

    def __init__(self):
        self.pending: dict[int, dict] = {}
        self.task: asyncio.Task | None = None

    def add(self, layer, room_id: int, items: list, statuses: list) -> None:
        event = self.pending.setdefault(room_id, {"type": "live.frames", "items": [], "statuses": []})
        event["items"].extend(items)
        event["statuses"].extend(statuses)
        if self.task is None or self.task.done():
            self.task = spawn(self._flush(layer), "room-publisher")

    async def _flush(self, layer):
        # Loop: what is added while this task sends would otherwise wait for the next publish.
        while self.pending:
            await asyncio.sleep(self.WINDOW_S)
            pending, self.pending = self.pending, {}
            for room_id, event in pending.items():
                event["published_at"] = time.time()
                # Encoded once here, not once per console; and a string is all the layer copies.
                text = json.dumps(event, separators=(",", ":"))
                await layer.group_send(room_group(room_id), {"type": "live.frames", "text": text})


class BridgeConsumer(_DirectDispatch, AsyncWebsocketConsumer):
    """``/ws/bridge/``: one exam-site bridge, authenticated by its station's token."""

    async def connect(self):
        self.station = None
        self.link: api.BridgeLink | None = None
        self.pre_hello: api.BridgeLink | None = None
        self.pending: list = []
        self.tasks: set[asyncio.Task] = set()
        self.flusher: asyncio.Task | None = None
        self.scorers: dict[int, StreamScorer] = {}
        self.last_t: dict[int, float] = {}
        self.early: set[int] = set()  # seqs whose samples went to the consoles before their commit
        auth = _header(self.scope, b"authorization") or ""
        self.token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        try:
            self.station = await database_sync_to_async(api.authenticate_station)(self.token)
        except DatabaseError as exc:
            # The database is away (a restart): "try again", not the HTTP 403 of a failed handshake,
            # which the bridge takes for a wrong token and retries only after a minute.
            log.warning("bridge connection refused for now, the database is unreachable: %s", exc)
            await self.accept()
            await self.close(code=TRY_AGAIN_CLOSE_CODE)
            return
        # Accept first, then close with a code the bridge understands (closing before accept is an HTTP 403).
        await self.accept()
        if self.station is None:
            await self.close(code=AUTH_CLOSE_CODE)
            return
        await self.channel_layer.group_add(station_group(self.station.pk), self.channel_name)
        self.hello_timer = spawn(self._hello_deadline(), f"bridge-hello-timeout-{self.station.pk}")

    async def disconnect(self, code):
        if self.station is None:
            return
        self.hello_timer.cancel()
        await self.channel_layer.group_discard(station_group(self.station.pk), self.channel_name)
        if self.flusher is not None:
            self.flusher.cancel()
        if self.link is not None:
            await database_sync_to_async(api.bridge_gone)(self.station)
            await self._announce(connected=False)

    async def _hello_deadline(self):
        await asyncio.sleep(settings.MANIKIN_HELLO_TIMEOUT_S)
        if self.link is None:
            await self._send({"type": "error", "code": "no_hello",
                              "message": f"no hello within {settings.MANIKIN_HELLO_TIMEOUT_S:g} s"})
            await self.close(code=TIMEOUT_CLOSE_CODE)

    async def _send(self, payload: dict) -> None:
        await self.send(json.dumps(payload, separators=(",", ":")))

    async def receive(self, text_data=None, bytes_data=None):
        if self.station is None:
            return
        item = frames.decode(text_data if text_data is not None else bytes_data)
        if isinstance(item, frames.Hello) and self.link is None:
            await self._hello(item)
        elif self.link is None:
            await self._before_hello(item)
        else:
            self.pending.append(item)
            if isinstance(item, frames.Samples):
                self._publish_early(item)
            if self.flusher is None or self.flusher.done():
                self.flusher = spawn(self._flush_loop(), f"bridge-flush-{self.station.pk}")

    async def _hello(self, hello: frames.Hello) -> None:
        try:
            welcome, self.link = await database_sync_to_async(api.bridge_hello)(
                self.station, bridge_id=hello.bridge_id, software=hello.software, clock=hello.clock,
                received_at=time.time())
        except api.BridgeRefused as exc:
            await self._send({"type": "error", "code": exc.code, "message": str(exc)})
            await self.close(code=BRIDGE_TAKEN_CLOSE_CODE)
            return
        self.hello_timer.cancel()
        await self._send(welcome)
        await self._announce(connected=True)

    async def _before_hello(self, item) -> None:
        """Anything but a valid hello before the hello is kept as rejected and answered."""
        if not isinstance(item, frames.Rejected):
            item = frames.Rejected("no_hello", "send hello first", item.raw, seq=getattr(item, "seq", None),
                                   kind=item.kind)
        if self.pre_hello is None:
            self.pre_hello = await database_sync_to_async(api.BridgeLink)(self.station, "")
        result = (await database_sync_to_async(api.store_frames)([(self.pre_hello, [item])]))[0]
        await self._answer(result)
        if item.kind == "hello":  # a hello that cannot be read: nothing else can follow it
            await self.close(code=PROTOCOL_ERROR_CODE)

    async def _answer(self, result: api.IngestResult) -> None:
        if result.acked:  # one message acknowledges the whole batch
            await self._send({"type": "ack", "seqs": result.acked})
        for err in result.errors:
            await self._send(err)

    async def _announce(self, connected: bool) -> None:
        """Consoles show whether a station's bridge is online (data spooled while it is not arrives later)."""
        await self.channel_layer.group_send(room_group(self.station.room_id), {
            "type": "station.changed", "station": self.station.pk, "connected": connected})

    def _publish_early(self, f: frames.Samples) -> None:
        """Show new samples on the consoles at once; the disk commit (and the ack) follow.

        Only frames newer than anything stored before and from a known manikin: a resend after a
        reconnect is shown (or not) after the commit. The scores of a recording depend on the stored
        frames and go out after the commit.
        """
        if f.seq <= self.link.high_water or not len(f.t):
            return
        manikin_id = self.link.manikins.get(f.device)
        if manikin_id is None:
            return
        self.early.add(f.seq)
        offset = self.link.offset_for(f, time.time())
        RoomPublisher.current().add(self.channel_layer, self.station.room_id,
                                    [_sample_item(manikin_id, f.seq, f.sent_at, f.t + offset, f.depth_mm)], [])

    async def _flush_loop(self):
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                result = await IngestHub.current().submit(self.link, batch)
            except Exception:
                # Nothing of this batch was acked: the bridge resends it after reconnecting.
                self.pending = []
                self.early.clear()
                await self.close(code=TRY_AGAIN_CLOSE_CODE)
                return
            await self._answer(result)
            await self._publish(result)

    async def _publish(self, result: api.IngestResult) -> None:
        """After the commit: samples not shown yet, scores of running recordings, manikin status."""
        items = []
        for s in result.samples:
            if s["seq"] in self.early:  # the samples are on the consoles already
                self.early.discard(s["seq"])
                item = {"manikin": s["manikin_id"], "seq": s["seq"]}
            else:
                item = _sample_item(s["manikin_id"], s["seq"], s["sent_at"], s["t"], s["depth_mm"])
            item["recording"] = s["recording_id"] if s["recording_active"] else None
            if s["recording_active"] and len(s["t"]):
                item.update(await self._score(s))
            if "t" in item or "summary" in item:
                items.append(item)
        if items or result.statuses:
            RoomPublisher.current().add(self.channel_layer, self.station.room_id, items, result.statuses)

    async def _score(self, s: dict) -> dict:
        """Feed the recording's streaming scorer; rebuild it from stored samples when this process has none."""
        rec_id = s["recording_id"]
        scorer = self.scorers.get(rec_id)
        if scorer is None:
            scorer, update, last_t = await database_sync_to_async(_rebuild_scorer)(rec_id)
            self.scorers[rec_id] = scorer
            self.last_t[rec_id] = last_t
            return {"compressions": update.compressions if update else [], "summary": scorer.summary}
        t, x = s["t"], s["depth_mm"]
        keep = t >= self.last_t.get(rec_id, -np.inf)  # the live view skips samples older than what it has
        if not np.all(keep):
            t, x = t[keep], x[keep]
        if not len(t):
            return {"compressions": [], "summary": scorer.summary}
        volume = s["volume_ml"]
        update = scorer.feed(t, x, None if volume is None else volume[keep])
        self.last_t[rec_id] = float(t[-1])
        return {"compressions": update.compressions, "summary": update.summary}

    async def recording_changed(self, event):
        rec = event["recording"]
        if not rec["active"]:
            self.scorers.pop(rec["id"], None)
            self.last_t.pop(rec["id"], None)

    async def station_token_rotated(self, event):
        """The station's token changed: a connection still on the old token ends now."""
        valid = await database_sync_to_async(api.station_token_valid)(self.station.pk, self.token)
        if not valid:
            await self._send({"type": "error", "code": "token_rotated",
                              "message": "this station's token was replaced; use the new one"})
            await self.close(code=AUTH_CLOSE_CODE)


def _sample_item(manikin_id: int, seq: int, sent_at, t: np.ndarray, depth_mm: np.ndarray) -> dict:
    return {"manikin": manikin_id, "seq": seq, "sent_at": sent_at,
            "t": np.round(t, 3).tolist(), "depth_mm": np.round(depth_mm, 1).tolist()}


def _rebuild_scorer(recording_id: int):
    rec = Recording.objects.get(pk=recording_id)
    scorer = StreamScorer(standard=rec.standard_id)
    t, x, v = api.recording_samples(rec)
    update = scorer.feed(t, x, v) if len(t) else None
    return scorer, update, (float(t[-1]) if len(t) else -np.inf)


class _LiveConsumer(_DirectDispatch, AsyncWebsocketConsumer):
    """Shared by the room console and the trainee view: session-authenticated, read-only.

    Flow control: the page reports how many messages it has taken in (``{"type": "seen", "n": N}``);
    while more than ``settings.MANIKIN_CONSOLE_WINDOW`` are unreported, live samples are skipped
    (and counted, then announced with a ``gap`` message) instead of queued, so a slow or stalled screen
    cannot make the server buffer without bound. Recording changes are never skipped.
    """

    async def connect(self):
        self.room_id = None
        self.sent = self.seen = self.skipped = 0
        self.behind_since: float | None = None
        user = self.scope.get("user")
        if not (user and user.is_authenticated):
            await self.close(code=AUTH_CLOSE_CODE)
            return
        self.user = user
        self.session_key = getattr(self.scope.get("session"), "session_key", None)
        self.room_id = await database_sync_to_async(self.authorize)(user)
        if self.room_id is None:
            await self.close(code=FORBIDDEN_CLOSE_CODE)
            return
        self.groups_joined = [room_group(self.room_id), user_group(user.pk)]
        if self.session_key:
            self.groups_joined.append(session_group(self.session_key))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.rechecker = spawn(self._recheck_periodically(), f"live-recheck-{user.pk}")

    async def disconnect(self, code):
        if self.room_id is not None:
            self.rechecker.cancel()
            for group in self.groups_joined:
                await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            msg = json.loads(text_data or "")
            n = msg["n"] if msg.get("type") == "seen" else None
        except (ValueError, TypeError, AttributeError, KeyError):
            return  # a console sends nothing else
        if isinstance(n, int) and not isinstance(n, bool):
            self.seen = max(self.seen, min(n, self.sent))
            if self.skipped and self.sent - self.seen < settings.MANIKIN_CONSOLE_WINDOW:
                skipped, self.skipped = self.skipped, 0
                await self._send({"type": "gap", "skipped": skipped})

    async def _send(self, event: dict | str, skippable: bool = False) -> None:
        """Send an event (or its JSON text); a skippable one is dropped while the page is behind."""
        if skippable and self.sent - self.seen >= settings.MANIKIN_CONSOLE_WINDOW:
            now = time.monotonic()
            self.behind_since = self.behind_since or now
            self.skipped += 1
            if now - self.behind_since > settings.MANIKIN_CONSOLE_STALL_S:
                await self.close(code=TIMEOUT_CLOSE_CODE)  # the page stopped reading
            return
        self.behind_since = None
        self.sent += 1
        await self.send(event if isinstance(event, str) else json.dumps(event, separators=(",", ":")))

    # -- access -----------------------------------------------------------
    async def _recheck_periodically(self):
        while True:
            await asyncio.sleep(settings.MANIKIN_SOCKET_RECHECK_S)
            await self.access_changed({})

    def _still_allowed(self) -> bool:
        if not session_still_valid(self.session_key, self.user):
            return False
        self.user = get_user_model().objects.get(pk=self.user.pk)
        return self.authorize(self.user) == self.room_id

    async def access_changed(self, event):
        if not await database_sync_to_async(self._still_allowed)():
            await self.close(code=FORBIDDEN_CLOSE_CODE)

    async def access_revoked(self, event):
        await self.close(code=AUTH_CLOSE_CODE)

    # -- events -----------------------------------------------------------
    async def live_frames(self, event):
        await self._send(event["text"], skippable=True)

    async def recording_changed(self, event):
        await self._send(event)

    async def station_changed(self, event):
        await self._send(event)


class RoomConsoleConsumer(_LiveConsumer):
    """``/ws/rooms/<id>/``: every manikin of the room."""

    def authorize(self, user) -> int | None:
        room = Room.objects.filter(pk=self.scope["url_route"]["kwargs"]["room_id"]).first()
        return room.pk if room is not None and api.can_watch_room(user, room) else None


class ManikinViewConsumer(_LiveConsumer):
    """``/ws/manikins/<id>/``: one manikin, for the trainee's own feedback screen."""

    def authorize(self, user) -> int | None:
        self.manikin_id = int(self.scope["url_route"]["kwargs"]["manikin_id"])
        manikin = Manikin.objects.select_related("station__room").filter(pk=self.manikin_id).first()
        if manikin is None or not api.can_watch_manikin(user, manikin):
            return None
        return manikin.station.room_id

    async def live_frames(self, event):
        room_event = json.loads(event["text"])
        items = [i for i in room_event["items"] if i["manikin"] == self.manikin_id]
        statuses = [s for s in room_event["statuses"] if s["manikin_id"] == self.manikin_id]
        if items or statuses:
            await self._send({**room_event, "items": items, "statuses": statuses}, skippable=True)

    async def recording_changed(self, event):
        if event["manikin"] != self.manikin_id:
            return
        await self._send(event)
        if not event["recording"]["active"]:
            await self.access_changed(event)
