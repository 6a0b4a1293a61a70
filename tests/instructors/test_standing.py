"""Standing (instructors.standing): only an instructor in good standing is put on a class or a practical exam,
enforced on the server by ``courses.classes`` and ``exams.practical`` with the reasons in words."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import override

from certificates import api as certificates_api
from courses import classes
from exams import practical
from instructors import api as instructors_api
from instructors import profiles
from instructors.models import InstructorProfile
from lms.models import Role
from tests.exams.practical_support import site, today_session  # noqa: F401

from .conftest import en, make_tier, profile_for, qualify

pytestmark = pytest.mark.django_db


def _open(world, instructors, programme=None):
    today = timezone.localdate()
    return classes.create_class(world.admin, instructors=instructors, programme=programme or world.programme,
                                name="新班", training_base=world.base, starts_on=today,
                                ends_on=today + datetime.timedelta(days=3), capacity=30)


def _refused(world, person, programme=None) -> list[str]:
    with override("en"), pytest.raises(ValidationError) as exc:
        _open(world, [person], programme)
    return exc.value.message_dict["instructors"]


def test_class_instructors_must_be_in_good_standing(world, make_person):
    # In good standing: the class opens, and keeps its instructor when changed.
    c = _open(world, [world.instructor])
    assert list(c.instructors.all()) == [world.instructor]

    # No profile (no tier).
    newcomer = make_person(world.regions["xihu"], roles=(Role.INSTRUCTOR,), real_name="新老师")
    assert _refused(world, newcomer) == ["新老师 is not registered as an instructor (no tier)."]

    # The tier may not teach the programme.
    low = make_person(world.regions["xihu"], roles=(Role.INSTRUCTOR,), real_name="普及老师")
    profile_for(low, world.t1)
    assert _refused(world, low) == ["普及老师: The tier 普及师资 may not teach 救护员取证培训."]
    assert _open(world, [low], world.awareness).pk  # …but the awareness programme, yes

    # Suspended: refused for a new class and when a class is changed; nothing stored.
    profiles.suspend(world.admin, world.profile, reason="年度考核不合格")
    assert _refused(world, world.instructor) == ["王芳 is suspended as an instructor."]
    with override("en"), pytest.raises(ValidationError) as exc:
        classes.update_class(world.admin, c, instructors=[world.instructor], name="改名的班",
                             programme=world.programme, training_base=world.base, starts_on=c.starts_on,
                             ends_on=c.ends_on, capacity=30)
    assert exc.value.message_dict["instructors"] == ["王芳 is suspended as an instructor."]
    c.refresh_from_db()
    assert c.name == "新班"
    # Several reasons at once, every refused person named.
    with override("en"), pytest.raises(ValidationError) as exc:
        _open(world, [world.instructor, newcomer])
    assert set(exc.value.message_dict["instructors"]) == {"王芳 is suspended as an instructor.",
                                                          "新老师 is not registered as an instructor (no tier)."}
    profiles.reinstate(world.admin, world.profile, reason="整改完成，恢复")
    assert _open(world, [world.instructor]).pk


def test_qualification_certificate_current_not_expired_revoked_or_missing(world, make_person):
    """A tier that names a qualifying programme needs a current certificate of it (certificates app)."""
    today = timezone.localdate()
    world.t2.qualification = world.qualification
    world.t2.save()
    missing = _refused(world, world.instructor)
    assert missing == ["王芳 has no current 救护师资培训 certificate (expired or never issued)."]

    current = qualify(world, world.instructor)
    assert current.expires_on > today
    assert _open(world, [world.instructor]).pk
    st = instructors_api.standing(world.instructor)
    assert st["usable"] and st["certificate"].pk == current.pk

    certificates_api.revoke(world.admin, current, reason="证书信息有误")
    assert _refused(world, world.instructor) == missing

    expired_holder = make_person(world.regions["xihu"], roles=(Role.INSTRUCTOR,), real_name="过期老师")
    profile_for(expired_holder, world.t2)
    old = qualify(world, expired_holder, issued_on=today.replace(year=today.year - 4))
    assert old.expires_on < today
    assert _refused(world, expired_holder) == [
        "过期老师 has no current 救护师资培训 certificate (expired or never issued)."]
    # The day asked about matters: on a day the certificate was current, the same person is in good standing.
    assert instructors_api.refusals([expired_holder], world.programme, instructors_api.TEACH,
                                    today=old.expires_on) == {}


def test_class_form_shows_the_refusal_reasons(world, client):
    profiles.suspend(world.admin, world.profile, reason="投诉核实")
    today = timezone.localdate()
    resp = en(client, world.admin).post("/classes/new/", {
        "programme": world.programme.pk, "name": "表单班", "training_base": world.base.pk,
        "starts_on": today.isoformat(), "ends_on": (today + datetime.timedelta(days=2)).isoformat(),
        "capacity": 20, "instructors": [world.instructor.pk]})
    assert resp.status_code == 200
    assert "王芳 is suspended as an instructor." in resp.content.decode()
    assert not world.instructor.classes_taught.exists()


def test_examiners_assigned_or_drawn_only_in_good_standing(site):  # noqa: F811
    """``assign_examiner`` refuses with the reasons; the draw's pool leaves them out with the reasons."""
    session = today_session(site, examiners=[])
    pool, excluded = practical.examiner_pool(session)
    assert site.examiner2.pk in pool

    p2 = InstructorProfile.objects.get(user=site.examiner2)
    profiles.suspend(site.sysadmin, p2, reason="考核暂停")
    with override("en"):
        with pytest.raises(ValidationError) as exc:
            practical.assign_examiner(site.admin, session, site.examiner2)
        assert exc.value.message_dict["examiner"] == ["周考官 is suspended as an instructor."]
        pool, excluded = practical.examiner_pool(session)
    assert site.examiner2.pk not in pool
    assert {"examiner": site.examiner2.pk, "reason": "周考官 is suspended as an instructor."} in excluded

    # A tier that teaches the programme but does not examine it.
    teaching_only = make_tier("只教不考", 7, teaches=[site.programme])
    p1 = InstructorProfile.objects.get(user=site.examiner)
    profiles.change_tier(site.sysadmin, p1, tier=teaching_only, reason="调整为只授课")
    with override("en"):
        with pytest.raises(ValidationError) as exc:
            practical.assign_examiner(site.admin, session, site.examiner)
        assert exc.value.message_dict["examiner"] == [
            f"李考官: The tier 只教不考 may not examine {site.programme.name}."]
        pool, _excluded = practical.examiner_pool(session)
    assert site.examiner.pk not in pool
    assert not session.session_examiners.exists()

    # No profile at all.
    InstructorProfile.objects.filter(user=site.colleague).delete()
    with override("en"), pytest.raises(ValidationError) as exc:
        practical.assign_examiner(site.admin, session, site.colleague)
    assert exc.value.message_dict["examiner"] == ["钱同事 is not registered as an instructor (no tier)."]
