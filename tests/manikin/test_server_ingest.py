"""The server side of the bridge protocol and recordings, through manikin.api."""

import datetime
import time

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from lms import api as lms_api
from lms.models import Organisation, Role
from manikin import api
from manikin.models import Frame, Manikin, RejectedFrame, Recording
from manikin.scoring import score_trace
from manikin.simulator import simulate

ADDR = "F0:0D:00:00:00:01"
T0 = 1_763_900_000.0  # the bridge's clock (epoch seconds) at t=0 of the test traces


@pytest.fixture
def site(regions, make_person):
    exam_site = lms_api.create_organisation(None, name="西湖考点", kind=Organisation.Kind.EXAM_SITE,
                                            region=regions["xihu"])
    other_site = lms_api.create_organisation(None, name="北仑考点", kind=Organisation.Kind.EXAM_SITE,
                                             region=regions["beilun"])
    room = api.create_room(None, organisation=exam_site, name="考场一")
    other_room = api.create_room(None, organisation=other_site, name="考场一")
    s1, tok1 = api.create_station(None, room=room, name="1号")
    s2, tok2 = api.create_station(None, room=room, name="2号")
    manikin = api.assign_manikin(None, station=s1, address=ADDR.lower(), label="1-1")
    return {
        **regions, "room": room, "other_room": other_room, "s1": s1, "s2": s2, "tok1": tok1, "tok2": tok2,
        "manikin": manikin,
        "examiner": make_person(regions["xihu"], roles=(Role.EXAMINER,), organisation=exam_site, username="ex"),
        "other_examiner": make_person(regions["beilun"], roles=(Role.EXAMINER,), organisation=other_site,
                                      username="ex2"),
        "trainee": make_person(regions["xihu"], username="tr"),
        "outsider": make_person(regions["beilun"], username="tr2"),
        "beilun_admin": make_person(regions["beilun"], roles=(), admin_of=regions["beilun"], username="bl_admin"),
        "hz_admin": make_person(regions["hz"], roles=(), admin_of=regions["hz"], username="hz_admin"),
    }


def samples_frame(seq, t, depth, device=ADDR, t0=T0, **extra):
    """A samples frame; ``t`` in seconds after ``t0`` on the bridge's clock."""
    return {"type": "samples", "seq": seq, "device": device, "protocol": "laerdal-qcpr", "sent_at": T0,
            "t": [t0 + float(v) for v in t], "depth_mm": list(map(float, depth)), "volume_ml": None, "lost": 0,
            "malformed": 0, **extra}


def frames_of(trace, start_seq=1, per_frame=6, device=ADDR, t0=T0):
    out = []
    for i in range(0, len(trace.t_s), per_frame):
        out.append(samples_frame(start_seq + len(out), trace.t_s[i:i + per_frame], trace.depth_mm[i:i + per_frame],
                                 device=device, t0=t0))
    return out


def test_tokens_identify_their_station_and_only_a_digest_is_stored(site):
    assert api.authenticate_station(site["tok1"]) == site["s1"]
    assert api.authenticate_station(site["tok2"]) == site["s2"]
    assert api.authenticate_station("wrong-token-wrong-token") is None
    assert api.authenticate_station("") is None
    assert site["tok1"] not in site["s1"].token_digest


def started_seconds_ago(rec, seconds):
    Recording.objects.filter(pk=rec.pk).update(started_at=rec.started_at - datetime.timedelta(seconds=seconds))
    return Recording.objects.get(pk=rec.pk)


def test_each_frame_is_stored_exactly_once(site):
    frames = [samples_frame(1, [0.0, 0.016], [1, 2]), samples_frame(2, [0.033], [3])]
    first = api.ingest_frames(site["s1"], "bridge-a", frames)
    again = api.ingest_frames(site["s1"], "bridge-a", frames + [samples_frame(3, [0.05], [4])])
    assert first.acked == [1, 2] and sorted(again.acked) == [1, 2, 3]
    assert [s["seq"] for s in again.samples] == [3]  # only the new one goes live
    assert Frame.objects.filter(bridge_id="bridge-a").count() == 3
    assert api.bridge_hello(site["s1"], bridge_id="bridge-a")[0]["acked_seq"] == 3


def test_invalid_frames_are_kept_acked_and_explained(site):
    bad = [
        samples_frame(1, [0.0, 0.1], [1]),  # lengths differ
        samples_frame(2, [0.2, 0.1], [1, 2]),  # time backwards
        {**samples_frame(3, [0.0], [0.0]), "depth_mm": ["x"]},  # not a number
        {"type": "samples", "seq": 4, "device": ""},  # no device
        {"type": "weird", "seq": 5, "device": ADDR},
        {"type": "status", "seq": 6, "device": ADDR, "state": "dancing"},
    ]
    good = samples_frame(7, [0.3], [5])
    result = api.ingest_frames(site["s1"], "bridge-b", bad + [good])
    assert sorted(result.acked) == [1, 2, 3, 4, 5, 6, 7]
    assert len(result.errors) == 6 and all(e["message"] for e in result.errors)
    assert RejectedFrame.objects.count() == 6  # kept verbatim, nothing silently dropped
    assert Frame.objects.filter(bridge_id="bridge-b").count() == 1


def test_status_frames_update_the_manikin(site):
    api.ingest_frames(site["s1"], "b", [{"type": "status", "seq": 1, "device": ADDR, "sent_at": T0,
                                         "state": "streaming", "battery_pct": 64, "rssi_dbm": -70,
                                         "info": {"serial": "X1"}, "message": None}])
    m = Manikin.objects.get(pk=site["manikin"].pk)
    assert (m.state, m.battery_pct, m.rssi_dbm, m.info["serial"]) == ("streaming", 64, -70, "X1")


def test_an_unassigned_device_is_registered_not_dropped(site):
    api.ingest_frames(site["s2"], "b2", [samples_frame(1, [0.0], [1], device="aa:bb:cc:dd:ee:ff")])
    assert Manikin.objects.filter(station=site["s2"], address="AA:BB:CC:DD:EE:FF").exists()


def test_another_stations_token_cannot_feed_this_stations_recording(site):
    rec = api.start_recording(site["examiner"], site["manikin"])
    now = time.time()  # measured while the recording runs, on the same address, but at station 2
    api.ingest_frames(site["s2"], "bridge-of-2", [samples_frame(1, [0.0, 0.1], [1, 2], t0=now)])
    assert not Frame.objects.filter(recording=rec).exists()
    assert Frame.objects.get(bridge_id="bridge-of-2").manikin.station == site["s2"]
    with pytest.raises(api.BridgeRefused):  # and a bridge that sent for station 2 cannot say hello as station 1
        api.bridge_hello(site["s1"], bridge_id="bridge-of-2")


def test_recording_is_scored_from_its_stored_samples(site):
    trace = simulate("good", duration_s=30, rate_hz=60, seed=3)
    before = frames_of(trace, t0=time.time() - 100)[:5]
    api.ingest_frames(site["s1"], "b", before)  # measured before the recording: kept, not scored
    rec = api.start_recording(site["examiner"], site["manikin"], trainee=site["trainee"])
    rec = started_seconds_ago(rec, 40)  # the trace is 30 s long: it was measured during the recording
    frames = frames_of(trace, t0=rec.started_at.timestamp() + 0.001)[5:]
    for i in range(0, len(frames), 17):
        api.ingest_frames(site["s1"], "b", frames[i:i + 17])
    rec = api.stop_recording(site["examiner"], rec)
    n = sum(len(f["t"]) for f in frames)
    assert rec.sample_count == n
    t = np.concatenate([f["t"] for f in frames])
    x = np.concatenate([f["depth_mm"] for f in frames])
    assert rec.result == score_trace(t, x, standard=rec.standard_id).to_dict()
    assert rec.score == rec.result["score"] and rec.passed == rec.result["passed"]
    assert Frame.objects.filter(recording__isnull=True).count() == 5


def test_one_running_recording_per_manikin(site):
    api.start_recording(site["examiner"], site["manikin"])
    with pytest.raises(ValidationError):
        api.start_recording(site["examiner"], site["manikin"])
    assert Recording.objects.count() == 1


def test_who_may_watch_and_operate_a_room(site):
    room = site["room"]
    assert api.can_watch_room(site["examiner"], room)
    assert api.can_watch_room(site["hz_admin"], room)
    assert not api.can_watch_room(site["other_examiner"], room)
    assert not api.can_watch_room(site["beilun_admin"], room)
    assert not api.can_watch_room(site["trainee"], room)
    with pytest.raises(PermissionDenied):
        api.start_recording(site["other_examiner"], site["manikin"])
    with pytest.raises(ValidationError):  # a trainee from another region cannot be recorded here
        api.start_recording(site["examiner"], site["manikin"], trainee=site["outsider"])
    with pytest.raises(PermissionDenied):
        api.create_station(site["beilun_admin"], room=room, name="越权")


def test_a_trainee_watches_only_their_own_running_recording(site):
    assert not api.can_watch_manikin(site["trainee"], site["manikin"])
    rec = api.start_recording(site["examiner"], site["manikin"], trainee=site["trainee"])
    assert api.can_watch_manikin(site["trainee"], site["manikin"])
    assert not api.can_watch_manikin(site["outsider"], site["manikin"])
    api.stop_recording(site["examiner"], rec)
    assert not api.can_watch_manikin(site["trainee"], site["manikin"])


def test_console_pages_enforce_permissions(site, client):
    room, m = site["room"], site["manikin"]
    client.force_login(site["other_examiner"])
    assert client.get(f"/rooms/{room.pk}/").status_code == 404
    assert client.post(f"/manikins/{m.pk}/start/").status_code == 404
    assert not Recording.objects.exists()
    client.force_login(site["examiner"])
    html = client.get(f"/rooms/{room.pk}/").content.decode()
    assert "1-1" in html and "开始记录" in html
    resp = client.post(f"/manikins/{m.pk}/start/", {"trainee": site["trainee"].pk,
                                                    "standard_id": "crc-first-aider-2024"})
    assert resp.status_code == 302
    rec = Recording.objects.get()
    assert rec.trainee == site["trainee"] and rec.started_by == site["examiner"]
    client.force_login(site["trainee"])
    assert client.get(f"/manikins/{m.pk}/live/").status_code == 200
    assert client.get(f"/rooms/{room.pk}/").status_code == 404
    client.force_login(site["examiner"])
    assert client.post(f"/recordings/{rec.pk}/stop/").status_code == 302
    client.force_login(site["trainee"])
    # the trainee screen now shows the trainee's own result (its socket is refused: nothing live to watch)
    assert client.get(f"/manikins/{m.pk}/live/", {"state": "1"}).json()["recording"] == rec.pk
    assert client.get(f"/recordings/{rec.pk}/").status_code == 200  # their own result
    client.force_login(site["outsider"])
    assert client.get(f"/manikins/{m.pk}/live/").status_code == 404
    client.force_login(site["outsider"])
    assert client.get(f"/recordings/{rec.pk}/").status_code == 404


def test_station_setup_shows_the_token_once(site, client):
    client.force_login(site["hz_admin"])
    resp = client.post(f"/rooms/{site['room'].pk}/setup/", {"name": "3号", "add_station": "1"})
    html = resp.content.decode()
    token = html.split("MANIKIN_STATION_TOKEN=")[1].split()[0]
    station = api.authenticate_station(token)
    assert station is not None and station.name == "3号"
    assert token not in client.get(f"/rooms/{site['room'].pk}/setup/").content.decode()
    client.force_login(site["beilun_admin"])
    assert client.get(f"/rooms/{site['room'].pk}/setup/").status_code == 404


def test_region_admins_add_rooms_in_their_region_only(site, client):
    from manikin.models import Room

    client.force_login(site["hz_admin"])
    org = site["room"].organisation
    resp = client.post("/rooms/", {"organisation": org.pk, "name": "考场二"})
    assert resp.status_code == 302 and Room.objects.filter(organisation=org, name="考场二").exists()
    client.force_login(site["beilun_admin"])
    resp = client.post("/rooms/", {"organisation": org.pk, "name": "越权考场"})
    assert resp.status_code == 200  # the site is not offered: the form is shown again
    assert not Room.objects.filter(name="越权考场").exists()
    client.force_login(site["examiner"])
    assert client.post("/rooms/", {"organisation": org.pk, "name": "x"}).status_code == 403
