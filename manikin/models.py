"""Rooms, stations, manikins, the frames bridges send, and recordings.

A *station* is one exam or practice position with a bridge laptop and its own token;
a *room* is a set of stations watched on one console. A *recording* is one person's
run on one manikin (a practice run now; exam attempts will attach to recordings).
Every frame a bridge sends is stored once, keyed by (bridge_id, seq); sample frames
hold the raw samples as little-endian float arrays.
"""

from __future__ import annotations

import hashlib

import numpy as np
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from lms.models import Organisation


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Room(models.Model):
    name = models.CharField(_("name"), max_length=64)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="manikin_rooms",
                                     verbose_name=_("organisation"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Mode(models.TextChoices):
        PRACTICE = "practice", _("Practice")
        EXAM = "exam", _("Exam")

    # In exam mode every recording is an exam attempt of a named trainee under the room's standard
    # (fixed by an admin); practice is not offered. In practice mode ``standard_id`` is the default.
    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices, default=Mode.PRACTICE)
    standard_id = models.CharField(_("standard"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        constraints = [models.UniqueConstraint(fields=["organisation", "name"], name="uniq_room_name")]

    def __str__(self) -> str:
        return f"{self.organisation} · {self.name}"

    @property
    def group_name(self) -> str:
        return f"manikin.room.{self.pk}"


class Station(models.Model):
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="stations", verbose_name=_("room"))
    name = models.CharField(_("name"), max_length=64)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    bridge_id = models.CharField(max_length=64, blank=True)
    bridge_software = models.CharField(max_length=64, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    connected = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("station")
        verbose_name_plural = _("stations")
        constraints = [models.UniqueConstraint(fields=["room", "name"], name="uniq_station_name")]
        ordering = ["room_id", "name"]

    def __str__(self) -> str:
        return self.name


class Manikin(models.Model):
    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="manikins", verbose_name=_("station"))
    address = models.CharField(_("Bluetooth address"), max_length=64)
    label = models.CharField(_("label"), max_length=32, blank=True)
    protocol = models.CharField(_("protocol"), max_length=32, default="laerdal-qcpr")
    class State(models.TextChoices):
        UNKNOWN = "unknown", _("Unknown")
        SCANNING = "scanning", _("Scanning")
        CONNECTING = "connecting", _("Connecting")
        CONNECTED = "connected", _("Connected")
        STREAMING = "streaming", _("Streaming")
        DISCONNECTED = "disconnected", _("Disconnected")
        ERROR = "error", _("Error")

    state = models.CharField(_("connection"), max_length=16, choices=State.choices, default=State.UNKNOWN)
    battery_pct = models.PositiveSmallIntegerField(null=True, blank=True)
    rssi_dbm = models.SmallIntegerField(null=True, blank=True)
    info = models.JSONField(null=True, blank=True)
    status_message = models.CharField(max_length=255, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # Running totals over the manikin's life: bigint, so that years of counts never overflow.
    samples_lost = models.PositiveBigIntegerField(default=0)
    packets_malformed = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("manikin")
        verbose_name_plural = _("manikins")
        constraints = [models.UniqueConstraint(fields=["station", "address"], name="uniq_manikin_address")]
        ordering = ["station_id", "label", "address"]

    def __str__(self) -> str:
        return self.label or self.address


class Recording(models.Model):
    manikin = models.ForeignKey(Manikin, on_delete=models.PROTECT, related_name="recordings",
                                verbose_name=_("manikin"))
    trainee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="cpr_recordings", verbose_name=_("trainee"))
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    stopped_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    started_at = models.DateTimeField(auto_now_add=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    class Outcome(models.TextChoices):
        RUNNING = "", _("Running")
        SCORED = "scored", _("Scored")
        UNSCORABLE = "unscorable", _("Not scorable")
        CANCELLED = "cancelled", _("Cancelled")

    standard_id = models.CharField(_("standard"), max_length=64)
    # Snapshot of the room's mode when the recording started: an exam attempt or practice.
    purpose = models.CharField(_("purpose"), max_length=16, choices=Room.Mode.choices, default=Room.Mode.PRACTICE)
    sample_count = models.PositiveIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    passed = models.BooleanField(null=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, blank=True, default="")
    # Why a recording was not scored (the scorer's error, or the admin's reason for cancelling it).
    outcome_reason = models.CharField(_("reason"), max_length=255, blank=True)
    # Samples measured during the recording that arrived after it stopped (spooled through an outage).
    late_samples = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("recording")
        verbose_name_plural = _("recordings")
        ordering = ["-started_at"]
        # the dashboards count exam recordings by the month they stopped (dashboards.facts)
        indexes = [models.Index(fields=["stopped_at"], name="manikin_recording_stopped")]
        constraints = [
            models.UniqueConstraint(fields=["manikin"], condition=models.Q(stopped_at__isnull=True),
                                    name="one_active_recording_per_manikin"),
        ]

    def __str__(self) -> str:
        return f"{self.manikin} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def active(self) -> bool:
        return self.stopped_at is None


def concat_frames(frames) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(t, depth, volume[, clock_offset_s])`` rows → arrays sorted by time (on the server's clock
    when the rows carry the bridge's clock offset)."""
    if not frames:
        return np.empty(0), np.empty(0), None
    t = np.concatenate([np.frombuffer(f[0], dtype="<f8") + (f[3] if len(f) > 3 else 0.0) for f in frames])
    x = np.concatenate([np.frombuffer(f[1], dtype="<f4").astype(np.float64) for f in frames])
    v = None
    if all(f[2] is not None for f in frames):
        v = np.concatenate([np.frombuffer(f[2], dtype="<f4").astype(np.float64) for f in frames])
    order = np.argsort(t, kind="stable")
    return t[order], x[order], (v[order] if v is not None else None)


class Frame(models.Model):
    """One frame from a bridge, stored exactly once: samples of one manikin, or its status."""

    class Kind(models.TextChoices):
        SAMPLES = "samples", _("samples")
        STATUS = "status", _("status")

    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="frames")
    bridge_id = models.CharField(max_length=64)
    seq = models.BigIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    manikin = models.ForeignKey(Manikin, on_delete=models.PROTECT, related_name="frames")
    recording = models.ForeignKey(Recording, on_delete=models.PROTECT, null=True, blank=True, related_name="frames")
    received_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.FloatField(null=True)
    n_samples = models.PositiveIntegerField(default=0)
    # ``t`` holds the bridge's clock, verbatim; ``t_first``/``t_last`` are on the server's clock
    # (``t + clock_offset_s``), which is what recordings are matched against.
    clock_offset_s = models.FloatField(default=0.0)
    t_first = models.FloatField(null=True)
    t_last = models.FloatField(null=True)
    t = models.BinaryField(null=True)
    depth = models.BinaryField(null=True)
    volume = models.BinaryField(null=True)
    lost = models.PositiveIntegerField(default=0)
    malformed = models.PositiveIntegerField(default=0)
    status = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bridge_id", "seq"], name="uniq_bridge_frame")]
        indexes = [models.Index(fields=["manikin", "t_first"])]


class RejectedFrame(models.Model):
    """A message the server could not accept as a frame, kept byte for byte with the reason."""

    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="rejected_frames")
    bridge_id = models.CharField(max_length=64, blank=True)  # blank: sent before hello
    seq = models.BigIntegerField(null=True)  # null: no valid seq in it
    kind = models.CharField(max_length=16, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    code = models.CharField(max_length=32, default="")
    error = models.CharField(max_length=255)
    raw = models.BinaryField(default=b"")

    class Meta:
        indexes = [models.Index(fields=["station", "received_at"])]
