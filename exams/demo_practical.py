"""Demo data of the practical exam, made through the public functions (``exams.practical``):

- the 救护员取证 scheme (``exams.practical_schemes``), version 1;
- today's morning session in 西湖区应急救护考点 · 考场二 (its one station, 8 slots of 20 minutes), examined
  by 李强 (login ``examiner``);
- slot 1: 孙悦 (login ``exam_done``) sat it already: checked in with a photo, a simulated CPR run streamed
  through the real ingest path and scored, the checklist with one critical item missed (不合格), signed;
  she appealed, 周杰 (login ``examiner2``, another district) reviewed it and changed the result (v2);
- slot 2: 吴敏 (login ``exam_passed``, theory passed) is booked and waits for the examiner's check-in:
  the walk-through of a new user (check-in, CPR on the console with a virtual manikin, checklist, sign).

Made once a day: nothing is added when the room has a session today or later.
"""

from __future__ import annotations

import datetime
import io
import time
import uuid

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

DEMO_SITE, DEMO_ROOM = "西湖区应急救护考点（演示）", "考场二"
DONE = ("exam_done", "孙悦", "13700008883")


def _photo(colour) -> SimpleUploadedFile:
    """A plain portrait placeholder (a demo person has no real photo)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (300, 400), (236, 240, 244))
    draw = ImageDraw.Draw(img)
    draw.ellipse((95, 60, 205, 180), fill=colour)
    draw.rounded_rectangle((55, 200, 245, 400), radius=60, fill=colour)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return SimpleUploadedFile("demo.jpg", buf.getvalue(), content_type="image/jpeg")


def _stream_cpr(examiner, booking, seconds: float = 110.0, profile: str = "good", seed: int = 2026) -> None:
    """The candidate's CPR item: started on their station's manikin, a simulated good run sent as the
    bridge's sample frames (``manikin.api.ingest_frames``), stopped and scored."""
    from manikin import api as manikin_api
    from manikin.models import Manikin, Recording
    from manikin.simulator import simulate

    manikin = Manikin.objects.filter(station=booking.station).order_by("pk").first()
    rec = manikin_api.start_recording(examiner, manikin, trainee=booking.candidate)
    Recording.objects.filter(pk=rec.pk).update(started_at=timezone.now() - datetime.timedelta(seconds=seconds + 5))
    rec.refresh_from_db()
    trace = simulate(profile, duration_s=seconds, seed=seed)
    t0 = time.time() - seconds - 2
    bridge = f"demo-practical-{uuid.uuid4().hex[:8]}"
    messages = []
    for n, a in enumerate(range(0, len(trace.t_s), 50), start=1):
        t = (trace.t_s[a:a + 50] + t0).tolist()
        messages.append({"type": "samples", "seq": n, "device": manikin.address, "protocol": manikin.protocol,
                         "sent_at": t[-1], "t": t, "depth_mm": trace.depth_mm[a:a + 50].tolist(),
                         "volume_ml": None, "lost": 0, "malformed": 0})
    manikin_api.ingest_frames(booking.station, bridge, messages)
    manikin_api.stop_recording(examiner, rec)


def load(stdout=None) -> None:
    from courses.models import Programme, TrainingClass
    from lms.models import User
    from manikin.models import Room

    from content.course.load import DEMO_CLASS_CODE
    from . import practical
    from .demo_attempts import _person, complete_theory, take_exam
    from .models import Attempt, Blueprint
    from .practical_schemes import SCHEMES

    write = stdout.write if stdout else (lambda s: None)
    admin = User.objects.get(username="admin")
    for code, data in SCHEMES.items():
        programme = Programme.objects.filter(code=code).first()
        if programme is not None and practical.current_scheme(programme) is None:
            practical.save_scheme(admin, programme, **data)
    programme = Programme.objects.get(code="first-aider")
    room = Room.objects.get(organisation__name=DEMO_SITE, name=DEMO_ROOM)
    today = timezone.localdate()
    if room.practical_sessions.filter(date__gte=today).exists():
        write("practical exam: today's demo session exists\n")
        return
    examiner, examiner2 = User.objects.get(username="examiner"), User.objects.get(username="examiner2")
    blueprint = Blueprint.objects.get(programme=programme, is_active=True)
    cls = TrainingClass.objects.get(code=DEMO_CLASS_CODE)
    with transaction.atomic():
        done = _person(*DONE)
        complete_theory(done, programme, cls)
    if not Attempt.objects.filter(user=done, blueprint=blueprint, passed=True).exists():
        take_exam(done, blueprint, 0.9)

    xihu_admin = User.objects.get(username="xihu_admin")
    from lms import api as lms_api
    from lms.demo import _demo_id_card

    # Check-in compares the person with the photo and the masked ID-card number: the demo candidates have one.
    for serial, person in enumerate([done, User.objects.get(username="exam_passed")], start=301):
        if not person.id_card_masked:
            lms_api.update_person_contact(xihu_admin, person,
                                          id_card=_demo_id_card("330106", f"2001{serial % 12 + 1:02d}15", serial))
    done.refresh_from_db()
    session = practical.plan_session(xihu_admin, programme=programme, room=room, date=today,
                                     starts_at=datetime.time(8, 30), slots=8)
    practical.assign_examiner(xihu_admin, session, examiner)
    first = practical.book(xihu_admin, session, done, slot=1)
    practical.book(xihu_admin, session, User.objects.get(username="exam_passed"), slot=2)

    first = practical.check_in(examiner, first, identity_confirmed=True, photo=_photo((180, 150, 130)))
    _stream_cpr(examiner, first)
    at = timezone.now().isoformat()
    practical.record_checklist(examiner, first, [
        {"id": str(uuid.uuid4()), "item": item["key"], "done": item["key"] != "aed_clear", "at": at}
        for item in session.scheme.items])
    signed = practical.sign(examiner, first, confirm=True)
    appeal = practical.file_appeal(done, first, grounds="除颤前我已大声提示“大家离开”并做了手势，请复核。")
    practical.assign_reviewer(xihu_admin, appeal, examiner2)
    decided = practical.decide_appeal(examiner2, appeal, ticks={"aed_clear": True},
                                      decision="复核考场录像：考生除颤前已确认无人接触患者，关键项成立，改判合格。")
    write(f"practical exam: {session} · {session.slots} slots · examiner {examiner.real_name}\n")
    write(f"  {done.username} ({done.real_name}): v1 {signed.points}/{signed.max_points} "
          f"{'passed' if signed.passed else 'not passed (critical item missed)'}; appeal reviewed by "
          f"{examiner2.real_name}: v2 {decided.points} {'passed' if decided.passed else 'not passed'}\n")
    write("  exam_passed (吴敏) is booked in slot 2: log in as examiner to check her in\n")
