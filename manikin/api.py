"""Public functions of the manikin app: rooms and stations, ingest of bridge frames, recordings.

Writes are one function each (validation, permission, transaction, audit). The ingest path
is called by the bridge WebSocket consumer; it is also callable on its own in tests.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from lms import api as lms_api
from lms.models import Organisation, Role, User

from . import live
from .models import Frame, Manikin, RejectedFrame, Recording, Room, Station, concat_frames, token_digest
from .scoring import DEFAULT_STANDARD_ID, list_standards, score_trace

MAX_SAMPLES_PER_FRAME = 2000
STATUS_STATES = set(Manikin.State.values) - {Manikin.State.UNKNOWN}

# ------------------------------------------------------------------ who may do what


def visible_rooms(actor) -> QuerySet:
    """Rooms ``actor`` may watch: staff of the room's organisation, admins of its region, system admins."""
    qs = Room.objects.select_related("organisation__region")
    if not (actor and actor.is_authenticated):
        return qs.none()
    if lms_api.is_system_admin(actor):
        return qs
    q = Q(pk__in=[])
    region_q = lms_api.region_q(actor, "organisation__region")
    if actor.has_role(Role.REGION_ADMIN) and region_q is not None:
        q |= region_q
    if actor.has_role(Role.EXAMINER) or actor.has_role(Role.INSTRUCTOR):
        orgs = set(actor.role_assignments.filter(role__in=[Role.EXAMINER, Role.INSTRUCTOR],
                                                 organisation__isnull=False).values_list("organisation_id", flat=True))
        if actor.organisation_id:
            orgs.add(actor.organisation_id)
        q |= Q(organisation_id__in=orgs)
    return qs.filter(q)


def can_watch_room(actor, room: Room) -> bool:
    return visible_rooms(actor).filter(pk=room.pk).exists()


def can_watch_manikin(actor, manikin: Manikin) -> bool:
    """Console staff, or the trainee whose recording is running on this manikin."""
    if can_watch_room(actor, manikin.station.room):
        return True
    return bool(actor and actor.is_authenticated and
                manikin.recordings.filter(stopped_at__isnull=True, trainee=actor).exists())


def _require_room_admin(actor, organisation: Organisation) -> None:
    if actor is not None and not lms_api.can_manage_region(actor, organisation.region):
        raise PermissionDenied(_("You can only manage rooms in your own region."))


# ------------------------------------------------------------------ rooms, stations, manikins


def create_room(actor, *, organisation: Organisation, name: str) -> Room:
    _require_room_admin(actor, organisation)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("Please enter the room's name.")]})
    with transaction.atomic():
        if Room.objects.filter(organisation=organisation, name=name).exists():
            raise ValidationError({"name": [_("A room with this name already exists here.")]})
        room = Room.objects.create(organisation=organisation, name=name)
        lms_api.record_audit(actor, "manikin.room.create", room, after={"name": name, "organisation": organisation.pk})
    return room


def create_station(actor, *, room: Room, name: str, token: str | None = None) -> tuple[Station, str]:
    """Create a station; returns it with its bridge token, shown this once (only a digest is kept)."""
    _require_room_admin(actor, room.organisation)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("Please enter the station's name.")]})
    token = token or secrets.token_urlsafe(32)
    if len(token) < 16:
        raise ValidationError({"token": [_("A station token has at least 16 characters.")]})
    with transaction.atomic():
        if Station.objects.filter(room=room, name=name).exists():
            raise ValidationError({"name": [_("A station with this name already exists in this room.")]})
        if Station.objects.filter(token_digest=token_digest(token)).exists():
            raise ValidationError({"token": [_("This token is already in use.")]})
        station = Station.objects.create(room=room, name=name, token_digest=token_digest(token))
        lms_api.record_audit(actor, "manikin.station.create", station, after={"room": room.pk, "name": name})
    return station, token


def rotate_station_token(actor, station: Station) -> str:
    _require_room_admin(actor, station.room.organisation)
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        Station.objects.filter(pk=station.pk).update(token_digest=token_digest(token))
        lms_api.record_audit(actor, "manikin.station.rotate_token", station)
    return token


def assign_manikin(actor, *, station: Station, address: str, label: str = "", protocol: str = "laerdal-qcpr") -> Manikin:
    _require_room_admin(actor, station.room.organisation)
    from .protocols import PROTOCOLS

    address = (address or "").strip().upper()
    if not address:
        raise ValidationError({"address": [_("Please enter the manikin's Bluetooth address.")]})
    if protocol not in PROTOCOLS:
        raise ValidationError({"protocol": [_("Unknown manikin protocol.")]})
    with transaction.atomic():
        manikin, created = Manikin.objects.update_or_create(
            station=station, address=address, defaults={"label": label.strip(), "protocol": protocol})
        lms_api.record_audit(actor, "manikin.assign" if created else "manikin.update", manikin,
                             after={"station": station.pk, "address": address, "label": label, "protocol": protocol})
    return manikin


def authenticate_station(token: str | None) -> Station | None:
    if not token:
        return None
    return Station.objects.select_related("room").filter(token_digest=token_digest(token)).first()


def bridge_hello(station: Station, *, bridge_id: str, software: str = "") -> dict[str, Any]:
    """Record a bridge's connection; return the ``welcome`` frame (assigned manikins, highest stored seq)."""
    bridge_id = str(bridge_id or "")[:64]
    if not bridge_id:
        raise ValidationError(_("The bridge did not say who it is (bridge_id)."))
    other = Frame.objects.filter(bridge_id=bridge_id).exclude(station=station).select_related("station").first()
    if other is not None:
        # One bridge's sequence belongs to one station: a bridge that sent as another station is refused.
        raise PermissionDenied(_("This bridge already sends for station %(name)s; give it its own spool "
                                 "or that station's token.") % {"name": other.station.name})
    Station.objects.filter(pk=station.pk).update(bridge_id=bridge_id, bridge_software=str(software)[:64],
                                                 connected=True, last_seen_at=timezone.now())
    acked = Frame.objects.filter(bridge_id=bridge_id).aggregate(m=Max("seq"))["m"] or 0
    rejected = RejectedFrame.objects.filter(bridge_id=bridge_id).aggregate(m=Max("seq"))["m"] or 0
    return {
        "type": "welcome",
        "station": {"id": station.pk, "name": station.name, "room": station.room.name},
        "manikins": [{"address": m.address, "label": m.label, "protocol": m.protocol}
                     for m in station.manikins.all()],
        "acked_seq": max(acked, rejected),
    }


def bridge_gone(station: Station) -> None:
    Station.objects.filter(pk=station.pk).update(connected=False, last_seen_at=timezone.now())


# ------------------------------------------------------------------ ingest


@dataclass
class IngestResult:
    acked: list[int] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    # newly stored sample frames, in order: dicts with manikin_id, recording_id, t, depth_mm, volume_ml, sent_at, seq
    samples: list[dict] = field(default_factory=list)
    statuses: list[dict] = field(default_factory=list)


def _floats(values, name: str, n: int | None = None) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a list of numbers") from exc
    if arr.ndim != 1 or (n is not None and len(arr) != n):
        raise ValueError(f"{name} must be a flat list" + (f" of {n} numbers" if n is not None else ""))
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds a value that is not a finite number")
    return arr


def parse_frame(frame: dict) -> dict:
    """Validate one frame; return the fields to store. Raises ValueError with an English reason."""
    kind = frame.get("type")
    seq = frame.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise ValueError("seq must be a positive integer")
    device = frame.get("device")
    if not isinstance(device, str) or not device.strip() or len(device) > 64:
        raise ValueError("device must be a non-empty string")
    sent_at = frame.get("sent_at")
    sent_at = float(sent_at) if isinstance(sent_at, (int, float)) and not isinstance(sent_at, bool) else None
    out = {"kind": kind, "seq": seq, "device": device.strip().upper(), "sent_at": sent_at}
    if kind == "samples":
        t = _floats(frame.get("t"), "t")
        if len(t) > MAX_SAMPLES_PER_FRAME:
            raise ValueError(f"at most {MAX_SAMPLES_PER_FRAME} samples per frame")
        depth = _floats(frame.get("depth_mm"), "depth_mm", len(t))
        volume = frame.get("volume_ml")
        volume = None if volume is None else _floats(volume, "volume_ml", len(t))
        if len(t) > 1 and np.any(np.diff(t) < 0):
            raise ValueError("t goes backwards inside the frame")
        out.update(t=t, depth=depth, volume=volume, protocol=str(frame.get("protocol") or "")[:32],
                   lost=max(0, int(frame.get("lost") or 0)), malformed=max(0, int(frame.get("malformed") or 0)))
    elif kind == "status":
        state = frame.get("state")
        if state not in STATUS_STATES:
            raise ValueError(f"state must be one of {sorted(STATUS_STATES)}")
        battery, rssi = frame.get("battery_pct"), frame.get("rssi_dbm")
        info = frame.get("info")
        out["status"] = {
            "state": state,
            "battery_pct": int(battery) if isinstance(battery, (int, float)) and 0 <= battery <= 100 else None,
            "rssi_dbm": int(rssi) if isinstance(rssi, (int, float)) and -130 <= rssi <= 20 else None,
            "info": info if isinstance(info, dict) else None,
            "message": str(frame.get("message") or "")[:255],
        }
    else:
        raise ValueError("type must be samples or status")
    return out


class BridgeLink:
    """What the server remembers about one bridge connection, so that each batch costs few queries.

    - ``high_water``: every seq at or below it may already be stored (checked against the database);
      frames above it are new unless a concurrent connection of the same bridge stored them, in which
      case the unique constraint aborts the batch and nothing of it is acknowledged.
    - the station's manikins by address, and what was last written about each, so that unchanged
      state and ``last_seen_at`` (at most every ``SEEN_EVERY_S``) are not written again and again.
    """

    SEEN_EVERY_S = 5.0

    def __init__(self, station: Station, bridge_id: str, high_water: int = 0):
        self.station = station
        self.bridge_id = bridge_id
        self.high_water = high_water
        self.manikins: dict[str, int] = dict(Manikin.objects.filter(station=station).values_list("address", "pk"))
        self.written_state: dict[int, str] = {}
        self.seen_written: dict[int, float] = {}
        self.station_seen_written = 0.0

    def ingest(self, frames: list[dict]) -> IngestResult:
        """Store a batch of frames, each exactly once, in one transaction; see :func:`ingest_frames`."""
        return ingest_batches([(self, frames)])[0]

    def _parse(self, frames: list[dict], result: IngestResult) -> list[dict]:
        """Validate the frames; invalid ones are kept verbatim in ``RejectedFrame``, explained and acknowledged."""
        parsed: list[dict] = []
        rejected: list[RejectedFrame] = []
        for frame in frames:
            try:
                parsed.append(parse_frame(frame))
            except (ValueError, TypeError) as exc:
                seq = frame.get("seq") if isinstance(frame.get("seq"), int) else None
                rejected.append(RejectedFrame(station=self.station, bridge_id=self.bridge_id, seq=seq,
                                              error=str(exc)[:255], body=json.dumps(frame, default=str)[:1_000_000]))
                result.errors.append({"type": "error", "code": "bad_frame", "seq": seq, "message": str(exc)})
                if seq is not None:
                    result.acked.append(seq)
        if rejected:
            RejectedFrame.objects.bulk_create(rejected)
        return parsed

    def _fresh(self, parsed: list[dict]) -> list[dict]:
        """The frames not stored before: only seqs at or below the high-water mark need a look."""
        seqs = [p["seq"] for p in parsed]
        seen: set[int] = set()
        if seqs and min(seqs) <= self.high_water:
            seen = set(Frame.objects.filter(bridge_id=self.bridge_id, seq__in=seqs).values_list("seq", flat=True))
        fresh, taken = [], set()
        for p in parsed:
            if p["seq"] not in seen and p["seq"] not in taken:
                taken.add(p["seq"])
                fresh.append(p)
        self._register_unknown(fresh)
        return fresh

    def _register_unknown(self, fresh: list[dict]) -> None:
        """A device the station did not list is registered, never dropped."""
        for p in fresh:
            if p["device"] not in self.manikins:
                m, _created = Manikin.objects.get_or_create(
                    station=self.station, address=p["device"],
                    defaults={"label": "", "protocol": p.get("protocol") or "laerdal-qcpr"})
                self.manikins[p["device"]] = m.pk

    def _row(self, p: dict, active: dict, result: IngestResult) -> Frame:
        mid = self.manikins[p["device"]]
        if p["kind"] == "status":
            result.statuses.append({"manikin_id": mid, **p["status"]})
            return Frame(station_id=self.station.pk, bridge_id=self.bridge_id, seq=p["seq"], kind=Frame.Kind.STATUS,
                         manikin_id=mid, sent_at=p["sent_at"], status=p["status"])
        rec = active.get(mid)
        result.samples.append({"manikin_id": mid, "recording_id": rec, "seq": p["seq"], "t": p["t"],
                               "depth_mm": p["depth"], "volume_ml": p["volume"], "sent_at": p["sent_at"],
                               "lost": p["lost"]})
        return Frame(
            station_id=self.station.pk, bridge_id=self.bridge_id, seq=p["seq"], kind=Frame.Kind.SAMPLES,
            manikin_id=mid, recording_id=rec, sent_at=p["sent_at"], n_samples=len(p["t"]),
            t_first=float(p["t"][0]) if len(p["t"]) else None,
            t=p["t"].astype("<f8").tobytes(), depth=p["depth"].astype("<f4").tobytes(),
            volume=None if p["volume"] is None else p["volume"].astype("<f4").tobytes(),
            lost=p["lost"], malformed=p["malformed"],
        )

    def _write_manikin_state(self, fresh: list[dict], now, now_s: float) -> None:
        by_manikin: dict[int, list[dict]] = {}
        for p in fresh:
            by_manikin.setdefault(self.manikins[p["device"]], []).append(p)
        for mid, mine in by_manikin.items():
            updates: dict[str, Any] = {}
            lost = sum(p.get("lost", 0) for p in mine)
            malformed = sum(p.get("malformed", 0) for p in mine)
            if lost:
                updates["samples_lost"] = F("samples_lost") + lost
            if malformed:
                updates["packets_malformed"] = F("packets_malformed") + malformed
            statuses = [p["status"] for p in mine if p["kind"] == "status"]
            if statuses:
                s = statuses[-1]
                updates.update(state=s["state"], status_message=s["message"])
                updates.update({k: s[k] for k in ("battery_pct", "rssi_dbm", "info") if s[k] is not None})
            elif self.written_state.get(mid) != Manikin.State.STREAMING:
                updates["state"] = Manikin.State.STREAMING
            if updates or now_s - self.seen_written.get(mid, 0.0) >= self.SEEN_EVERY_S:
                updates["last_seen_at"] = now
                self.seen_written[mid] = now_s
                Manikin.objects.filter(pk=mid).update(**updates)
                if "state" in updates:
                    self.written_state[mid] = updates["state"]


def ingest_batches(batches: list[tuple[BridgeLink, list[dict]]]) -> list[IngestResult]:
    """Store the frames of several bridge connections in one transaction (group commit).

    Each frame is stored exactly once (unique ``(bridge_id, seq)``); a failure stores nothing of any
    batch and acknowledges nothing, so every bridge resends. Returns one result per batch.
    """
    now, now_s = timezone.now(), time.monotonic()
    results = [IngestResult() for _ in batches]
    with transaction.atomic():
        fresh_by_link = []
        for (link, frames), result in zip(batches, results):
            parsed = link._parse(frames, result)
            fresh_by_link.append((link, parsed, link._fresh(parsed)))
        ids = {link.manikins[p["device"]] for link, _parsed, fresh in fresh_by_link for p in fresh}
        active = dict(Recording.objects.filter(manikin_id__in=ids, stopped_at__isnull=True)
                      .values_list("manikin_id", "pk")) if ids else {}
        rows = [link._row(p, active, result)
                for (link, _parsed, fresh), result in zip(fresh_by_link, results) for p in fresh]
        Frame.objects.bulk_create(rows, batch_size=500)
        for link, _parsed, fresh in fresh_by_link:
            link._write_manikin_state(fresh, now, now_s)
            if now_s - link.station_seen_written >= link.SEEN_EVERY_S:
                Station.objects.filter(pk=link.station.pk).update(last_seen_at=now)
                link.station_seen_written = now_s
    for (link, parsed, _fresh), result in zip(fresh_by_link, results):
        seqs = [p["seq"] for p in parsed]
        result.acked.extend(seqs)
        if seqs:
            link.high_water = max(link.high_water, max(seqs))
    return results


def ingest_frames(station: Station, bridge_id: str, frames: list[dict]) -> IngestResult:
    """Store a batch of frames from one bridge, each exactly once, in one transaction.

    Every frame is acknowledged: stored ones, ones stored before (duplicates after a resend) and
    invalid ones, which are kept verbatim in ``RejectedFrame`` so that nothing is silently lost.
    A bridge connection keeps a :class:`BridgeLink`; the WebSocket consumers go through
    :func:`ingest_batches` to commit several connections' frames together.
    """
    high_water = Frame.objects.filter(bridge_id=bridge_id).aggregate(m=Max("seq"))["m"] or 0
    return BridgeLink(station, bridge_id, high_water).ingest(frames)


# ------------------------------------------------------------------ recordings


def recordable_people(actor, room: Room) -> QuerySet:
    """People who may be recorded in ``room``: trainees registered in the room's region or below."""
    if not can_watch_room(actor, room):
        return User.objects.none()
    region = room.organisation.region
    return (User.objects.filter(region__path__startswith=region.path, role_assignments__role=Role.TRAINEE,
                                is_active=True).distinct().order_by("real_name"))


def start_recording(actor, manikin: Manikin, *, trainee: User | None = None,
                    standard_id: str = DEFAULT_STANDARD_ID) -> Recording:
    room = manikin.station.room
    if not can_watch_room(actor, room):
        raise PermissionDenied(_("You cannot start recordings in this room."))
    if standard_id not in list_standards():
        raise ValidationError({"standard_id": [_("Unknown CPR standard.")]})
    if trainee is not None and not recordable_people(actor, room).filter(pk=trainee.pk).exists():
        raise ValidationError({"trainee": [_("This person is not a trainee of this region.")]})
    with transaction.atomic():
        if Recording.objects.select_for_update().filter(manikin=manikin, stopped_at__isnull=True).exists():
            raise ValidationError(_("A recording is already running on this manikin."))
        rec = Recording.objects.create(manikin=manikin, trainee=trainee, started_by=actor, standard_id=standard_id)
        lms_api.record_audit(actor, "manikin.recording.start", rec,
                             after={"manikin": manikin.pk, "trainee": trainee.pk if trainee else None,
                                    "standard": standard_id})
        transaction.on_commit(lambda: live.publish_recording(rec))
    return rec


def stop_recording(actor, recording: Recording) -> Recording:
    """Stop a recording and score every sample stored for it with the batch scorer."""
    if not can_watch_room(actor, recording.manikin.station.room):
        raise PermissionDenied(_("You cannot stop recordings in this room."))
    with transaction.atomic():
        rec = Recording.objects.select_for_update().get(pk=recording.pk)
        if rec.stopped_at is not None:
            raise ValidationError(_("This recording has already stopped."))
        rec.stopped_at = timezone.now()
        rec.stopped_by = actor
        t, depth, volume = recording_samples(rec.pk)
        rec.sample_count = len(t)
        if len(t):
            res = score_trace(t, depth, volume, standard=rec.standard_id).to_dict()
            rec.result, rec.score, rec.passed = res, res["score"], res["passed"]
        rec.save(update_fields=["stopped_at", "stopped_by", "sample_count", "result", "score", "passed"])
        lms_api.record_audit(actor, "manikin.recording.stop", rec,
                             after={"samples": rec.sample_count, "score": rec.score, "passed": rec.passed})
        transaction.on_commit(lambda: live.publish_recording(rec))
    return rec


def recording_samples(recording_id: int):
    frames = list(Frame.objects.filter(recording_id=recording_id, kind=Frame.Kind.SAMPLES)
                  .order_by("bridge_id", "seq").values_list("t", "depth", "volume"))
    return concat_frames(frames)


def active_recording(manikin: Manikin) -> Recording | None:
    return manikin.recordings.filter(stopped_at__isnull=True).first()
