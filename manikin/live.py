"""Live groups: what the ingest path and the recording actions publish, and to whom.

- ``manikin.room.<id>``: consoles and trainee views of a room receive ``live.frames``
  (samples, per-compression results, running summary, manikin status; the event's ``text`` is the
  JSON sent to the browsers, encoded once per room) and
  ``recording.changed``.
- ``manikin.station.<id>``: the bridge consumer of a station receives control events
  (a recording stopped, the assignment changed).
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger("manikin.live")


def room_group(room_id: int) -> str:
    return f"manikin.room.{room_id}"


def station_group(station_id: int) -> str:
    return f"manikin.station.{station_id}"


def recording_event(recording) -> dict:
    return {
        "type": "recording.changed",
        "manikin": recording.manikin_id,
        "recording": {
            "id": recording.pk,
            "active": recording.stopped_at is None,
            "trainee": recording.trainee.display_name if recording.trainee_id else None,
            "trainee_id": recording.trainee_id,
            "standard": recording.standard_id,
            "started_at": recording.started_at.timestamp(),
            "score": recording.score,
            "passed": recording.passed,
            "feedback": (recording.result or {}).get("feedback", []),
            "samples": recording.sample_count,
            "outcome": recording.outcome,
            "reason": recording.outcome_reason,
        },
    }


def _send(group: str, event: dict) -> None:
    """Best effort, after the commit: with the channel layer (Redis) away, the change stays made (not a
    server error for it) and the failure is logged; consoles show it when they reload or reconnect."""
    try:
        async_to_sync(get_channel_layer().group_send)(group, event)
    except Exception:  # noqa: BLE001
        log.warning("could not publish %s to %s", event.get("type"), group, exc_info=True)


def publish_recording(recording) -> None:
    """Tell the room's consoles and the station's bridge consumer that a recording changed."""
    event = recording_event(recording)
    station = recording.manikin.station
    _send(room_group(station.room_id), event)
    _send(station_group(station.pk), event)


def publish_station(station_id: int, event: dict) -> None:
    """A control event for the bridge consumer(s) of one station."""
    _send(station_group(station_id), event)
