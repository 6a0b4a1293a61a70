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


class BridgeConsumer(AsyncWebsocketConsumer):
    """``/ws/bridge/``: one exam-site bridge, authenticated by its station's token."""

    async def connect(self):
        self.station = None
        self.bridge_id = None
        self.pending: list[dict] = []
        self.flusher: asyncio.Task | None = None
        self.scorers: dict[int, StreamScorer] = {}
        self.last_t: dict[int, float] = {}
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
            await self.send(json.dumps(welcome))
            return
        if self.bridge_id is None:
            await self.send(json.dumps({"type": "error", "code": "no_hello", "message": "send hello first"}))
            return
        self.pending.append(frame)
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.ensure_future(self._flush_loop())

    async def _flush_loop(self):
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                result = await database_sync_to_async(api.ingest_frames)(self.station, self.bridge_id, batch)
            except Exception:
                # Nothing of this batch was acked: the bridge resends it after reconnecting.
                log.exception("storing %d frames from station %s failed", len(batch), self.station.pk)
                self.pending = []
                await self.close(code=STORE_FAILED_CODE)
                return
            for seq in result.acked:
                await self.send(json.dumps({"type": "ack", "seq": seq}))
            for err in result.errors:
                await self.send(json.dumps(err))
            await self._publish(result)

    async def _publish(self, result: api.IngestResult) -> None:
        if not (result.samples or result.statuses):
            return
        items = []
        for s in result.samples:
            item = {
                "manikin": s["manikin_id"], "seq": s["seq"], "sent_at": s["sent_at"], "recording": s["recording_id"],
                "t": np.round(s["t"], 3).tolist(), "depth_mm": np.round(s["depth_mm"], 1).tolist(),
                "lost": s["lost"],
            }
            if s["recording_id"] is not None and len(s["t"]):
                item.update(await self._score(s))
            items.append(item)
        await self.channel_layer.group_send(room_group(self.station.room_id), {
            "type": "live.frames", "station": self.station.pk, "items": items, "statuses": result.statuses,
            "published_at": time.time(),
        })

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
