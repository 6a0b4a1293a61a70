"""Public functions of the manikin app: rooms and stations, ingest of bridge frames, recordings.

Writes are one function each (validation, permission, transaction, audit). The ingest path
is called by the bridge WebSocket consumer; it is also callable on its own in tests.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import json
import logging
import re
import secrets
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from lms import api as lms_api
from lms.models import Organisation, Role, User

from . import frames, live, signals
from .models import Frame, Manikin, RejectedFrame, Recording, Room, Station, concat_frames, token_digest
from .scoring import DEFAULT_STANDARD_ID, SCORER_VERSION, list_standards, load_standard, score_trace


# ------------------------------------------------------------------ who may do what


# Other apps may let more people into a room's console: ``grant(actor)`` returns room ids (the
# practical exam: the examiners of the room's sessions today).
_room_grants: list = []


def register_room_grant(grant) -> None:
    if grant not in _room_grants:
        _room_grants.append(grant)


def visible_rooms(actor) -> QuerySet:
    """Rooms ``actor`` may watch: staff of the room's organisation, admins of its region, system admins,
    and whoever another app grants a room (:func:`register_room_grant`)."""
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
    for grant in _room_grants:
        q |= Q(pk__in=list(grant(actor)))
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
        # A bridge still connected with the old token is closed at once.
        transaction.on_commit(lambda: live.publish_station(station.pk, {"type": "station.token_rotated"}))
    return token


def set_room_mode(actor, room: Room, *, mode: str, standard_id: str) -> Room:
    """A room admin sets a room's mode (practice or exam) and its standard.

    In exam mode the standard is fixed for every recording of the room and a trainee is required;
    in practice mode the standard is the console's default (the examiner may pick another).
    """
    _require_room_admin(actor, room.organisation)
    if mode not in Room.Mode.values:
        raise ValidationError({"mode": [_("Choose practice or exam mode.")]})
    standard_id = (standard_id or "").strip()
    if standard_id and standard_id not in list_standards():
        raise ValidationError({"standard_id": [_("Unknown CPR standard.")]})
    if mode == Room.Mode.EXAM and not standard_id:
        raise ValidationError({"standard_id": [_("In exam mode the room needs its standard: please choose one.")]})
    with transaction.atomic():
        locked = Room.objects.select_for_update().get(pk=room.pk)
        before = {"mode": locked.mode, "standard": locked.standard_id}
        locked.mode, locked.standard_id = mode, standard_id
        locked.save(update_fields=["mode", "standard_id"])
        lms_api.record_audit(actor, "manikin.room.set_mode", locked, before=before,
                             after={"mode": mode, "standard": standard_id})
    room.mode, room.standard_id = mode, standard_id
    return room


def room_standard_id(room: Room) -> str:
    """The standard a room's recordings use (exam mode) or offer first (practice mode)."""
    return room.standard_id if room.standard_id in list_standards() else DEFAULT_STANDARD_ID


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
    if not token or len(token) > 256:
        return None
    return Station.objects.select_related("room").filter(token_digest=token_digest(token)).first()


def station_token_valid(station_id: int, token: str) -> bool:
    """Whether ``token`` still opens ``station_id`` (false after the token was rotated)."""
    return Station.objects.filter(pk=station_id, token_digest=token_digest(token)).exists()


CLOCK_STEADY_S = 1.0  # a bridge's clock offset that moved less than this across a reconnect did not change


class BridgeRefused(Exception):
    """A hello the server turns down; ``code`` goes to the bridge with the message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def bridge_hello(station: Station, *, bridge_id: str, software: str = "", clock: float | None = None,
                 received_at: float | None = None) -> tuple[dict[str, Any], BridgeLink]:
    """Accept a bridge's hello: the ``welcome`` frame and the link that stores its frames.

    One bridge id belongs to one station: a bridge that already sent for (or is registered at)
    another station is refused. ``clock`` is the bridge's epoch seconds when it sent the hello;
    the difference to the server's clock attributes samples to recordings by when they were
    measured, not when they arrived.
    """
    if not bridge_id:
        raise BridgeRefused("bad_hello", "bridge_id is missing")
    other = (Station.objects.filter(bridge_id=bridge_id).exclude(pk=station.pk).first()
             or Station.objects.filter(frames__bridge_id=bridge_id).exclude(pk=station.pk).first())
    if other is not None:
        raise BridgeRefused("bridge_id_taken",
                            f"bridge {bridge_id} belongs to station {other.pk}; give this bridge its own spool "
                            "or use that station's token")
    received_at = time.time() if received_at is None else received_at
    Station.objects.filter(pk=station.pk).update(bridge_id=bridge_id, bridge_software=software[:64],
                                                 connected=True, last_seen_at=timezone.now())
    acked = Frame.objects.filter(bridge_id=bridge_id).aggregate(m=Max("seq"))["m"] or 0
    rejected = RejectedFrame.objects.filter(bridge_id=bridge_id).aggregate(m=Max("seq"))["m"] or 0
    offset = None if clock is None else received_at - clock
    last = (Frame.objects.filter(bridge_id=bridge_id, kind=Frame.Kind.SAMPLES).order_by("-seq")
            .values_list("clock_offset_s", flat=True).first())
    if offset is not None and last is not None and abs(offset - last) < CLOCK_STEADY_S:
        # The same clock as before, measured again with a little network delay: keep the old offset,
        # so that a reconnect does not shift a running recording's samples by a few milliseconds.
        offset = last
    link = BridgeLink(station, bridge_id, max(acked, rejected), clock_offset_s=offset)
    welcome = {
        "type": "welcome",
        "station": {"id": station.pk, "name": station.name, "room": station.room.name},
        "manikins": [{"address": m.address, "label": m.label, "protocol": m.protocol}
                     for m in station.manikins.all()],
        "acked_seq": link.high_water,
        "server_time": received_at,
    }
    return welcome, link


def bridge_gone(station: Station) -> None:
    Station.objects.filter(pk=station.pk).update(connected=False, last_seen_at=timezone.now())


# ------------------------------------------------------------------ ingest

log = logging.getLogger("manikin.ingest")
# The database itself is unreachable or busy: not the frame's fault. Nothing is acknowledged and the
# bridges resend later; every other error is put down to the frames of one batch and isolated.
STORE_OUTAGE = (OperationalError, InterfaceError)


@dataclass
class IngestResult:
    acked: list[int] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    # newly stored sample frames, in order: dicts with manikin_id, recording_id, recording_active,
    # seq, t (server clock), depth_mm, volume_ml, sent_at, lost
    samples: list[dict] = field(default_factory=list)
    statuses: list[dict] = field(default_factory=list)

    def merge(self, other: IngestResult) -> None:
        for name in ("acked", "errors", "samples", "statuses"):
            getattr(self, name).extend(getattr(other, name))


class BridgeLink:
    """What the server remembers about one bridge connection, so that each batch costs few queries.

    - ``high_water``: every seq at or below it may already be stored (checked against the database);
      frames above it are new.
    - ``clock_offset_s``: server clock minus the bridge's clock, from the hello (or, for bridges that
      send no clock, from the first frame's ``sent_at``).
    - the station's manikins by address, and what was last written about each, so that unchanged
      state and ``last_seen_at`` (at most every ``SEEN_EVERY_S``) are not written again and again.
    The caches change only after a commit.
    """

    SEEN_EVERY_S = 5.0

    def __init__(self, station: Station, bridge_id: str, high_water: int = 0, clock_offset_s: float | None = None):
        self.station = station
        self.bridge_id = bridge_id
        self.high_water = high_water
        self.clock_offset_s = clock_offset_s
        self.manikins: dict[str, int] = dict(Manikin.objects.filter(station=station).values_list("address", "pk"))
        self.written_state: dict[int, str] = {}
        self.seen_written: dict[int, float] = {}
        self.station_seen_written = 0.0

    def offset_for(self, frame: frames.Samples, received_at: float) -> float:
        if self.clock_offset_s is None:
            self.clock_offset_s = received_at - frame.sent_at if frame.sent_at is not None else 0.0
        return self.clock_offset_s

    def ingest(self, decoded: list[frames.Decoded]) -> IngestResult:
        return store_frames([(self, decoded)])[0]


class _Plan:
    """The rows one bridge's batch adds, built inside the transaction; applied to the link after it."""

    def __init__(self, link: BridgeLink, decoded: list[frames.Decoded], received_at: float):
        self.link = link
        self.received_at = received_at
        self.result = IngestResult()
        self.rejected: list[RejectedFrame] = []
        self.fresh: list[tuple[frames.Samples | frames.Status, int]] = []
        self.new_manikins: dict[str, int] = {}
        self.seqs: list[int] = []
        self.state_written: dict[int, str] = {}  # manikin states and sightings written in this transaction
        self.seen: set[int] = set()
        valid = []
        for item in decoded:
            if isinstance(item, frames.Rejected):
                self.reject(item.raw, item.code, item.message, seq=item.seq, kind=item.kind)
            elif isinstance(item, frames.Hello):
                self.reject(item.raw, "hello_again", "hello was already received on this connection")
            else:
                valid.append(item)
        self._fresh(valid)

    def reject(self, raw: bytes, code: str, message: str, *, seq: int | None = None, kind: str | None = None):
        self.rejected.append(RejectedFrame(station_id=self.link.station.pk, bridge_id=self.link.bridge_id, seq=seq,
                                           kind=(kind or "")[:16], code=code[:32], error=message[:255], raw=raw))
        self.result.errors.append({"type": "error", "code": code, "seq": seq, "message": message})
        if seq is not None:
            self.seqs.append(seq)

    def _fresh(self, valid: list) -> None:
        link = self.link
        seqs = [f.seq for f in valid]
        seen: set[int] = set()
        if seqs and min(seqs) <= link.high_water:
            seen = set(Frame.objects.filter(bridge_id=link.bridge_id, seq__in=seqs).values_list("seq", flat=True))
        limit = settings.MANIKIN_MAX_DEVICES_PER_STATION
        for f in valid:
            if f.seq in seen:  # stored before: a resend after a reconnect
                self.seqs.append(f.seq)
                continue
            seen.add(f.seq)
            mid = link.manikins.get(f.device) or self.new_manikins.get(f.device)
            if mid is None:
                if len(link.manikins) + len(self.new_manikins) >= limit:
                    self.reject(f.raw, "too_many_devices",
                                f"a station has at most {limit} manikins; {f.device} is one too many",
                                seq=f.seq, kind=f.kind)
                    continue
                # A device the station did not list is registered, never dropped.
                mid = Manikin.objects.get_or_create(
                    station_id=link.station.pk, address=f.device,
                    defaults={"label": "", "protocol": getattr(f, "protocol", "") or "laerdal-qcpr"})[0].pk
                self.new_manikins[f.device] = mid
            self.fresh.append((f, mid))
            self.seqs.append(f.seq)

    def time_range(self) -> tuple[float, float] | None:
        spans = [(f.t[0] + self.link.offset_for(f, self.received_at), f.t[-1] + self.link.offset_for(f, self.received_at))
                 for f, _mid in self.fresh if f.kind == "samples" and len(f.t)]
        if not spans:
            return None
        return min(s[0] for s in spans), max(s[1] for s in spans)

    def rows(self, recordings: dict[int, list[tuple[int, float, float | None]]], late: dict[int, int],
             status_json) -> list[tuple]:
        """One tuple per fresh frame, in the order of :data:`FRAME_COLUMNS`."""
        link, out = self.link, []
        station_id, bridge_id = link.station.pk, link.bridge_id
        for f, mid in self.fresh:
            if f.kind == "status":
                status = f.as_dict()
                self.result.statuses.append({"manikin_id": mid, **status})
                out.append((station_id, bridge_id, f.seq, Frame.Kind.STATUS, mid, None, f.sent_at, 0, 0.0, None,
                            None, None, None, None, 0, 0, status_json(status)))
                continue
            offset = link.offset_for(f, self.received_at)
            t_first = float(f.t[0]) + offset if len(f.t) else None
            t_last = float(f.t[-1]) + offset if len(f.t) else None
            rec_id, rec_active = _covering(recordings.get(mid, ()), t_first, t_last)
            if rec_id is not None and not rec_active:
                late[rec_id] = late.get(rec_id, 0) + len(f.t)
            self.result.samples.append({
                "manikin_id": mid, "recording_id": rec_id, "recording_active": rec_active, "seq": f.seq,
                "t": f.t + offset, "depth_mm": f.depth_mm, "volume_ml": f.volume_ml, "sent_at": f.sent_at,
                "lost": f.lost})
            out.append((station_id, bridge_id, f.seq, Frame.Kind.SAMPLES, mid, rec_id, f.sent_at, len(f.t), offset,
                        t_first, t_last, f.t.astype("<f8").tobytes(), f.depth_mm.astype("<f4").tobytes(),
                        None if f.volume_ml is None else f.volume_ml.astype("<f4").tobytes(), f.lost, f.malformed,
                        None))
        return out

    def write_manikin_state(self, now, now_s: float) -> None:
        by_manikin: dict[int, list] = {}
        for f, mid in self.fresh:
            by_manikin.setdefault(mid, []).append(f)
        link = self.link
        for mid, mine in by_manikin.items():
            updates: dict[str, Any] = {}
            lost = sum(getattr(f, "lost", 0) for f in mine)
            malformed = sum(getattr(f, "malformed", 0) for f in mine)
            if lost:
                updates["samples_lost"] = F("samples_lost") + lost
            if malformed:
                updates["packets_malformed"] = F("packets_malformed") + malformed
            statuses = [f for f in mine if f.kind == "status"]
            if statuses:
                s = statuses[-1]
                updates.update(state=s.state, status_message=s.message)
                updates.update({k: getattr(s, k) for k in ("battery_pct", "rssi_dbm", "info")
                                if getattr(s, k) is not None})
            elif link.written_state.get(mid) != Manikin.State.STREAMING:
                updates["state"] = Manikin.State.STREAMING
            if updates or now_s - link.seen_written.get(mid, 0.0) >= link.SEEN_EVERY_S:
                updates["last_seen_at"] = now
                self.seen.add(mid)
                Manikin.objects.filter(pk=mid).update(**updates)
                if "state" in updates:
                    self.state_written[mid] = updates["state"]

    def apply(self, now_s: float, station_seen: bool) -> None:
        """After the commit: the link's caches learn what is now stored."""
        link = self.link
        link.manikins.update(self.new_manikins)
        link.written_state.update(self.state_written)
        for mid in self.seen:
            link.seen_written[mid] = now_s
        if station_seen:
            link.station_seen_written = now_s
        self.result.acked.extend(sorted(self.seqs))  # seq order is the order the bridge sent them
        if self.seqs:
            link.high_water = max(link.high_water, max(self.seqs))


def _covering(recs, t_first: float | None, t_last: float | None) -> tuple[int | None, bool]:
    """The recording of a manikin during which a frame was measured (by its last sample, else its first)."""
    for t in (t_last, t_first):
        if t is None:
            continue
        for pk, start, stop in recs:
            if start <= t and (stop is None or t < stop):
                return pk, stop is None
    return None, False


def _recordings_during(plans: list[_Plan]) -> dict[int, list[tuple[int, float, float | None]]]:
    """Recordings of the batch's manikins that overlap the time its samples were measured."""
    spans = [r for r in (p.time_range() for p in plans) if r is not None]
    ids = {mid for p in plans for f, mid in p.fresh if f.kind == "samples"}
    if not spans or not ids:
        return {}
    lo, hi = min(s[0] for s in spans), max(s[1] for s in spans)
    tz, ops = datetime.timezone.utc, connection.ops
    # Plain SQL: this runs once per group commit, and the ORM's query building cost more than the query.
    sql = (f"SELECT id, manikin_id, started_at, stopped_at FROM {Recording._meta.db_table} "
           f"WHERE manikin_id IN ({', '.join(['%s'] * len(ids))}) AND started_at <= %s "
           f"AND (stopped_at IS NULL OR stopped_at >= %s)")
    params = [*ids, ops.adapt_datetimefield_value(datetime.datetime.fromtimestamp(hi, tz)),
              ops.adapt_datetimefield_value(datetime.datetime.fromtimestamp(lo, tz))]
    out: dict[int, list] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for pk, mid, started, stopped in cursor.fetchall():
            out.setdefault(mid, []).append((pk, _epoch(started), _epoch(stopped) if stopped else None))
    return out


def _epoch(value) -> float:
    """A datetime column as epoch seconds (SQLite hands back naive UTC datetimes or text)."""
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.timestamp()


FRAME_COLUMNS = ("station_id", "bridge_id", "seq", "kind", "manikin_id", "recording_id", "sent_at", "n_samples",
                 "clock_offset_s", "t_first", "t_last", "t", "depth", "volume", "lost", "malformed", "status")


def _insert_frames(rows: list[tuple], now) -> None:
    """One ``executemany`` for the rows: no model instance per frame (the ORM's share of the ingest cost)."""
    if not rows:
        return
    received_at = connection.ops.adapt_datetimefield_value(now)
    columns = ", ".join(connection.ops.quote_name(c) for c in (*FRAME_COLUMNS, "received_at"))
    sql = (f"INSERT INTO {Frame._meta.db_table} ({columns}) "
           f"VALUES ({', '.join(['%s'] * (len(FRAME_COLUMNS) + 1))})")
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(*row, received_at) for row in rows])


def _store(plans: list[_Plan], now, now_s: float) -> list[bool]:
    """Write the plans' rows; inside the caller's transaction."""
    late: dict[int, int] = {}
    recordings = _recordings_during(plans)
    status_field = Frame._meta.get_field("status")
    status_json = lambda value: status_field.get_db_prep_save(value, connection)  # noqa: E731
    rows = [row for p in plans for row in p.rows(recordings, late, status_json)]
    rejected = [r for p in plans for r in p.rejected]
    if rejected:
        RejectedFrame.objects.bulk_create(rejected)
    _insert_frames(rows, now)
    for rec_id, n in late.items():
        Recording.objects.filter(pk=rec_id).update(late_samples=F("late_samples") + n)
    if late:
        ids = sorted(late)
        transaction.on_commit(lambda: _announce_late(ids))
    station_seen = []
    for p in plans:
        p.write_manikin_state(now, now_s)
        seen = now_s - p.link.station_seen_written >= p.link.SEEN_EVERY_S
        if seen:
            Station.objects.filter(pk=p.link.station.pk).update(last_seen_at=now)
        station_seen.append(seen)
    return station_seen


def _announce_late(recording_ids: list[int]) -> None:
    """Tell the apps built on recordings; a receiver's failure is logged, never the ingest's."""
    for receiver, outcome in signals.samples_arrived_late.send_robust(sender=Recording, recording_ids=recording_ids):
        if isinstance(outcome, Exception):
            log.error("late samples of recordings %s: %r failed", recording_ids, receiver,
                      exc_info=(type(outcome), outcome, outcome.__traceback__))


def store_frames(batches: list[tuple[BridgeLink, list[frames.Decoded]]]) -> list[IngestResult]:
    """Store what bridges sent: every frame stored once, or kept verbatim as rejected, and acknowledged.

    The batches of all bridge connections of a process go into one transaction (group commit). If that
    fails, each batch is retried on its own, and a batch that still fails frame by frame; a frame that
    cannot be stored is kept as rejected with the database's reason. So one bridge's bad frame never
    costs another frame or connection anything. A database outage (:data:`STORE_OUTAGE`) is raised:
    nothing is acknowledged and the bridges resend. Returns one result per batch, in order.
    """
    now, now_s, received_at = timezone.now(), time.monotonic(), time.time()
    try:
        with transaction.atomic():
            plans = [_Plan(link, decoded, received_at) for link, decoded in batches]
            seen = _store(plans, now, now_s)
    except STORE_OUTAGE:
        connection.close()  # the next batch opens a fresh connection (the database may have restarted)
        raise
    except Exception:
        if len(batches) == 1 and len(batches[0][1]) == 1:
            return [_store_one_by_one(*batches[0], now, now_s, received_at)]
        log.warning("group commit of %d batches failed; storing each on its own", len(batches), exc_info=True)
        return [_store_isolated(link, decoded, now, now_s, received_at) for link, decoded in batches]
    for plan, station_seen in zip(plans, seen):
        plan.apply(now_s, station_seen)
    return [p.result for p in plans]


def _store_isolated(link: BridgeLink, decoded: list, now, now_s: float, received_at: float) -> IngestResult:
    try:
        with transaction.atomic():
            plan = _Plan(link, decoded, received_at)
            seen = _store([plan], now, now_s)
    except STORE_OUTAGE:
        raise
    except Exception:
        log.warning("a batch of %d frames from bridge %s failed; storing frame by frame", len(decoded),
                    link.bridge_id, exc_info=True)
        return _store_one_by_one(link, decoded, now, now_s, received_at)
    plan.apply(now_s, seen[0])
    return plan.result


def _store_one_by_one(link: BridgeLink, decoded: list, now, now_s: float, received_at: float) -> IngestResult:
    result = IngestResult()
    for item in decoded:
        try:
            with transaction.atomic():
                plan = _Plan(link, [item], received_at)
                seen = _store([plan], now, now_s)
        except STORE_OUTAGE:
            raise
        except IntegrityError:
            if Frame.objects.filter(bridge_id=link.bridge_id, seq=getattr(item, "seq", None)).exists():
                result.acked.append(item.seq)  # another connection of this bridge stored it meanwhile
                continue
            _keep_unstorable(link, item, result)
        except Exception:
            _keep_unstorable(link, item, result)
        else:
            plan.apply(now_s, seen[0])
            result.merge(plan.result)
    return result


def _keep_unstorable(link: BridgeLink, item, result: IngestResult) -> None:
    """A frame the database refused: kept as rejected with the reason; if even that fails, in the log."""
    exc = sys.exc_info()[1]
    reason = f"the database refused it: {type(exc).__name__}: {exc}"[:255]
    seq, kind, raw = getattr(item, "seq", None), item.kind, item.raw
    log.warning("frame %s of bridge %s could not be stored: %s", seq, link.bridge_id, reason)
    try:
        with transaction.atomic():
            RejectedFrame.objects.create(station_id=link.station.pk, bridge_id=link.bridge_id,
                                         seq=frames.storable_seq(seq), kind=kind or "", code="store_failed",
                                         error=reason, raw=raw)
    except STORE_OUTAGE:
        raise
    except Exception:
        log.error("could not keep frame %s of bridge %s even as rejected; its bytes (base64): %s", seq,
                  link.bridge_id, base64.b64encode(raw).decode(), exc_info=True)
    result.errors.append({"type": "error", "code": "store_failed", "seq": seq, "message": reason})
    if seq is not None:
        result.acked.append(seq)
        if frames.storable_seq(seq) is not None:
            link.high_water = max(link.high_water, seq)


def ingest_frames(station: Station, bridge_id: str, messages: list, *, clock_offset_s: float | None = 0.0) -> IngestResult:
    """Store a batch of messages from one bridge (dicts or JSON text), as the WebSocket would.

    For tests and tools: each message goes through :func:`manikin.frames.decode` and
    :func:`store_frames` like a frame that arrived on the socket.
    """
    high_water = Frame.objects.filter(bridge_id=bridge_id).aggregate(m=Max("seq"))["m"] or 0
    link = BridgeLink(station, bridge_id, high_water, clock_offset_s=clock_offset_s)
    decoded = [frames.decode(m if isinstance(m, (str, bytes)) else json.dumps(m)) for m in messages]
    return link.ingest(decoded)


# ------------------------------------------------------------------ recordings


def recordable_people(actor, room: Room) -> QuerySet:
    """People who may be recorded in ``room``: trainees registered in the room's region or below."""
    if not can_watch_room(actor, room):
        return User.objects.none()
    region = room.organisation.region
    return (User.objects.filter(region__path__startswith=region.path, role_assignments__role=Role.TRAINEE,
                                is_active=True).distinct().order_by("real_name"))


TRAINEE_SEARCH_LIMIT = 20
_ID_TAIL_RE = re.compile(r"^\d{0,3}[\dX]$")


def search_recordable_people(actor, room: Room, query: str, *, limit: int = TRAINEE_SEARCH_LIMIT
                             ) -> tuple[list[User], bool]:
    """The trainee picker: recordable people of ``room`` whose name contains ``query`` or whose ID-card
    number ends with it (1 to 4 characters: the masked form keeps the last four visible, so the search
    reveals nothing the console does not already show). Returns at most ``limit`` people and whether
    there were more."""
    qs = recordable_people(actor, room)
    q = (query or "").strip()
    if q:
        cond = Q(real_name__icontains=q)
        tail = q.upper()
        if _ID_TAIL_RE.match(tail):
            cond |= Q(id_card_masked__endswith=tail)
        qs = qs.filter(cond)
    people = list(qs.order_by("real_name", "pk")[:limit + 1])
    return people[:limit], len(people) > limit


def room_recordings(actor, room: Room, *, date_from: datetime.date | None = None,
                    date_to: datetime.date | None = None, trainee: str = "") -> QuerySet:
    """A room's recordings, newest first, for those who may watch the room; filtered by the local date
    of their start and by the trainee's name or the last digits of their ID-card number."""
    if not can_watch_room(actor, room):
        raise PermissionDenied(_("You cannot see this room's results."))
    qs = (Recording.objects.filter(manikin__station__room=room)
          .select_related("trainee", "manikin__station").order_by("-started_at", "-pk"))
    tz = timezone.get_current_timezone()
    if date_from:
        qs = qs.filter(started_at__gte=datetime.datetime.combine(date_from, datetime.time.min, tz))
    if date_to:
        qs = qs.filter(started_at__lt=datetime.datetime.combine(date_to + datetime.timedelta(days=1),
                                                                datetime.time.min, tz))
    q = (trainee or "").strip()
    if q:
        cond = Q(trainee__real_name__icontains=q)
        if _ID_TAIL_RE.match(q.upper()):
            cond |= Q(trainee__id_card_masked__endswith=q.upper())
        qs = qs.filter(cond)
    return qs


# Checks other apps add to the start of a recording (the practical exam: the candidate checked in, the
# examiner allowed to examine them). Each is called as ``check(actor, recording)`` inside the start's
# transaction; raising ``PermissionDenied`` or ``ValidationError`` refuses the start (nothing stored).
_start_checks: list = []


def register_start_check(check) -> None:
    if check not in _start_checks:
        _start_checks.append(check)


def start_recording(actor, manikin: Manikin, *, trainee: User | None = None,
                    standard_id: str | None = None) -> Recording:
    """Start a recording on ``manikin``. In an exam-mode room a trainee is required and the room's
    standard is used (another one is refused); the recording's purpose is the room's mode."""
    room = Room.objects.get(pk=manikin.station.room_id)
    if not can_watch_room(actor, room):
        raise PermissionDenied(_("You cannot start recordings in this room."))
    if room.mode == Room.Mode.EXAM:
        if trainee is None:
            raise ValidationError({"trainee": [_("This room is in exam mode: practice is not offered. "
                                                 "Please choose the trainee who takes the exam.")]})
        fixed = room_standard_id(room)
        if standard_id and standard_id != fixed:
            raise ValidationError({"standard_id": [_("This room is in exam mode: its standard is fixed "
                                                     "by the room's admin.")]})
        standard_id = fixed
    elif not standard_id:
        standard_id = room_standard_id(room)
    if standard_id not in list_standards():
        raise ValidationError({"standard_id": [_("Unknown CPR standard.")]})
    if trainee is not None and not recordable_people(actor, room).filter(pk=trainee.pk).exists():
        raise ValidationError({"trainee": [_("This person is not a trainee of this region.")]})
    with transaction.atomic():
        if Recording.objects.select_for_update().filter(manikin=manikin, stopped_at__isnull=True).exists():
            raise ValidationError(_("A recording is already running on this manikin."))
        rec = Recording.objects.create(manikin=manikin, trainee=trainee, started_by=actor, standard_id=standard_id,
                                       purpose=room.mode)
        for check in _start_checks:
            check(actor, rec)
        lms_api.record_audit(actor, "manikin.recording.start", rec,
                             after={"manikin": manikin.pk, "trainee": trainee.pk if trainee else None,
                                    "standard": standard_id, "purpose": room.mode})
        transaction.on_commit(lambda: live.publish_recording(rec))
    return rec


def stop_recording(actor, recording: Recording) -> Recording:
    """Stop a recording and score the samples measured during it with the batch scorer.

    A recording always stops: if its samples cannot be scored, it is kept as not scorable with the
    scorer's reason, which the examiner sees.
    """
    if not can_watch_room(actor, recording.manikin.station.room):
        raise PermissionDenied(_("You cannot stop recordings in this room."))
    with transaction.atomic():
        rec = Recording.objects.select_for_update().get(pk=recording.pk)
        if rec.stopped_at is not None:
            raise ValidationError(_("This recording has already stopped."))
        rec.stopped_at = timezone.now()
        rec.stopped_by = actor
        _score(rec)
        rec.save(update_fields=["stopped_at", "stopped_by", "sample_count", "result", "score", "passed",
                                "outcome", "outcome_reason"])
        lms_api.record_audit(actor, "manikin.recording.stop", rec,
                             after={"samples": rec.sample_count, "score": rec.score, "passed": rec.passed,
                                    "outcome": rec.outcome, "reason": rec.outcome_reason})
        transaction.on_commit(lambda: live.publish_recording(rec))
    return rec


def _score(rec: Recording) -> None:
    """Score the samples measured during a stopped recording into its fields (not saved)."""
    t, depth, volume = recording_samples(rec)
    rec.sample_count = len(t)
    rec.result, rec.score, rec.passed = None, None, None
    rec.outcome, rec.outcome_reason = Recording.Outcome.SCORED, ""
    if len(t):
        try:
            res = score_trace(t, depth, volume, standard=rec.standard_id).to_dict()
            json.dumps(res, allow_nan=False)  # what is stored must be plain JSON
        except Exception as exc:  # noqa: BLE001 - any scorer failure: the recording still stops
            log.exception("recording %s could not be scored", rec.pk)
            rec.outcome = Recording.Outcome.UNSCORABLE
            rec.outcome_reason = (_("The samples could not be scored: %(error)s")
                                  % {"error": f"{type(exc).__name__}: {exc}"})[:255]
        else:
            rec.result, rec.score, rec.passed = res, res["score"], res["passed"]


def rescore_recording(recording: Recording) -> Recording:
    """Score a stopped recording again from every sample measured during it, including samples that
    arrived after the stop (a bridge's spool after an outage). Returns the recording; unchanged and not
    saved when nothing new arrived."""
    with transaction.atomic():
        rec = Recording.objects.select_for_update().get(pk=recording.pk)
        if rec.stopped_at is None or rec.outcome == Recording.Outcome.CANCELLED:
            return rec
        before = (rec.sample_count, rec.score)
        _score(rec)
        if (rec.sample_count, rec.score) == before:
            return rec
        rec.save(update_fields=["sample_count", "result", "score", "passed", "outcome", "outcome_reason"])
        lms_api.record_audit(None, "manikin.recording.rescore", rec,
                             before={"samples": before[0], "score": before[1]},
                             after={"samples": rec.sample_count, "score": rec.score, "late": rec.late_samples})
        transaction.on_commit(lambda: live.publish_recording(rec))
    return rec


def recording_evidence(recording: Recording, frame_ids: list[int] | None = None) -> dict[str, Any]:
    """What an exam result freezes of a recording: the frames its samples came from, the samples'
    SHA-256 (time as little-endian float64 seconds on the server's clock, depth and volume as float32,
    concatenated), the scorer's version and output, and the standard in force.

    With ``frame_ids`` the samples are read from those frames only (to verify a frozen result later:
    a frame changed behind the application's back changes the digest)."""
    start = recording.started_at.timestamp()
    stop = recording.stopped_at.timestamp() if recording.stopped_at else np.inf
    qs = Frame.objects.filter(manikin_id=recording.manikin_id, kind=Frame.Kind.SAMPLES)
    if frame_ids is None:
        qs = qs.filter(t_last__gte=start)
        if recording.stopped_at:
            qs = qs.filter(t_first__lt=stop)
    else:
        qs = qs.filter(pk__in=frame_ids)
    rows = list(qs.order_by("t_first", "pk").values_list("pk", "t", "depth", "volume", "clock_offset_s"))
    t, x, v = concat_frames([r[1:] for r in rows])
    keep = (t >= start) & (t < stop)
    t, x = t[keep], x[keep]
    v = v[keep] if v is not None else None
    digest = hashlib.sha256(t.astype("<f8").tobytes())
    digest.update(x.astype("<f4").tobytes())
    if v is not None:
        digest.update(v.astype("<f4").tobytes())
    standard = load_standard(recording.standard_id)
    return {
        "recording": recording.pk, "manikin": recording.manikin_id,
        "started_at": recording.started_at.isoformat(), "stopped_at": (recording.stopped_at.isoformat()
                                                                       if recording.stopped_at else None),
        "frames": sorted(r[0] for r in rows), "sample_count": int(len(t)), "samples_sha256": digest.hexdigest(),
        "late_samples": recording.late_samples,
        "scorer_version": SCORER_VERSION, "outcome": recording.outcome, "outcome_reason": recording.outcome_reason,
        "score": recording.score, "passed": recording.passed, "result": recording.result,
        "standard": dataclasses.asdict(standard),
    }


def can_cancel_recording(actor, recording: Recording) -> bool:
    return lms_api.can_manage_region(actor, recording.manikin.station.room.organisation.region)


def cancel_recording(actor, recording: Recording, *, reason: str) -> Recording:
    """An admin ends a recording without scoring it (a stuck or mistaken run), with the reason."""
    if not can_cancel_recording(actor, recording):
        raise PermissionDenied(_("Only the region's admins can cancel a recording."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Please say why the recording is cancelled.")]})
    if len(reason) > 255:
        raise ValidationError({"reason": [_("The reason has at most 255 characters.")]})
    with transaction.atomic():
        rec = Recording.objects.select_for_update().get(pk=recording.pk)
        if rec.stopped_at is not None:
            raise ValidationError(_("This recording has already stopped."))
        rec.stopped_at, rec.stopped_by = timezone.now(), actor
        rec.outcome, rec.outcome_reason = Recording.Outcome.CANCELLED, reason
        rec.save(update_fields=["stopped_at", "stopped_by", "outcome", "outcome_reason"])
        lms_api.record_audit(actor, "manikin.recording.cancel", rec, after={"reason": reason})
        transaction.on_commit(lambda: live.publish_recording(rec))
    return rec


def recording_samples(recording: Recording):
    """The samples measured during ``recording`` (by the manikin's clock), as sorted arrays.

    Frames are matched by the time their samples were measured, on the server's clock, so that a
    backlog a bridge spooled through an outage counts for the recording it was measured in.
    """
    start = recording.started_at.timestamp()
    stop = recording.stopped_at.timestamp() if recording.stopped_at else np.inf
    qs = Frame.objects.filter(manikin_id=recording.manikin_id, kind=Frame.Kind.SAMPLES, t_last__gte=start)
    if recording.stopped_at:
        qs = qs.filter(t_first__lt=stop)
    t, x, v = concat_frames(list(qs.order_by("t_first").values_list("t", "depth", "volume", "clock_offset_s")))
    keep = (t >= start) & (t < stop)
    return t[keep], x[keep], (v[keep] if v is not None else None)


def active_recording(manikin: Manikin) -> Recording | None:
    return manikin.recordings.filter(stopped_at__isnull=True).first()
