"""``manage.py bench instructors``: the teaching record is computed when read (never stored); is that fast enough
at a province's size, and how much does the batched reading (``exams.api.outcomes``) save?

Inside one transaction, rolled back at the end (nothing stays), on the configured database (run it with
``DATABASE_URL=postgres://…`` for the production figure), a province is made with ``bulk_create``:
``INSTRUCTORS`` instructors, each with ``CLASSES`` classes that ended this year of ``TRAINEES`` trainees; every
trainee with a submitted theory attempt (90 % passed) and a signed practical result with a CPR score (85 %
passed), a third of them with a rating. Then, each timed:

- **assessment**: ``run_assessment`` of the whole province by its admin (every figure of every instructor, the
  rule, the findings, the qualification, the proposal written);
- **one record** (the profile page's figures): ``records([one instructor])``;
- **one record, per trainee** (the alternative the batching was chosen against): the same figures from the
  per-person hooks the certificates app uses (``passed_theory``, ``passed_practical``), one trainee at a time;
- **inspection draw**: the risk factors and weights of every class of the province running this year
  (``inspections.planning.population``) and a draw of 50.
"""

from __future__ import annotations

import datetime
import time
from decimal import Decimal

from lms.bench.figures import figure

BENCHMARKS = {"instructors": "instructors.bench:run"}

INSTRUCTORS, CLASSES, TRAINEES = 1000, 10, 20
NO_TARGET = "no target (the instructors issue set none)"


class _Rollback(Exception):
    pass


def run(out=print, quick: bool = False) -> dict:
    from django.db import connection, transaction

    n_instructors = 50 if quick else INSTRUCTORS
    figures: dict = {}
    try:
        with transaction.atomic():
            t0 = time.perf_counter()
            world = _seed(n_instructors)
            seed_s = time.perf_counter() - t0
            out(f"Instructors: {n_instructors:,} instructors × {CLASSES} classes × {TRAINEES} trainees "
                f"({world['trainees']:,} trainees, {world['results']:,} signed practical results) on "
                f"{connection.vendor}, seeded in {seed_s:.1f} s")
            figures = _measure(world, out)
            vendor = connection.vendor
            raise _Rollback
    except _Rollback:
        pass
    scale = f"{n_instructors:,} instructors × {CLASSES} classes × {TRAINEES} trainees on {vendor}"
    if n_instructors < INSTRUCTORS:
        scale += f" (the province is {INSTRUCTORS:,})"
    figures["figures"] = [
        figure("instructors", "annual assessment of the province", figures["assessment_s"], "s",
               note=f"{scale}; {NO_TARGET}"),
        figure("instructors", "one teaching record, batched", figures["record_ms"], "ms",
               yardstick=figures["record_per_trainee_ms"], yardstick_name="per trainee",
               note=f"{TRAINEES * CLASSES} trainees; {NO_TARGET}"),
        figure("instructors", "inspection plan: risk of every class of the year", figures["plan_population_s"], "s",
               note=f"{figures['plan_classes']:,} classes; {NO_TARGET}"),
    ]
    return figures


def _timed(fn, repeat: int = 1):
    best, value = None, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        elapsed = time.perf_counter() - t0
        best = elapsed if best is None else min(best, elapsed)
    return best, value


def _measure(world, out) -> dict:
    from exams import api as exams_api
    from inspections import planning

    from . import api

    year, today = world["year"], world["today"]
    one = world["instructors"][0]
    assess_s, done = _timed(lambda: api.run_assessment(world["admin"], year, today=today))
    out(f"  assessment of the province: {assess_s:.2f} s for {len(done):,} instructors "
        f"({1000 * assess_s / max(len(done), 1):.2f} ms each)")
    record_s, rec = _timed(lambda: api.records([one.pk], year=year, today=today)[one.pk], repeat=5)
    out(f"  one teaching record (batched): {1000 * record_s:.1f} ms "
        f"({rec.classes} classes, {rec.trainees} trainees, practical {rec.practical_pass_pct} %)")

    def per_trainee():
        sat = passed = 0
        for user_id, programme in world["trainees_of"][one.pk]:
            from lms.models import User

            person = User(pk=user_id)
            sat += exams_api.passed_theory(person, programme) is not None
            passed += exams_api.passed_practical(person, programme) is not None
        return sat, passed

    naive_s, _ = _timed(per_trainee)
    out(f"  one teaching record (per trainee, the alternative): {1000 * naive_s:.1f} ms "
        f"= {naive_s / record_s:.0f}× the batched reading")
    draw_s, rows = _timed(lambda: planning.population(world["province"], datetime.date(year, 1, 1), today,
                                                      dict(planning.DEFAULT_WEIGHTS), today=today))
    pick_s, drawn = _timed(lambda: planning.draw("bench", rows, min(50, len(rows))))
    out(f"  inspection plan: risk of {len(rows):,} classes in {draw_s:.2f} s, a draw of {len(drawn)} in "
        f"{1000 * pick_s:.1f} ms")
    return {"assessment_s": round(assess_s, 3), "assessment_instructors": len(done),
            "record_ms": round(1000 * record_s, 2), "record_per_trainee_ms": round(1000 * naive_s, 2),
            "batched_speedup": round(naive_s / record_s, 1), "plan_population_s": round(draw_s, 3),
            "plan_classes": len(rows), "draw_ms": round(1000 * pick_s, 2)}


def _seed(n_instructors: int) -> dict:
    import secrets

    from django.utils import timezone

    from courses.models import Enrolment, Programme, TrainingClass
    from exams.models import Attempt, Blueprint
    from exams.practical_models import Booking, PracticalResult, PracticalScheme, PracticalSession
    from lms.models import Organisation, Region, Role, RoleAssignment, User
    from manikin.models import Room

    from .models import AssessmentRule, ClassFeedback, InstructorProfile, Tier

    today = timezone.localdate()
    year = today.year
    tag = secrets.token_hex(3)
    province = Region.add_root(name=f"基准省{tag}", level=Region.Level.PROVINCE, code="")
    county = province.add_child(name=f"基准县{tag}", level=Region.Level.COUNTY, code="")
    base = Organisation.objects.create(name=f"基准培训基地{tag}", kind=Organisation.Kind.TRAINING_BASE, region=county)
    programme = Programme.objects.create(code=f"bench-{tag}", name="基准救护员取证", kind=Programme.Kind.FIRST_AIDER,
                                         required_class_hours=Decimal(16))
    tier = Tier.objects.create(code=f"bench-{tag}", name="基准师资", rank=900 + secrets.randbelow(9000))
    tier.teaches.add(programme)
    AssessmentRule.objects.filter(year=year, tier=tier).delete()
    AssessmentRule.objects.create(year=year, tier=tier)
    admin = User.objects.create(username=f"bench-admin-{tag}", real_name="基准管理员")
    RoleAssignment.objects.create(user=admin, role=Role.REGION_ADMIN, region=province)
    instructors = User.objects.bulk_create(
        [User(username=f"bench-i-{tag}-{i}", real_name=f"师资{i}", region=county) for i in range(n_instructors)])
    RoleAssignment.objects.bulk_create([RoleAssignment(user=u, role=Role.INSTRUCTOR) for u in instructors])
    InstructorProfile.objects.bulk_create([InstructorProfile(user=u, tier=tier, instructor_since=datetime.date(2018, 1, 1))
                                           for u in instructors])
    classes = TrainingClass.objects.bulk_create([
        TrainingClass(programme=programme, name=f"基准班{tag}-{i}-{k}", code=f"B{tag}{i:05d}{k:02d}"[:16],
                      training_base=base, starts_on=today - datetime.timedelta(days=3 + k),
                      ends_on=today - datetime.timedelta(days=1 + k), status=TrainingClass.Status.FINISHED)
        for i in range(n_instructors) for k in range(CLASSES)])
    through = TrainingClass.instructors.through
    through.objects.bulk_create([through(trainingclass_id=c.pk, user_id=instructors[n // CLASSES].pk)
                                 for n, c in enumerate(classes)])
    trainees = User.objects.bulk_create([User(username=f"bench-t-{tag}-{n}", real_name=f"学员{n}", region=county)
                                         for n in range(len(classes) * TRAINEES)], batch_size=5000)
    Enrolment.objects.bulk_create([Enrolment(user=t, training_class=classes[n // TRAINEES],
                                             status=Enrolment.Status.COMPLETED, source=Enrolment.Source.ADMIN)
                                   for n, t in enumerate(trainees)], batch_size=5000)
    blueprint = Blueprint.objects.create(programme=programme, name="基准理论考试")
    now = timezone.now()
    Attempt.objects.bulk_create([Attempt(user=t, blueprint=blueprint, number=1, status=Attempt.Status.SUBMITTED,
                                         started_at=now - datetime.timedelta(hours=1), deadline_at=now,
                                         submitted_at=now, passed=n % 10 != 0)
                                 for n, t in enumerate(trainees)], batch_size=5000)
    scheme = PracticalScheme.objects.create(programme=programme, version=1, name="基准", cpr_standard_id="aha-2020",
                                            cpr_points=40, items=[], pass_points=60)
    room = Room.objects.create(name=f"基准考场{tag}", organisation=base)
    session = PracticalSession.objects.create(programme=programme, scheme=scheme, room=room, date=today,
                                              starts_at=datetime.time(8), slots=1, status="closed",
                                              created_by=admin)
    bookings = Booking.objects.bulk_create([Booking(session=session, candidate=t, slot=1, booked_by=admin,
                                                    status=Booking.Status.CHECKED_IN) for t in trainees],
                                           batch_size=5000)
    PracticalResult.objects.bulk_create([
        PracticalResult(booking=b, number=1, reason="signed", evidence={}, cpr_score=60 + (n * 7) % 40,
                        points=Decimal(80), max_points=100, passed=n % 20 > 2, sha256=f"{tag}{n:058d}"[:64],
                        created_at=now, signed_at=now)
        for n, b in enumerate(bookings)], batch_size=5000)
    ClassFeedback.objects.bulk_create([ClassFeedback(training_class=classes[n // TRAINEES], overall=4 + n % 2,
                                                     clarity=4, practice=5, submitted_on=today)
                                       for n in range(0, len(trainees), 3)], batch_size=5000)
    trainees_of = {u.pk: [] for u in instructors}
    for n, t in enumerate(trainees):
        trainees_of[instructors[n // (TRAINEES * CLASSES)].pk].append((t.pk, programme))
    return {"year": year, "today": today, "admin": User.objects.get(pk=admin.pk), "instructors": instructors,
            "province": province, "trainees": len(trainees), "results": len(bookings), "trainees_of": trainees_of}
