"""Demo data for instructors: tiers, profiles with qualification certificates, a year of teaching, and the
year's assessment proposals (after the exams demo, the certificates demo runs in between).

``load_standing`` (before the practical-exam demo, whose examiner must be in good standing):
- the 师资培训 programme and its certificate rule (救护师资证, 3 years), and the 师资复训 programme;
- three tiers: 普及师资 (teaches 普及), 救护员师资 (teaches and examines 普及, 救护员, 复训), 导师 (all,
  and the 师资培训); each requires a current 救护师资证;
- profiles for the demo instructor 王芳, the examiners 李强 and 周杰, and three more instructors of 西湖区:
  刘洋, 陈刚, 吴磊 (whose certificate expired last year). The certificates were issued on paper before the
  platform (an allowlist entry records that), through ``certificates.api.issue``.

``load_history`` (after the certificates demo): this year's finished classes with real records:
trainees' theory attempts, practical sittings scored from simulated manikin recordings and signed by the
examiner, and trainees' ratings, so that the annual assessment of 西湖区 proposes each outcome:
王芳 promote, 刘洋 keep, 陈刚 demote, 吴磊 suspend. The assessment is computed (proposals), not decided:
a region admin (``xihu_admin``) reviews and decides at ``/instructors/assessment/``.
"""

from __future__ import annotations

import datetime
import random
import uuid
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

INSTRUCTOR_PROGRAMME = "instructor"
INSTRUCTOR_REFRESHER = "instructor-refresher"
TIERS = [
    # code, name, rank, teaches, examines
    ("awareness-instructor", "普及师资", 1, ["awareness"], ["awareness"]),
    ("first-aider-instructor", "救护员师资", 2, ["awareness", "first-aider", "refresher"],
     ["awareness", "first-aider", "refresher"]),
    ("master-instructor", "导师", 3, ["awareness", "first-aider", "refresher", INSTRUCTOR_PROGRAMME,
                                     INSTRUCTOR_REFRESHER],
     ["awareness", "first-aider", "refresher", INSTRUCTOR_PROGRAMME]),
]
# username, name, phone, tier, instructor since, certificate issued (days before today; None: years ago)
PEOPLE = [
    ("instructor", "王芳", None, "first-aider-instructor", datetime.date(2019, 5, 1), 540),
    ("examiner", "李强", None, "first-aider-instructor", datetime.date(2018, 3, 1), 330),
    ("examiner2", "周杰", None, "first-aider-instructor", datetime.date(2020, 9, 1), 700),
    ("instructor_liu", "刘洋", "13900006661", "first-aider-instructor", datetime.date(2022, 4, 1), 400),
    ("instructor_chen", "陈刚", "13900006662", "first-aider-instructor", datetime.date(2021, 6, 1), 800),
    ("instructor_wu", "吴磊", "13900006663", "awareness-instructor", datetime.date(2021, 10, 1), 3 * 365 + 60),
]
PAPER_REASON = "持纸质救护师资证，平台上线前取得（演示数据）"
HISTORY_MARK = "（{year}年演示）"


def _programmes():
    from courses.models import Programme

    instructor, _ = Programme.objects.update_or_create(code=INSTRUCTOR_PROGRAMME, defaults={
        "name": "救护师资培训", "kind": Programme.Kind.INSTRUCTOR, "mode": Programme.Mode.SEGMENTED,
        "required_class_hours": Decimal("40"), "theory_exam_required": False,
        "description": "培养能讲授救护员取证培训并担任考官的救护师资（演示）。"})
    refresher, _ = Programme.objects.update_or_create(code=INSTRUCTOR_REFRESHER, defaults={
        "name": "救护师资复训", "kind": Programme.Kind.REFRESHER, "mode": Programme.Mode.SEGMENTED,
        "required_class_hours": Decimal("8"), "theory_exam_required": False,
        "description": "救护师资每年的业务复训（演示）。"})
    return instructor, refresher


def load_standing(stdout=None) -> None:
    from certificates.models import CertificateRule
    from content.course.load import DEMO_TRAINING_BASE
    from courses.models import Programme
    from lms import api as lms_api
    from lms.demo import _region
    from lms.models import Organisation, Role, User

    from .models import InstructorProfile, StandingChange, Tier

    write = stdout.write if stdout else (lambda s: None)
    instructor_programme, _refresher = _programmes()
    CertificateRule.objects.update_or_create(programme=instructor_programme, defaults={
        "certifies": True, "title": "救护师资证", "validity_years": 3, "window_days": 365,
        "issue_within_days": 365, "reminder_days": [90, 30]})
    by_code = {p.code: p for p in Programme.objects.all()}
    tiers = {}
    for code, name, rank, teaches, examines in TIERS:
        tier, _ = Tier.objects.update_or_create(code=code, defaults={
            "name": name, "rank": rank, "qualification": instructor_programme,
            "description": f"{name}：可讲授{'、'.join(by_code[c].name for c in teaches if c in by_code)}。"})
        tier.teaches.set([by_code[c] for c in teaches if c in by_code])
        tier.examines.set([by_code[c] for c in examines if c in by_code])
        tiers[code] = tier
    if InstructorProfile.objects.filter(user__username="instructor").exists():
        write("instructors: tiers and profiles exist\n")
        return
    admin = User.objects.get(username="hz_admin")  # 周杰 is of 上城区: the city's admin registers them all
    xihu = _region("浙江省", "杭州市", "西湖区")
    base = Organisation.objects.get(name=DEMO_TRAINING_BASE)
    with transaction.atomic():
        for username, name, phone, tier_code, since, days_ago in PEOPLE:
            person = User.objects.filter(username=username).first()
            if person is None:
                person = lms_api.create_person(None, username=username, real_name=name, region=xihu, phone=phone,
                                               password=None, roles=[Role.INSTRUCTOR], organisation=base)
            elif not person.has_role(Role.INSTRUCTOR):
                lms_api.assign_role(None, person, Role.INSTRUCTOR)
                person = User.objects.get(pk=person.pk)
            profile = InstructorProfile.objects.create(user=person, tier=tiers[tier_code], training_base=base,
                                                       instructor_since=since)
            StandingChange.objects.create(profile=profile, to_tier=profile.tier, to_status=profile.status,
                                          reason="平台上线时按纸质档案登记（演示）", changed_by=admin)
            qualify(person, days_ago=days_ago)
    write(f"instructors: {len(tiers)} tiers, {len(PEOPLE)} instructor profiles with their 救护师资证 "
          "(吴磊's has expired)\n")


def qualify(person, *, days_ago: int) -> bool:
    """Issue ``person`` a 救护师资证 from the paper record (an allowlist entry says so), dated ``days_ago`` days
    ago, through ``certificates.api.issue``; the province's admin issues it. False (nothing done) without the
    instructor programme or the province's admin (a partial demo)."""
    from certificates import api as certificates_api
    from content.course.load import DEMO_TRAINING_BASE
    from courses.models import Enrolment, Programme, TrainingClass
    from lms.models import Organisation, User

    programme = Programme.objects.filter(code=INSTRUCTOR_PROGRAMME).first()
    admin = User.objects.filter(username="zj_admin").first()
    if programme is None or admin is None or not Organisation.objects.filter(name=DEMO_TRAINING_BASE).exists():
        return False
    course, _ = TrainingClass.objects.get_or_create(
        name="浙江省救护师资培训班（演示，纸质档案补录）", programme=programme, defaults={
            "training_base": Organisation.objects.get(name=DEMO_TRAINING_BASE), "capacity": 200,
            "starts_on": datetime.date(2018, 1, 8), "ends_on": datetime.date(2018, 1, 14),
            "status": TrainingClass.Status.FINISHED})
    Enrolment.objects.get_or_create(user=person, training_class=course, defaults={
        "source": Enrolment.Source.ADMIN, "status": Enrolment.Status.COMPLETED})
    certificates_api.grant_exception(admin, person, programme, waives=["theory", "practical", "window"],
                                     reason=PAPER_REASON)
    certificates_api.issue(admin, person, programme, training_class=course,
                           today=timezone.localdate() - datetime.timedelta(days=days_ago))
    return True


# ------------------------------------------------------------------ a year of teaching

# instructor username → classes: (programme code, trainees, theory pass share, practical: [(profile, pass)], ratings)
GOOD = [("good", True)] * 5 + [("shallow", True)]
HISTORY = {
    "instructor": [("first-aider", 6, 1.0, GOOD, [5, 5, 5, 4, 5, 5]),
                   ("first-aider", 6, 0.84, GOOD, [5, 4, 5, 5, 5]),
                   ("first-aider", 6, 1.0, GOOD, [5, 5, 4, 5, 5, 4])],
    "instructor_liu": [("first-aider", 6, 0.84, [("good", True)] * 4 + [("slow", False)], [4, 4, 5])],
    "instructor_chen": [("first-aider", 6, 0.5, [("shallow", False), ("erratic", False), ("good", True),
                                                  ("leaning", False)], [3, 2, 3, 4, 3])],
    "instructor_wu": [("awareness", 8, 0.0, [], [4, 4, 5])],
}
REFRESHER_ATTENDED = ["instructor", "examiner", "examiner2", "instructor_liu"]


def load_history(stdout=None) -> None:
    from courses.models import Enrolment, Programme, TrainingClass
    from lms.models import User

    write = stdout.write if stdout else (lambda s: None)
    today = timezone.localdate()
    year = today.year
    if TrainingClass.objects.filter(name__endswith=HISTORY_MARK.format(year=year)).exists():
        write("instructors: this year's demo teaching exists\n")
        return
    from .models import AssessmentRule

    _instructor_programme, refresher = _programmes()
    AssessmentRule.objects.update_or_create(year=year, tier=None, defaults={
        "min_hours": Decimal("16"), "pass_rate_min_pct": Decimal("70"), "pass_rate_max_pct": Decimal("100"),
        "min_feedback": Decimal("3.5"), "min_feedback_responses": 5, "max_major_findings": 0, "refresher": refresher,
        "promote_min_hours": Decimal("48"), "promote_min_feedback": Decimal("4.5"),
        "promote_min_cpr_pct": Decimal("80"), "promote_min_years": 2})
    rng = random.Random(year)
    sittings = []
    with transaction.atomic():
        klass = _finished_class(Programme.objects.get(code=INSTRUCTOR_REFRESHER), "杭州市救护师资年度复训",
                                today - datetime.timedelta(days=60), year)
        for username in REFRESHER_ATTENDED:
            Enrolment.objects.create(user=User.objects.get(username=username), training_class=klass,
                                     source=Enrolment.Source.ADMIN, status=Enrolment.Status.COMPLETED)
        serial = 0
        for k, (username, classes) in enumerate(HISTORY.items()):
            teacher = User.objects.get(username=username)
            for n, (code, size, theory_share, practical, ratings) in enumerate(classes):
                programme = Programme.objects.get(code=code)
                ends = today - datetime.timedelta(days=24 + 45 * n + 9 * k)  # one instructor's class per week
                klass = _finished_class(programme, f"{teacher.real_name}老师{programme.name}第{n + 1}期", ends, year)
                klass.instructors.add(teacher)
                people = []
                for i in range(size):
                    serial += 1
                    person = _trainee(serial, klass)
                    people.append(person)
                    if programme.theory_exam_required:
                        _theory(person, programme, ends - datetime.timedelta(days=2), passed=i < round(size * theory_share))
                passed_theory = people[:round(size * theory_share)] if programme.theory_exam_required else people
                for person, (profile, passed) in zip(passed_theory, practical):
                    sittings.append((person, programme, profile, passed))
                _ratings(klass, ratings, ends)
    made = _sittings(sittings, rng)
    write(f"instructors: {year}'s teaching: {sum(len(c) for c in HISTORY.values())} finished classes, "
          f"{made} practical sittings scored from manikin recordings\n")


def propose(stdout=None) -> None:
    """The year's assessment of 西湖区 computed (proposals, not decided), once the studios and the inspections
    demos have added their classes and findings."""
    from lms.models import User

    from . import api

    write = stdout.write if stdout else (lambda s: None)
    year = timezone.localdate().year
    admin = User.objects.get(username="xihu_admin")
    assessments = api.run_assessment(admin, year)
    shown = {a.profile.user.real_name: a.proposal for a in assessments}
    write(f"instructors: the {year} assessment of 西湖区 computed: "
          + ", ".join(f"{name} {p}" for name, p in sorted(shown.items())) + "\n")
    write("  log in as xihu_admin and open /instructors/assessment/ to review and decide them\n")


def _finished_class(programme, name: str, ends: datetime.date, year: int):
    from content.course.load import DEMO_TRAINING_BASE
    from courses.models import TrainingClass
    from lms.models import Organisation

    starts = max(ends - datetime.timedelta(days=6), datetime.date(year, 1, 2))
    return TrainingClass.objects.create(
        programme=programme, name=name + HISTORY_MARK.format(year=year),
        training_base=Organisation.objects.get(name=DEMO_TRAINING_BASE), starts_on=starts, ends_on=ends,
        status=TrainingClass.Status.FINISHED, capacity=40, venue="杭州市西湖区文三路（演示地址）培训基地")


def _trainee(serial: int, klass):
    from courses.models import Enrolment
    from exams.demo_analytics import GIVEN, SURNAMES
    from exams.demo_practical import _photo
    from lms import api as lms_api
    from lms.demo import _region
    from lms.models import Role

    name = SURNAMES[(serial * 7) % len(SURNAMES)] + GIVEN[(serial * 11) % len(GIVEN)]
    person = lms_api.create_person(None, username=f"demo_history_{serial:03d}", real_name=name,
                                   region=_region("浙江省", "杭州市", "西湖区"), password=None, roles=[Role.TRAINEE],
                                   photo=_photo((120 + serial % 100, 140, 160)))
    Enrolment.objects.create(user=person, training_class=klass, source=Enrolment.Source.ADMIN,
                             status=Enrolment.Status.COMPLETED)
    return person


def _theory(person, programme, day: datetime.date, *, passed: bool) -> None:
    """A submitted theory attempt of the programme's blueprint, as the exam would have left it."""
    from exams.models import Attempt, Blueprint

    blueprint = Blueprint.objects.filter(programme=programme).order_by("-is_active", "pk").first()
    if blueprint is None:
        return
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time(9)))
    Attempt.objects.create(user=person, blueprint=blueprint, number=1, status=Attempt.Status.SUBMITTED,
                           started_at=start, deadline_at=start + datetime.timedelta(minutes=45),
                           submitted_at=start + datetime.timedelta(minutes=38), submitted_by="trainee",
                           score_points=92 if passed else 64, max_points=100,
                           score_pct=Decimal(92 if passed else 64), passed=passed)


def _ratings(klass, ratings, ends: datetime.date) -> None:
    from .models import ClassFeedback

    for n, score in enumerate(ratings):
        ClassFeedback.objects.create(training_class=klass, overall=score, clarity=min(5, score + n % 2),
                                     practice=score, comment="" if n % 2 else "老师讲得很清楚，模拟人练习时间充足。",
                                     submitted_on=ends)


def _sittings(sittings, rng: random.Random) -> int:
    """Each sitting for real: booked in one practical session, checked in, CPR recorded on the demo room's
    manikins from a simulated run, the checklist ticked (a critical item missed for a fail) and signed; the
    session is then dated back to the classes' exam days."""
    from exams import practical
    from exams.demo_practical import DEMO_ROOM, DEMO_SITE
    from lms.models import User
    from manikin.models import Room

    if not sittings:
        return 0
    admin = User.objects.get(username="xihu_admin")
    examiner = User.objects.get(username="examiner")
    room = Room.objects.get(organisation__name=DEMO_SITE, name=DEMO_ROOM)
    done = 0
    by_programme: dict = {}
    for person, programme, profile, passed in sittings:
        by_programme.setdefault(programme, []).append((person, profile, passed))
    for programme, rows in by_programme.items():
        session = practical.plan_session(admin, programme=programme, room=room, date=timezone.localdate(),
                                         starts_at=datetime.time(7, 0), slots=min(48, len(rows)))
        practical.assign_examiner(admin, session, examiner)
        for slot, (person, profile, passed) in enumerate(rows, start=1):
            booking = practical.book(admin, session, person, slot=slot)
            booking = practical.check_in(examiner, booking, identity_confirmed=True)
            # The earliest window first: each recording, stopped now, holds no later sitting's samples.
            _cpr_back_then(examiner, booking, profile=profile, seed=rng.randrange(1 << 30),
                           ago_s=(len(sittings) - done) * 150 + 5)
            at = timezone.now().isoformat()
            missed = None if passed else next(i["key"] for i in session.scheme.items if i["critical"])
            practical.record_checklist(examiner, booking, [
                {"id": str(uuid.uuid4()), "item": item["key"], "done": item["key"] != missed, "at": at}
                for item in session.scheme.items])
            practical.sign(examiner, booking, confirm=True)
            done += 1
        # The sittings happened before the classes' certificates would be due: date the session back.
        type(session).objects.filter(pk=session.pk).update(date=timezone.localdate() - datetime.timedelta(days=15),
                                                           status="closed")
    return done


def _cpr_back_then(examiner, booking, *, profile: str, seed: int, ago_s: float, seconds: float = 110.0) -> None:
    """The candidate's CPR item on their station's manikin: a simulated run sent as the bridge's sample
    frames (``manikin.api.ingest_frames``), measured in a window that ended ``ago_s`` seconds ago. Sittings
    are made earliest window first and the windows do not overlap, so each recording holds its own run only."""
    import time

    from manikin import api as manikin_api
    from manikin.models import Manikin, Recording
    from manikin.simulator import simulate

    manikin = Manikin.objects.filter(station=booking.station).order_by("pk").first()
    rec = manikin_api.start_recording(examiner, manikin, trainee=booking.candidate)
    now = timezone.now()
    start, stop = now - datetime.timedelta(seconds=ago_s + seconds + 3), now - datetime.timedelta(seconds=ago_s)
    Recording.objects.filter(pk=rec.pk).update(started_at=start)
    trace = simulate(profile, duration_s=seconds, seed=seed)
    t0 = time.time() - ago_s - seconds - 1
    bridge = f"demo-history-{uuid.uuid4().hex[:8]}"
    messages = []
    for n, a in enumerate(range(0, len(trace.t_s), 50), start=1):
        t = (trace.t_s[a:a + 50] + t0).tolist()
        messages.append({"type": "samples", "seq": n, "device": manikin.address, "protocol": manikin.protocol,
                         "sent_at": t[-1], "t": t, "depth_mm": trace.depth_mm[a:a + 50].tolist(),
                         "volume_ml": None, "lost": 0, "malformed": 0})
    manikin_api.ingest_frames(booking.station, bridge, messages)
    manikin_api.stop_recording(examiner, Recording.objects.get(pk=rec.pk))
    # Its window closes where its samples end: the next sitting's (later) samples are not its own.
    Recording.objects.filter(pk=rec.pk).update(stopped_at=stop)
