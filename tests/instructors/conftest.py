"""The instructors tests' world: 西湖区 and 上城区 with their admins (and 杭州市's), a training base in each,
three tiers (普及师资 < 救护员师资 < 导师), two programmes, an instructor in each county with a profile, and
a qualification programme whose certificate is issued for real by the certificates app."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import timezone

from certificates import api as certificates_api
from certificates.models import CertificateRule
from courses.models import Enrolment, Programme, TrainingClass
from instructors.models import AssessmentRule, InstructorProfile, Tier
from lms import api as lms_api
from lms.models import Organisation, Role, User
from tests.courses.study_support import make_programme

EN = "django_language=en"


@dataclass
class World:
    regions: dict
    base: Organisation
    base_sc: Organisation
    sysadmin: User
    admin: User  # 西湖区's admin
    admin_sc: User  # 上城区's admin
    city_admin: User  # 杭州市's admin
    programme: Programme  # 救护员取证 (16 class hours)
    awareness: Programme  # 普及 (4 class hours)
    qualification: Programme  # the instructor programme (its certificate qualifies)
    t1: Tier
    t2: Tier
    t3: Tier
    instructor: User  # 西湖区, tier 2, active since 2020
    profile: InstructorProfile
    other: User  # 上城区, tier 2
    other_profile: InstructorProfile
    trainee: User


def make_tier(code: str, rank: int, *, teaches=(), examines=(), qualification=None) -> Tier:
    tier = Tier.objects.create(code=code, name=code, rank=rank, qualification=qualification)
    tier.teaches.add(*teaches)
    tier.examines.add(*examines)
    return tier


def profile_for(person, tier, *, since=datetime.date(2020, 1, 1), base=None) -> InstructorProfile:
    return InstructorProfile.objects.create(user=person, tier=tier, instructor_since=since, training_base=base)


@pytest.fixture
def world(regions, make_person) -> World:
    xihu, sc = regions["xihu"], regions["shangcheng"]
    base = lms_api.create_organisation(None, name="西湖区培训基地", kind=Organisation.Kind.TRAINING_BASE, region=xihu)
    base_sc = lms_api.create_organisation(None, name="上城区培训基地", kind=Organisation.Kind.TRAINING_BASE, region=sc)
    sysadmin = make_person(regions["zj"], roles=(Role.SYSTEM_ADMIN,), username="sys", real_name="系统管理员")
    admin = make_person(xihu, roles=(), admin_of=xihu, username="xihu-admin", real_name="西湖管理员")
    admin_sc = make_person(sc, roles=(), admin_of=sc, username="sc-admin", real_name="上城管理员")
    city_admin = make_person(regions["hz"], roles=(), admin_of=regions["hz"], username="hz-admin", real_name="杭州管理员")
    programme = make_programme(code="first-aider")
    awareness = Programme.objects.create(code="awareness", name="普及培训", kind=Programme.Kind.AWARENESS,
                                         required_class_hours=Decimal(4))
    qualification = Programme.objects.create(code="instructor", name="救护师资培训", kind=Programme.Kind.INSTRUCTOR,
                                             required_class_hours=Decimal(40), theory_exam_required=False)
    t1 = make_tier("普及师资", 1, teaches=[awareness], examines=[awareness])
    t2 = make_tier("救护员师资", 2, teaches=[awareness, programme], examines=[awareness, programme])
    t3 = make_tier("导师", 3, teaches=[awareness, programme, qualification],
                   examines=[awareness, programme, qualification])
    instructor = make_person(xihu, roles=(Role.INSTRUCTOR, Role.EXAMINER), username="wangfang", real_name="王芳",
                             organisation=base)
    other = make_person(sc, roles=(Role.INSTRUCTOR,), username="liulaoshi", real_name="刘老师")
    trainee = make_person(xihu, roles=(Role.TRAINEE,), username="xueyuan", real_name="张学员")
    return World(regions=regions, base=base, base_sc=base_sc, sysadmin=sysadmin, admin=admin, admin_sc=admin_sc,
                 city_admin=city_admin, programme=programme, awareness=awareness, qualification=qualification,
                 t1=t1, t2=t2, t3=t3, instructor=instructor, profile=profile_for(instructor, t2, base=base),
                 other=other, other_profile=profile_for(other, t2, base=base_sc), trainee=trainee)


def ended_class(programme, base, *, ends_on: datetime.date, name: str = "已结束的班", instructors=(),
                status=TrainingClass.Status.FINISHED, days: int = 2) -> TrainingClass:
    """A class of the past (made directly: ``create_class`` checks today's standing, not the past's)."""
    c = TrainingClass.objects.create(programme=programme, name=name, training_base=base,
                                     starts_on=ends_on - datetime.timedelta(days=days), ends_on=ends_on,
                                     status=status)
    c.instructors.add(*instructors)
    return c


def qualify(world: World, person, *, issued_on: datetime.date | None = None, validity_years: int = 3):
    """Issue ``person`` the qualification programme's certificate for real (an exception waives the exams, as
    for the demo's paper exams), issued on ``issued_on`` (an old date: an expired certificate)."""
    CertificateRule.objects.get_or_create(programme=world.qualification,
                                          defaults={"title": "救护师资证", "validity_years": validity_years})
    klass = TrainingClass.objects.filter(programme=world.qualification, training_base=world.base).first()
    if klass is None:
        klass = ended_class(world.qualification, world.base, ends_on=timezone.localdate() - datetime.timedelta(days=1),
                            name="师资班")
    Enrolment.objects.get_or_create(user=person, training_class=klass,
                                    defaults={"source": Enrolment.Source.ADMIN, "status": Enrolment.Status.COMPLETED})
    certificates_api.grant_exception(world.admin, person, world.qualification, waives=["theory", "practical", "window"],
                                     reason="纸质考试，已核验")
    return certificates_api.issue(world.admin, person, world.qualification, training_class=klass,
                                  today=issued_on or timezone.localdate())


def default_rule(year: int, tier=None, **kw) -> AssessmentRule:
    values = {"min_hours": Decimal(16), "pass_rate_min_pct": Decimal(70), "pass_rate_max_pct": Decimal(95),
              "min_feedback": Decimal("3.5"), "min_feedback_responses": 5, "max_major_findings": 0,
              "promote_min_hours": Decimal(48), "promote_min_feedback": Decimal("4.5"),
              "promote_min_cpr_pct": Decimal(80), "promote_min_years": 2}
    values.update(kw)
    return AssessmentRule.objects.create(year=year, tier=tier, **values)


def en(client, user=None):
    client.cookies.load(EN)
    if user is not None:
        client.force_login(user)
    return client
