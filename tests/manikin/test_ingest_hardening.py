"""Storing what bridges send: isolation of bad frames, bounds, evidence by the manikin's clock, stuck recordings.

Runs on SQLite and, in CI's second run, on PostgreSQL (where a NUL in text or an integer over 2**31
once failed the whole group commit).
"""

import datetime
import json
import time

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from lms import api as lms_api
from lms.models import Organisation, Role
from manikin import api, frames
from manikin.models import Frame, Manikin, RejectedFrame, Recording

ADDR = "F0:0D:00:00:00:01"


@pytest.fixture
def site(regions, make_person):
    org = lms_api.create_organisation(None, name="西湖考点", kind=Organisation.Kind.EXAM_SITE, region=regions["xihu"])
    room = api.create_room(None, organisation=org, name="考场一")
    stations = [api.create_station(None, room=room, name=f"{i}号")[0] for i in (1, 2, 3)]
    for i, s in enumerate(stations):
        api.assign_manikin(None, station=s, address=f"F0:0D:00:00:00:0{i + 1}", label=f"{i + 1}-1")
    return {"room": room, "stations": stations,
            "examiner": make_person(regions["xihu"], roles=(Role.EXAMINER,), organisation=org, username="ex"),
            "xihu_admin": make_person(regions["xihu"], roles=(), admin_of=regions["xihu"], username="xa"),
            "trainee": make_person(regions["xihu"], username="tr1"),
            "trainee2": make_person(regions["xihu"], username="tr2")}


def samples(seq, t0, n=5, device=ADDR, depth=40.0, dt=0.01, **extra):
    return {"type": "samples", "seq": seq, "device": device, "protocol": "laerdal-qcpr", "sent_at": t0 + n * dt,
            "t": [t0 + i * dt for i in range(n)], "depth_mm": [depth] * n, "volume_ml": None, "lost": 0,
            "malformed": 0, **extra}


def link(station, bridge_id, offset=0.0):
    return api.BridgeLink(station, bridge_id, 0, clock_offset_s=offset)


def decode_all(messages):
    return [frames.decode(m if isinstance(m, str) else json.dumps(m)) for m in messages]


def test_poison_frames_among_other_bridges_frames_cost_them_nothing(site):
    s1, s2, s3 = site["stations"]
    now = time.time()
    good2 = [samples(i, now + i, device="F0:0D:00:00:00:02") for i in (1, 2, 3)]
    good3 = [samples(i, now + i, device="F0:0D:00:00:00:03") for i in (1, 2)]
    poison = [
        samples(1, now),  # valid, between poison
        {**samples(2, now), "seq": 2**63},
        {**samples(3, now), "lost": 1e20},
        '{"type": "samples", "seq": 4, "lost": Infinity}',
        json.dumps({**samples(5, now), "sent_at": int("9" * 400)}),
        "[" * 50_000,
        {**samples(6, now), "lost": 3e9},
        {"type": "status", "seq": 7, "device": ADDR, "state": "error", "message": "NUL\x00"},
        {"type": "status", "seq": 8, "device": ADDR, "state": "error", "info": {"serial": "\x00"}},
        {**samples(9, now), "device": "F0:0D\x00"},
        {**samples(10, now), "seq": "eleven"},
        samples(11, now + 1),  # valid, after the poison
    ]
    results = api.store_frames([(link(s1, "poisoner"), decode_all(poison)),
                                (link(s2, "bridge-2"), decode_all(good2)),
                                (link(s3, "bridge-3"), decode_all(good3))])
    assert sorted(results[1].acked) == [1, 2, 3] and not results[1].errors
    assert sorted(results[2].acked) == [1, 2] and not results[2].errors
    assert Frame.objects.filter(bridge_id="bridge-2").count() == 3
    assert Frame.objects.filter(bridge_id="bridge-3").count() == 2
    assert sorted(Frame.objects.filter(bridge_id="poisoner").values_list("seq", flat=True)) == [1, 11]
    kept = RejectedFrame.objects.filter(bridge_id="poisoner")
    assert kept.count() == 10  # every poison frame kept, byte for byte, with its reason
    assert all(r.code and r.error for r in kept)
    assert {bytes(r.raw) for r in kept} == {(p if isinstance(p, str) else json.dumps(p)).encode()
                                            for p in poison[1:-1]}
    # Every frame with a usable seq is acknowledged: the bridge will not send it again.
    assert sorted(results[0].acked) == [1, 3, 5, 6, 7, 8, 9, 11]
    assert len(results[0].errors) == 10


def test_a_frame_the_database_refuses_is_isolated_and_kept(site):
    """A value that slips past validation and fails in the database costs only its own frame."""
    s1, s2, _ = site["stations"]
    now = time.time()
    bad = frames.decode(json.dumps(samples(2, now)))
    bad.seq = 2**63 + 5  # no bigint holds it: the database (or its driver) refuses the row
    batch1 = decode_all([samples(1, now)]) + [bad] + decode_all([samples(3, now + 1)])
    batch2 = decode_all([samples(1, now, device="F0:0D:00:00:00:02")])
    r1, r2 = api.store_frames([(link(s1, "b1"), batch1), (link(s2, "b2"), batch2)])
    assert r2.acked == [1] and Frame.objects.filter(bridge_id="b2").count() == 1
    assert sorted(Frame.objects.filter(bridge_id="b1").values_list("seq", flat=True)) == [1, 3]
    kept = RejectedFrame.objects.get(bridge_id="b1")
    assert kept.code == "store_failed" and "database" in kept.error and bytes(kept.raw) == bad.raw
    assert [e["code"] for e in r1.errors] == ["store_failed"]


def test_a_resend_is_acknowledged_and_stored_once(site):
    s1 = site["stations"][0]
    now = time.time()
    msgs = [samples(1, now), {**samples(2, now), "lost": 1e20}]
    first = api.ingest_frames(s1, "b", msgs)
    again = api.ingest_frames(s1, "b", msgs + [samples(3, now + 1)])
    assert first.acked == [1, 2] and sorted(again.acked) == [1, 2, 3]
    assert Frame.objects.filter(bridge_id="b").count() == 2
    assert api.bridge_hello(s1, bridge_id="b")[0]["acked_seq"] == 3


def test_a_station_registers_at_most_the_configured_number_of_devices(site, settings):
    settings.MANIKIN_MAX_DEVICES_PER_STATION = 3
    s1 = site["stations"][0]  # has one manikin already
    now = time.time()
    msgs = [samples(i, now, device=f"AA:00:00:00:00:{i:02d}") for i in range(1, 6)]
    result = api.ingest_frames(s1, "b", msgs)
    assert sorted(result.acked) == [1, 2, 3, 4, 5]
    assert Manikin.objects.filter(station=s1).count() == 3
    assert list(RejectedFrame.objects.values_list("code", flat=True)) == ["too_many_devices"] * 3


def test_counters_never_overflow_their_columns(site):
    s1 = site["stations"][0]
    now = time.time()
    for seq in range(1, 4):
        api.ingest_frames(s1, "b", [samples(seq, now + seq, lost=2**31 - 1, malformed=2**31 - 1)])
    m = Manikin.objects.get(station=s1)
    assert m.samples_lost == 3 * (2**31 - 1) and m.packets_malformed == 3 * (2**31 - 1)


# ---------------------------------------------------------------- evidence by the manikin's clock


def _backdate(rec, started_ago_s, stopped_ago_s=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    fields = {"started_at": now - datetime.timedelta(seconds=started_ago_s)}
    if stopped_ago_s is not None:
        fields["stopped_at"] = now - datetime.timedelta(seconds=stopped_ago_s)
    Recording.objects.filter(pk=rec.pk).update(**fields)
    return Recording.objects.get(pk=rec.pk)


def test_spooled_samples_land_in_the_recording_they_were_measured_in(site):
    """After an outage, the first trainee's backlog must not be scored into the next trainee's recording."""
    s1 = site["stations"][0]
    manikin = Manikin.objects.get(station=s1)
    first = api.start_recording(site["examiner"], manikin, trainee=site["trainee"])
    first = api.stop_recording(site["examiner"], _backdate(first, 120))  # ran from -120 s to now
    first = _backdate(first, 120, 60)  # ... to -60 s
    second = _backdate(api.start_recording(site["examiner"], manikin, trainee=site["trainee2"]), 30)
    now = time.time()
    # The bridge was offline: now it delivers what it measured at -100 s (first), -45 s (between) and -10 s (second).
    result = api.ingest_frames(s1, "b", [samples(1, now - 100, n=8), samples(2, now - 45, n=4),
                                         samples(3, now - 10, n=6)])
    assert result.acked == [1, 2, 3]
    by_seq = dict(Frame.objects.values_list("seq", "recording_id"))
    assert by_seq == {1: first.pk, 2: None, 3: second.pk}
    assert Recording.objects.get(pk=first.pk).late_samples == 8  # the examiner is told
    second = api.stop_recording(site["examiner"], second)
    assert second.sample_count == 6


def test_the_bridges_clock_offset_is_applied(site):
    """A bridge laptop whose clock is an hour fast: its samples still count when they were measured."""
    s1 = site["stations"][0]
    manikin = Manikin.objects.get(station=s1)
    rec = _backdate(api.start_recording(site["examiner"], manikin), 20)
    now = time.time()
    welcome, bridge = api.bridge_hello(s1, bridge_id="fast-clock", clock=now + 3600, received_at=now)
    assert welcome["acked_seq"] == 0 and bridge.clock_offset_s == pytest.approx(-3600)
    result = bridge.ingest(decode_all([samples(1, now + 3600 - 5, n=10)]))
    assert result.samples[0]["recording_id"] == rec.pk
    assert result.samples[0]["t"][0] == pytest.approx(now - 5)
    t, _x, _v = api.recording_samples(Recording.objects.get(pk=rec.pk))
    assert len(t) == 10 and t[0] == pytest.approx(now - 5)


def test_samples_straddling_the_start_count_only_from_the_start(site):
    s1 = site["stations"][0]
    manikin = Manikin.objects.get(station=s1)
    rec = api.start_recording(site["examiner"], manikin)
    start = rec.started_at.timestamp()
    rec = _backdate(rec, 0)  # unchanged start; refreshed
    api.ingest_frames(s1, "b", [samples(1, start - 0.045, n=10)])  # 5 before, 5 after the start
    t, _x, _v = api.recording_samples(Recording.objects.get(pk=rec.pk))
    assert len(t) == 5 and np.all(t >= start)


# ---------------------------------------------------------------- recordings that always stop


def test_a_recording_whose_samples_cannot_be_scored_still_stops_with_the_reason(site, monkeypatch, client):
    s1 = site["stations"][0]
    manikin = Manikin.objects.get(station=s1)
    rec = _backdate(api.start_recording(site["examiner"], manikin), 10)
    api.ingest_frames(s1, "b", [samples(1, time.time() - 5)])

    def broken(*args, **kwargs):
        raise FloatingPointError("overflow in depth")

    monkeypatch.setattr(api, "score_trace", broken)
    rec = api.stop_recording(site["examiner"], rec)
    assert rec.stopped_at is not None and rec.outcome == Recording.Outcome.UNSCORABLE
    assert "overflow in depth" in rec.outcome_reason and rec.score is None and rec.passed is None
    client.force_login(site["examiner"])
    html = client.get(f"/recordings/{rec.pk}/").content.decode()
    assert "overflow in depth" in html and "未评分" in html
    # The manikin is free for the next trainee.
    assert api.start_recording(site["examiner"], manikin).pk != rec.pk


def test_an_admin_cancels_a_stuck_recording_with_a_reason(site, client):
    manikin = Manikin.objects.get(station=site["stations"][0])
    rec = api.start_recording(site["examiner"], manikin)
    client.force_login(site["examiner"])
    assert client.post(f"/recordings/{rec.pk}/cancel/", {"reason": "卡住了"}).status_code == 403
    with pytest.raises(PermissionDenied):
        api.cancel_recording(site["examiner"], rec, reason="x")
    with pytest.raises(ValidationError):
        api.cancel_recording(site["xihu_admin"], rec, reason="  ")
    assert Recording.objects.get(pk=rec.pk).stopped_at is None
    client.force_login(site["xihu_admin"])
    page = client.get(f"/recordings/{rec.pk}/").content.decode()
    assert f"/recordings/{rec.pk}/cancel/" in page
    resp = client.post(f"/recordings/{rec.pk}/cancel/", {"reason": "模拟人卡住，无法结束"})
    assert resp.status_code == 302
    rec = Recording.objects.get(pk=rec.pk)
    assert rec.outcome == Recording.Outcome.CANCELLED and rec.outcome_reason == "模拟人卡住，无法结束"
    assert "模拟人卡住，无法结束" in client.get(f"/recordings/{rec.pk}/").content.decode()
    from lms.models import AuditLog

    assert AuditLog.objects.filter(action="manikin.recording.cancel").exists()
