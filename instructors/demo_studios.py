"""Demo studios (名师工作室), after the whole demo (``load_demo``; the tiers come from ``instructors.demo``).

Two public studios in 浙江省:
- 王芳名师工作室 in 杭州市西湖区, headed by the demo login ``instructor`` (王芳), on the demo's studio
  organisation 王芳名师工作室（演示）; members 李娜 (西湖区) and 周刚 (上城区);
- 陈明名师工作室 in 宁波市鄞州区, headed by 陈明; member 孙丽 (北仑区).
The extra instructors have no login (no usable password) and an instructor profile each. Each studio has a
finished 救护员 class held at its organisation with ``PER_CLASS`` synthetic trainees (theory exam results and
ratings, so the studio's figures are not empty) and the 救护员 course page as its showcase.

Everything goes through ``instructors.studios`` (actor None: the system), so the demo meets the same rules
as the pages: a head who is not in good standing (e.g. a tier whose qualification certificate they lack)
leaves that studio out, with the reason printed. Idempotent: what exists already is left as it is.
"""

from __future__ import annotations

import datetime
import random
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

TIERS = ("awareness-instructor", "first-aider-instructor", "master-instructor")
PROGRAMME_CODE = "first-aider"
PER_CLASS = 12
# The demo login of a trainee of 王芳名师工作室's class who has not rated it yet.
GRADUATE = "graduate"
SEED = 20261215

# username, real name, region, tier code
INSTRUCTORS = [
    ("studio_lina", "李娜", ("浙江省", "杭州市", "西湖区"), "first-aider-instructor"),
    ("studio_zhougang", "周刚", ("浙江省", "杭州市", "上城区"), "awareness-instructor"),
    ("studio_chenming", "陈明", ("浙江省", "宁波市", "鄞州区"), None),  # a head: a tier they are in good standing in
    ("studio_sunli", "孙丽", ("浙江省", "宁波市", "北仑区"), "first-aider-instructor"),
]

STUDIOS = [
    {"slug": "wangfang", "name": "王芳名师工作室", "organisation": "王芳名师工作室（演示）",
     "region": ("浙江省", "杭州市", "西湖区"), "head": "instructor", "members": ["studio_lina", "studio_zhougang"],
     "established_on": datetime.date(2021, 9, 1), "class_code": "GZSWF2026", "class_days_ago": 20,
     "introduction": "王芳名师工作室由杭州市西湖区资深救护师资王芳领衔，专注心肺复苏与AED教学，"
                     "研究智能模拟人反馈下的按压质量训练方法，带教青年师资，开发精品课程。\n"
                     "工作室定期开展教学观摩和集体备课，面向社区、学校和企业开设救护员培训班。"},
    {"slug": "chenming", "name": "陈明名师工作室", "organisation": None,
     "region": ("浙江省", "宁波市", "鄞州区"), "head": "studio_chenming", "members": ["studio_sunli"],
     "established_on": datetime.date(2023, 3, 15), "class_code": "GZSCM2026", "class_days_ago": 35,
     "introduction": "陈明名师工作室立足宁波，面向港口物流和制造企业开展应急救护培训，"
                     "擅长创伤止血包扎与现场安全评估教学。"},
]

SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张"
GIVEN = ["晓明", "丽娟", "建华", "海涛", "秀英", "志刚", "雪梅", "文博", "佳怡", "子轩", "思远", "梦琪"]


def _write(stdout):
    return stdout.write if stdout else (lambda s: None)


def _profile(user, tier, training_base=None):
    from .models import InstructorProfile, StandingChange

    profile = InstructorProfile.objects.filter(user=user).first()
    if profile is None:
        profile = InstructorProfile.objects.create(user=user, tier=tier, training_base=training_base,
                                                   instructor_since=datetime.date(2019, 6, 1))
        StandingChange.objects.create(profile=profile, to_tier=tier, to_status=profile.status,
                                      reason="演示数据 (demo)")
    return profile


def _head_tier(tiers):
    """The highest of the demo tiers that needs no qualification certificate, else the master tier."""
    free = [t for t in tiers.values() if t.qualification_id is None]
    return max(free, key=lambda t: t.rank) if free else tiers["master-instructor"]


def _instructors(tiers, write) -> dict:
    from lms import api as lms_api

    from .demo import INSTRUCTOR_PROGRAMME, qualify
    from lms.demo import _region
    from lms.models import Role, User

    out = {}
    for username, real_name, where, tier_code in INSTRUCTORS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = lms_api.create_person(None, username=username, real_name=real_name, region=_region(*where),
                                         password=None, roles=[Role.INSTRUCTOR])
        _profile(user, tiers[tier_code] if tier_code else _head_tier(tiers))
        if (user.instructor_profile.tier.qualification_id
                and not user.certificates.filter(programme__code=INSTRUCTOR_PROGRAMME).exists()):
            qualify(user, days_ago=200 + 30 * len(out))  # their 救护师资证, from the paper record
        out[username] = user
    instructor = User.objects.filter(username="instructor").first()
    if instructor is not None:
        _profile(instructor, tiers["master-instructor"], training_base=instructor.organisation)
        out["instructor"] = instructor
    else:
        write("studios demo: no demo login 'instructor', 王芳名师工作室 skipped\n")
    return out


def _studio(spec, people, write):
    from lms.demo import _region
    from lms.models import Organisation

    from . import studios
    from .models import Studio

    studio = Studio.objects.filter(slug=spec["slug"]).first()
    if studio is not None:
        return studio
    head = people.get(spec["head"])
    if head is None:
        return None
    region = _region(*spec["region"])
    organisation = None
    if spec["organisation"]:
        organisation = Organisation.objects.filter(name=spec["organisation"], region=region,
                                                   kind=Organisation.Kind.STUDIO).first()
    try:
        with transaction.atomic():
            studio = studios.create_studio(None, name=spec["name"], slug=spec["slug"], head=head,
                                           region=None if organisation else region, organisation=organisation,
                                           introduction=spec["introduction"], established_on=spec["established_on"])
            for username in spec["members"]:
                studios.add_member(None, studio, people[username], joined_on=spec["established_on"])
    except (ValidationError, PermissionDenied) as exc:
        reasons = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        write(f"studios demo: {spec['name']} not created: {reasons}\n")
        return None
    return studio


def _class(spec, studio, programme, people, today):
    """A finished class at the studio's organisation, taught by the head (and members in good standing)."""
    from courses.models import TrainingClass

    from .standing import TEACH, refusals

    ends_on = today - timedelta(days=spec["class_days_ago"])
    klass, created = TrainingClass.objects.get_or_create(code=spec["class_code"], defaults={
        "programme": programme, "name": f"{studio.name}救护员培训班（演示）", "training_base": studio.organisation,
        "starts_on": ends_on - timedelta(days=1), "ends_on": ends_on, "capacity": PER_CLASS + 8,
        "status": TrainingClass.Status.FINISHED, "venue": f"{studio.name}培训教室"})
    if created:
        teachers = [studio.head] + [people[u] for u in spec["members"]]
        refused = refusals(teachers, programme, TEACH)
        klass.instructors.set([t for t in teachers if t.pk not in refused])
    return klass


def _trainees(spec, klass, blueprint, index: int, today, region):
    """Synthetic trainees (no login): enrolled, a theory result, and most of them rate the class."""
    from courses.models import Enrolment
    from exams.models import Attempt
    from lms import api as lms_api
    from lms.demo import DEMO_PASSWORD
    from lms.models import PrivacyConsent, Role, User

    from .feedback import submit_feedback
    from .models import FeedbackReceipt

    rng = random.Random(SEED + index)
    ended = datetime.datetime.combine(klass.ends_on, datetime.time(15), tzinfo=timezone.get_current_timezone())
    for i in range(PER_CLASS):
        n = index * PER_CLASS + i
        # One trainee who has not rated the class yet is a demo login: the "rate this class" form.
        graduate = index == 0 and i == 3
        username = GRADUATE if graduate else f"gzs_{spec['slug']}_{i + 1:02d}"
        with transaction.atomic():
            user = User.objects.filter(username=username).first()
            if user is None:
                user = lms_api.create_person(None, username=username,
                                             real_name=SURNAMES[n % len(SURNAMES)] + GIVEN[(n * 5) % len(GIVEN)],
                                             region=region, password=DEMO_PASSWORD if graduate else None,
                                             roles=[Role.TRAINEE])
                if graduate:
                    PrivacyConsent.objects.get_or_create(user=user, version=settings.PRIVACY_NOTICE_VERSION,
                                                         defaults={"sensitive": True})
            enrolment, _created = Enrolment.objects.get_or_create(
                user=user, training_class=klass, defaults={"source": Enrolment.Source.ADMIN,
                                                           "status": Enrolment.Status.COMPLETED})
            if blueprint is not None and not Attempt.objects.filter(user=user, blueprint=blueprint).exists():
                at = ended - timedelta(hours=2, minutes=rng.randrange(0, 60))
                passed = rng.random() < 0.9
                pct = rng.randrange(82, 100) if passed else rng.randrange(55, 79)
                Attempt.objects.create(user=user, blueprint=blueprint, number=1, status=Attempt.Status.SUBMITTED,
                                       started_at=at - timedelta(minutes=35), deadline_at=at + timedelta(minutes=10),
                                       submitted_at=at, score_points=pct // 2, max_points=50, score_pct=pct,
                                       passed=passed)
            if i % 4 != 3 and not FeedbackReceipt.objects.filter(enrolment=enrolment).exists():
                overall = 5 if rng.random() < 0.6 else 4
                try:
                    submit_feedback(user, enrolment, overall=overall, clarity=rng.choice([4, 5]),
                                    practice=rng.choice([4, 5, 5]), comment="", today=klass.ends_on + timedelta(days=1))
                except (ValidationError, PermissionDenied):
                    pass


def load(stdout=None) -> int:
    """Returns the number of demo studios present afterwards."""
    from content.models import CoursePage
    from courses.models import Programme
    from exams.models import Blueprint
    from lms.demo import _region

    from . import studios
    from .models import Studio, Tier

    write = _write(stdout)
    tiers = {t.code: t for t in Tier.objects.filter(code__in=TIERS)}
    missing = [code for code in TIERS if code not in tiers]
    if missing:
        write(f"studios demo: instructor tiers missing ({', '.join(missing)}), skipped\n")
        return 0
    programme = Programme.objects.filter(code=PROGRAMME_CODE).first()
    if programme is None:
        write("studios demo: no 救护员 programme, skipped\n")
        return 0
    blueprint = Blueprint.objects.filter(programme=programme, is_active=True).first()
    course = (CoursePage.objects.live().public().filter(title__contains="救护员").order_by("pk").first()
              or CoursePage.objects.live().public().order_by("pk").first())
    today = timezone.localdate()
    with transaction.atomic():
        people = _instructors(tiers, write)
    made = []
    for index, spec in enumerate(STUDIOS):
        studio = _studio(spec, people, write)
        if studio is None:
            continue
        klass = _class(spec, studio, programme, people, today)
        _trainees(spec, klass, blueprint, index, today, _region(*spec["region"]))
        if course is not None and not studio.showcase.filter(page_id=course.pk).exists():
            studios.add_showcase(None, studio, course, blurb=f"{studio.head.display_name}老师团队主讲的救护员理论课程")
        if not studio.is_public:
            try:
                studios.publish_studio(None, studio)
            except ValidationError as exc:
                write(f"studios demo: {studio.name} not published: {'; '.join(exc.messages)}\n")
        made.append(studio)
    for studio in made:
        figures = studios.studio_figures(studio)
        f = figures["figures"]
        write(f"studio: {studio.name} (/studios/{studio.slug}/) · head {studio.head.display_name} · "
              f"{figures['members']} members · {f.classes} classes, {f.trainees} trainees\n")
    return Studio.objects.filter(slug__in=[s["slug"] for s in STUDIOS]).count()
