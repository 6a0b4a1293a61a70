"""WebSocket consumers: bridge ingest, and the live views of a room or one manikin.

The bridge consumer stores frames with group commit: frames that arrive while a
store is running wait and go into the next transaction together, so the database
sees a few large transactions instead of one per frame, and latency stays low when
the load is light. Acks leave only after the commit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import numpy as np
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.exceptions import PermissionDenied, ValidationError

from . import api
from .live import room_group, station_group
from .models import Manikin, Recording, Room
from .scoring import StreamScorer

log = logging.getLogger("manikin.ingest")

AUTH_CLOSE_CODE = 4401
PROTOCOL_ERROR_CODE = 4400
STORE_FAILED_CODE = 4500


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class _PerLoop:
    """One instance per event loop (a Daphne process has one; tests make several)."""

    _by_loop: dict = {}

    @classmethod
    def current(cls):
        loop = asyncio.get_running_loop()
        key = (cls, loop)
        if key not in _PerLoop._by_loop:
            _PerLoop._by_loop[key] = cls()
        return _PerLoop._by_loop[key]


class IngestHub(_PerLoop):
    """Group commit across all bridge connections of this process.

    Connections hand in their pending frames; whatever arrives while one transaction runs goes
    into the next one together. One database round trip then serves every station at once.
    """

    def __init__(self):
        self.queue: list[tuple[api.BridgeLink, list[dict], asyncio.Future]] = []
        self.task: asyncio.Task | None = None

    async def submit(self, link: api.BridgeLink, frames: list[dict]) -> api.IngestResult:
        future = asyncio.get_running_loop().create_future()
        self.queue.append((link, frames, future))
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._run())
        return await future

    async def _run(self):
        while self.queue:
            batch, self.queue = self.queue, []
            try:
                results = await database_sync_to_async(api.ingest_batches)([(link, f) for link, f, _ in batch])
            except Exception as exc:  # nothing stored, nothing acknowledged: the bridges resend
                log.exception("storing %d batches failed", len(batch))
                for _link, _frames, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_link, _frames, future), result in zip(batch, results):
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
            self.task = asyncio.ensure_future(self._flush(layer))

    async def _flush(self, layer):
        await asyncio.sleep(self.WINDOW_S)
        pending, self.pending = self.pending, {}
        for room_id, event in pending.items():
            event["published_at"] = time.time()
            await layer.group_send(room_group(room_id), event)


class BridgeConsumer(AsyncWebsocketConsumer):
    """``/ws/bridge/``: one exam-site bridge, authenticated by its station's token."""

    async def connect(self):
        self.station = None
        self.bridge_id = None
        self.pending: list[dict] = []
        self.flusher: asyncio.Task | None = None
        self.scorers: dict[int, StreamScorer] = {}
        self.last_t: dict[int, float] = {}
        self.early: set[int] = set()  # seqs whose samples went to the consoles before their commit
        auth = _header(self.scope, b"authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        self.station = await database_sync_to_async(api.authenticate_station)(token)
        # Accept first, then close with a code the bridge understands (closing before accept is an HTTP 403).
        await self.accept()
        if self.station is None:
            await self.close(code=AUTH_CLOSE_CODE)
            return
        await self.channel_layer.group_add(station_group(self.station.pk), self.channel_name)

    async def disconnect(self, code):
        if self.station is not None:
            await self.channel_layer.group_discard(station_group(self.station.pk), self.channel_name)
            if self.flusher is not None:
                self.flusher.cancel()
            await database_sync_to_async(api.bridge_gone)(self.station)
            await self._announce(connected=False)

    async def receive(self, text_data=None, bytes_data=None):
        if self.station is None:
            return
        try:
            frame = json.loads(text_data or "")
            if not isinstance(frame, dict):
                raise ValueError("a frame is a JSON object")
        except ValueError as exc:
            await self.send(json.dumps({"type": "error", "code": "bad_json", "message": str(exc)}))
            return
        kind = frame.get("type")
        if kind == "hello":
            try:
                welcome = await database_sync_to_async(api.bridge_hello)(
                    self.station, bridge_id=frame.get("bridge_id"), software=frame.get("software", ""))
            except ValidationError as exc:
                await self.send(json.dumps({"type": "error", "code": "bad_hello", "message": exc.messages[0]}))
                await self.close(code=PROTOCOL_ERROR_CODE)
                return
            except PermissionDenied as exc:
                await self.send(json.dumps({"type": "error", "code": "wrong_station", "message": str(exc)}))
                await self.close(code=AUTH_CLOSE_CODE)
                return
            self.bridge_id = str(frame["bridge_id"])[:64]
            self.link = await database_sync_to_async(api.BridgeLink)(self.station, self.bridge_id,
                                                                     welcome["acked_seq"])
            await self.send(json.dumps(welcome))
            await self._announce(connected=True)
            return
        if self.bridge_id is None:
            await self.send(json.dumps({"type": "error", "code": "no_hello", "message": "send hello first"}))
            return
        self.pending.append(frame)
        self._publish_early(frame)
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.ensure_future(self._flush_loop())

    async def _announce(self, connected: bool) -> None:
        """Consoles show whether a station's bridge is online (data spooled while it is not arrives later)."""
        await self.channel_layer.group_send(room_group(self.station.room_id), {
            "type": "station.changed", "station": self.station.pk, "connected": connected})

    def _publish_early(self, frame: dict) -> None:
        """Show new samples on the consoles at once; the disk commit (and the ack) follow.

        Only frames newer than anything stored before, from a known manikin, and valid: a resend
        after a reconnect, or an invalid frame, is shown (or not) after the commit. The scores of a
        recording depend on the stored frames and go out after the commit.
        """
        if frame.get("type") != "samples" or not isinstance(frame.get("seq"), int):
            return
        if frame["seq"] <= self.link.high_water:
            return
        try:
            p = api.parse_frame(frame)
        except (ValueError, TypeError):
            return
        manikin_id = self.link.manikins.get(p["device"])
        if manikin_id is None or not len(p["t"]):
            return
        self.early.add(p["seq"])
        RoomPublisher.current().add(self.channel_layer, self.station.room_id, [_sample_item(manikin_id, p)], [])

    async def _flush_loop(self):
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                result = await IngestHub.current().submit(self.link, batch)
            except Exception:
                # Nothing of this batch was acked: the bridge resends it after reconnecting.
                log.exception("storing %d frames from station %s failed", len(batch), self.station.pk)
                self.pending = []
                self.early.clear()
                await self.close(code=STORE_FAILED_CODE)
                return
            if result.acked:  # one message acknowledges the whole batch
                await self.send(json.dumps({"type": "ack", "seqs": result.acked}))
            for err in result.errors:
                await self.send(json.dumps(err))
            await self._publish(result)

    async def _publish(self, result: api.IngestResult) -> None:
        """After the commit: samples not shown yet, scores of running recordings, manikin status."""
        items = []
        for s in result.samples:
            if s["seq"] in self.early:  # the samples are on the consoles already
                self.early.discard(s["seq"])
                item = {"manikin": s["manikin_id"], "seq": s["seq"]}
            else:
                item = _sample_item(s["manikin_id"], {"seq": s["seq"], "sent_at": s["sent_at"], "t": s["t"],
                                                      "depth": s["depth_mm"]})
            item["recording"] = s["recording_id"]
            if s["recording_id"] is not None and len(s["t"]):
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
            return {"compressions": update.compressions if update else [], "summary": scorer.summary()}
        t, x = s["t"], s["depth_mm"]
        keep = t >= self.last_t.get(rec_id, -np.inf)  # the live view skips samples older than what it has
        if not np.all(keep):
            t, x = t[keep], x[keep]
        if not len(t):
            return {"compressions": [], "summary": scorer.summary()}
        update = scorer.feed(t, x, None if s["volume_ml"] is None else s["volume_ml"][keep])
        self.last_t[rec_id] = float(t[-1])
        return {"compressions": update.compressions, "summary": update.summary}

    async def recording_changed(self, event):
        rec = event["recording"]
        if not rec["active"]:
            self.scorers.pop(rec["id"], None)
            self.last_t.pop(rec["id"], None)


def _sample_item(manikin_id: int, p: dict) -> dict:
    return {"manikin": manikin_id, "seq": p["seq"], "sent_at": p["sent_at"],
            "t": np.round(p["t"], 3).tolist(), "depth_mm": np.round(p["depth"], 1).tolist()}


def _rebuild_scorer(recording_id: int):
    rec = Recording.objects.only("standard_id").get(pk=recording_id)
    scorer = StreamScorer(standard=rec.standard_id)
    t, x, v = api.recording_samples(recording_id)
    update = scorer.feed(t, x, v) if len(t) else None
    return scorer, update, (float(t[-1]) if len(t) else -np.inf)


class _LiveConsumer(AsyncWebsocketConsumer):
    """Shared by the room console and the trainee view: session-authenticated, read-only."""

    async def connect(self):
        self.room_id = None
        user = self.scope.get("user")
        if not (user and user.is_authenticated):
            await self.close(code=AUTH_CLOSE_CODE)
            return
        self.room_id = await database_sync_to_async(self.authorize)(user)
        if self.room_id is None:
            await self.close(code=4403)
            return
        await self.channel_layer.group_add(room_group(self.room_id), self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.room_id is not None:
            await self.channel_layer.group_discard(room_group(self.room_id), self.channel_name)

    async def live_frames(self, event):
        await self.send(json.dumps(event, separators=(",", ":")))

    async def recording_changed(self, event):
        await self.send(json.dumps(event, separators=(",", ":")))

    async def station_changed(self, event):
        await self.send(json.dumps(event, separators=(",", ":")))


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
        self.user = user
        return manikin.station.room_id

    async def live_frames(self, event):
        items = [i for i in event["items"] if i["manikin"] == self.manikin_id]
        statuses = [s for s in event["statuses"] if s["manikin_id"] == self.manikin_id]
        if items or statuses:
            await self.send(json.dumps({**event, "items": items, "statuses": statuses}, separators=(",", ":")))

    async def recording_changed(self, event):
        if event["manikin"] != self.manikin_id:
            return
        await self.send(json.dumps(event, separators=(",", ":")))
        if not event["recording"]["active"]:
            manikin = await database_sync_to_async(Manikin.objects.select_related("station__room").get)(
                pk=self.manikin_id)
            if not await database_sync_to_async(api.can_watch_manikin)(self.user, manikin):
                await self.close(code=4403)
