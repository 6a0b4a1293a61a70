"""Shared pieces of the practical exam tests: an exam site with two stations, a programme with its
scheme, a class, examiners of every kind, candidates who passed the theory exam, and CPR samples fed
through the real ingest path (``manikin.api.ingest_frames``) as a bridge would send them."""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone

from courses.models import Enrolment
from exams import practical
from exams.models import Attempt, Blueprint
from exams.practical_schemes import FIRST_AIDER
from lms import api as lms_api
from lms.models import Organisation, Role, User
from manikin import api as manikin_api
from manikin.models import Manikin, Recording, Room
from manikin.simulator import simulate
from tests.courses.study_support import make_class, make_programme
from tests.instructors.support import in_good_standing

ADDRESSES = ["F0:0D:00:00:01:01", "F0:0D:00:00:01:02"]
STANDARD = FIRST_AIDER["cpr_standard_id"]


def passed_theory(user: User, blueprint: Blueprint, days_ago: int = 3) -> Attempt:
    """A submitted, passed theory attempt (the theory exam's own rules are tested in test_attempts)."""
    at = timezone.now() - datetime.timedelta(days=days_ago)
    number = Attempt.objects.filter(user=user, blueprint=blueprint).count() + 1
    return Attempt.objects.create(user=user, blueprint=blueprint, number=number, status=Attempt.Status.SUBMITTED,
                                  started_at=at - datetime.timedelta(minutes=30), deadline_at=at,
                                  submitted_at=at, score_points=45, max_points=50, score_pct=Decimal("90"),
                                  passed=True)


@dataclass
class Site:
    admin: User
    sysadmin: User
    room: Room
    stations: list
    manikins: list
    programme: object
    scheme: object
    blueprint: Blueprint
    cls: object
    studio_cls: object
    examiner: User  # works at the exam site: eligible for everyone
    examiner2: User  # another examiner of the city, for appeals
    taught: User  # an examiner who taught the class
    studio_member: User  # an examiner of the studio that ran the studio class
    colleague: User  # an examiner working at the employer of candidate_employed
    candidate: User
    candidate2: User
    studio_candidate: User
    candidate_employed: User
    employer: Organisation


@pytest.fixture
def site(regions, make_person) -> Site:
    xihu = regions["xihu"]
    exam_site = lms_api.create_organisation(None, name="西湖区考点", kind=Organisation.Kind.EXAM_SITE, region=xihu)
    base = lms_api.create_organisation(None, name="西湖区培训基地", kind=Organisation.Kind.TRAINING_BASE, region=xihu)
    studio = lms_api.create_organisation(None, name="王芳名师工作室", kind=Organisation.Kind.STUDIO, region=xihu)
    employer = lms_api.create_organisation(None, name="西湖物流公司", kind=Organisation.Kind.EMPLOYER, region=xihu)
    room = manikin_api.create_room(None, organisation=exam_site, name="考场")
    stations = [manikin_api.create_station(None, room=room, name=f"{i}号工位")[0] for i in (1, 2)]
    manikins = [manikin_api.assign_manikin(None, station=s, address=a) for s, a in zip(stations, ADDRESSES)]
    manikin_api.set_room_mode(None, room, mode=Room.Mode.EXAM, standard_id=STANDARD)

    sysadmin = make_person(regions["zj"], roles=(Role.SYSTEM_ADMIN,), username="sys")
    admin = make_person(xihu, roles=(), admin_of=xihu, username="xihu-admin", real_name="区管理员")
    programme = make_programme(code="pr-first-aider")
    scheme = practical.save_scheme(sysadmin, programme, **FIRST_AIDER)
    blueprint = Blueprint.objects.create(programme=programme, name="理论考试", time_limit_s=2700)

    examiner = make_person(xihu, roles=(Role.EXAMINER,), organisation=exam_site, username="kaoguan",
                           real_name="李考官")
    examiner2 = make_person(regions["shangcheng"], roles=(Role.EXAMINER,), username="kaoguan2", real_name="周考官")
    taught = make_person(xihu, roles=(Role.EXAMINER, Role.INSTRUCTOR), username="jiaoshi", real_name="王老师")
    studio_member = make_person(xihu, roles=(Role.EXAMINER,), organisation=studio, username="gongzuoshi",
                                real_name="赵成员")
    colleague = make_person(xihu, roles=(Role.EXAMINER,), organisation=employer, username="tongshi", real_name="钱同事")

    cls = make_class(programme, base, name="救护员一班")
    cls.instructors.add(taught)
    # Examiners are instructors in good standing whose tier examines the programme (instructors.standing).
    in_good_standing(examiner, examiner2, taught, studio_member, colleague, programmes=[programme])
    studio_cls = make_class(programme, studio, name="工作室班")
    people = {}
    for username, name, klass, org in [("kaosheng1", "张考生", cls, None), ("kaosheng2", "孙考生", cls, None),
                                       ("kaosheng3", "吴考生", studio_cls, None),
                                       ("kaosheng4", "郑考生", cls, employer)]:
        person = make_person(xihu, username=username, real_name=name, organisation=org)
        Enrolment.objects.create(user=person, training_class=klass, source=Enrolment.Source.ADMIN)
        passed_theory(person, blueprint)
        people[username] = person
    return Site(admin=admin, sysadmin=sysadmin, room=room, stations=stations, manikins=manikins,
                programme=programme, scheme=scheme, blueprint=blueprint, cls=cls, studio_cls=studio_cls,
                examiner=examiner, examiner2=examiner2, taught=taught, studio_member=studio_member,
                colleague=colleague, candidate=people["kaosheng1"], candidate2=people["kaosheng2"],
                studio_candidate=people["kaosheng3"], candidate_employed=people["kaosheng4"], employer=employer)


def today_session(site: Site, slots: int = 4, examiners=None):
    session = practical.plan_session(site.admin, programme=site.programme, room=site.room,
                                     date=timezone.localdate(), starts_at=datetime.time(8, 30), slots=slots)
    for examiner in (examiners if examiners is not None else [site.examiner]):
        practical.assign_examiner(site.admin, session, examiner)
    return session


def png_photo():
    from io import BytesIO

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buf = BytesIO()
    Image.new("RGB", (60, 80), (200, 180, 160)).save(buf, "PNG")
    return SimpleUploadedFile("photo.png", buf.getvalue(), content_type="image/png")


_seqs = {"n": 0}


def sample_messages(t0: float, trace, device: str, per_frame: int = 50) -> list[dict]:
    """The trace as the bridge's sample frames (its clock = the server's), ``per_frame`` samples each."""
    out = []
    for a in range(0, len(trace.t_s), per_frame):
        _seqs["n"] += 1
        t = (trace.t_s[a:a + per_frame] + t0).tolist()
        out.append({"type": "samples", "seq": _seqs["n"], "device": device, "protocol": "laerdal-qcpr",
                    "sent_at": t[-1], "t": t, "depth_mm": trace.depth_mm[a:a + per_frame].tolist(),
                    "volume_ml": None, "lost": 0, "malformed": 0})
    return out


def backdate(recording: Recording, started_ago_s: float) -> Recording:
    Recording.objects.filter(pk=recording.pk).update(
        started_at=timezone.now() - datetime.timedelta(seconds=started_ago_s))
    return Recording.objects.get(pk=recording.pk)


def run_cpr(site: Site, booking, *, profile="good", seconds=110.0, deliver_until_s=None, seed=1):
    """The examiner starts the candidate's CPR item on their station's manikin, the bridge streams a
    simulated run (measured over the last ``seconds``), the examiner stops it. With ``deliver_until_s``
    only the samples measured before that second arrive before the stop; the rest are returned (the
    bridge's spool)."""
    manikin = Manikin.objects.filter(station=booking.station).order_by("pk").first()
    rec = manikin_api.start_recording(booking.examiner, manikin, trainee=booking.candidate)
    rec = backdate(rec, seconds + 5)
    trace = simulate(profile, duration_s=seconds, seed=seed)
    t0 = time.time() - seconds - 2
    messages = sample_messages(t0, trace, manikin.address)
    if deliver_until_s is None:
        now_part, later = messages, []
    else:
        now_part = [m for m in messages if m["t"][-1] < t0 + deliver_until_s]
        later = messages[len(now_part):]
    manikin_api.ingest_frames(booking.station, f"bridge-{booking.station.pk}", now_part)
    rec = manikin_api.stop_recording(booking.examiner, rec)
    return SimpleNamespace(recording=rec, spool=later, station=booking.station)


def tick_all(site: Site, booking, *, except_keys=(), examiner=None):
    import uuid

    now = timezone.now().isoformat()
    entries = [{"id": str(uuid.uuid4()), "item": item["key"], "done": item["key"] not in except_keys, "at": now}
               for item in site.scheme.items]
    return practical.record_checklist(examiner or booking.examiner, booking, entries)
