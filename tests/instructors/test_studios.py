"""Studios (名师工作室, ``instructors.studios``): who may open and change one, the head and members, showcase
courses, the public pages (only public studios, names and tiers, never numbers), the list per region and
the figures over the studio's classes."""

from __future__ import annotations

import datetime
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from wagtail.models import Page

from content.models import CourseIndexPage, CoursePage, ModulePage
from courses import classes as course_classes
from courses.models import Enrolment, Programme, TrainingClass
from exams.models import Attempt, Blueprint
from instructors import api, studios
from instructors.models import ClassFeedback, InstructorProfile, Studio, StudioMembership, StudioShowcase
from lms import api as lms_api
from lms.demo import _demo_id_card
from lms.models import AuditLog, Organisation, Role, User
from tests.instructors.support import in_good_standing, tier_for

HEAD_PHONE = "13912345678"
HEAD_ID = _demo_id_card("330106", "19800101", 123)


@pytest.fixture
def programme(db):
    return Programme.objects.create(code="st-first-aider", name="救护员取证培训", kind=Programme.Kind.FIRST_AIDER,
                                    required_class_hours=Decimal(16))


@pytest.fixture
def people(regions, make_person, programme):
    xihu, shangcheng, beilun = regions["xihu"], regions["shangcheng"], regions["beilun"]
    p = {
        "county_admin": make_person(xihu, roles=(), admin_of=xihu, username="xihu-admin", real_name="区管理员"),
        "shangcheng_admin": make_person(shangcheng, roles=(), admin_of=shangcheng, username="sc-admin",
                                        real_name="上城管理员"),
        "city_admin": make_person(regions["hz"], roles=(), admin_of=regions["hz"], username="hz-admin",
                                  real_name="市管理员"),
        "sysadmin": make_person(regions["zj"], roles=(Role.SYSTEM_ADMIN,), username="sys", real_name="系统管理员"),
        "head": make_person(xihu, roles=(Role.INSTRUCTOR,), username="wangfang", real_name="王芳",
                            phone=HEAD_PHONE, id_card=HEAD_ID),
        "member": make_person(xihu, roles=(Role.INSTRUCTOR,), username="lina", real_name="李娜"),
        "sc_instructor": make_person(shangcheng, roles=(Role.INSTRUCTOR,), username="zhougang", real_name="周刚"),
        "nb_instructor": make_person(beilun, roles=(Role.INSTRUCTOR,), username="chenming", real_name="陈明"),
        "no_profile": make_person(xihu, roles=(Role.INSTRUCTOR,), username="noprofile", real_name="无档案"),
        "trainee": make_person(xihu, roles=(Role.TRAINEE,), username="xueyuan", real_name="张学员"),
    }
    in_good_standing(p["head"], p["member"], p["sc_instructor"], p["nb_instructor"], programmes=[programme])
    return p


@pytest.fixture
def studio(people, regions):
    return api.create_studio(people["county_admin"], name="王芳名师工作室", region=regions["xihu"], head=people["head"],
                             slug="wangfang", introduction="专注心肺复苏教学。",
                             established_on=datetime.date(2024, 5, 1))


@pytest.fixture
def courses(db):
    """A live course page, an unpublished one and a (live) module page."""
    home = Page.objects.get(depth=2)
    index = CourseIndexPage.objects.first() or home.add_child(instance=CourseIndexPage(title="课程中心", slug="courses"))
    live = index.add_child(instance=CoursePage(title="救护员精品课", slug="st-live", summary="课程"))
    draft = index.add_child(instance=CoursePage(title="未发布课程", slug="st-draft", summary="课程", live=False))
    module = live.add_child(instance=ModulePage(title="心肺复苏模块", slug="st-module", summary="模块"))
    other = index.add_child(instance=CoursePage(title="止血包扎精品课", slug="st-other", summary="课程"))
    return {"live": live, "draft": draft, "module": module, "other": other}


def _counts():
    return (Studio.objects.count(), Organisation.objects.count(), StudioMembership.objects.count(),
            StudioShowcase.objects.count())


# ------------------------------------------------------------------ opening a studio


def test_a_region_admin_opens_a_studio_with_its_own_organisation_not_yet_public(studio, people):
    assert studio.organisation.kind == Organisation.Kind.STUDIO
    assert studio.organisation.region.name == "西湖区" and studio.organisation.name == "王芳名师工作室"
    assert studio.head == people["head"] and not studio.is_public
    assert AuditLog.objects.filter(action="instructors.studio.create").count() == 1


def test_a_studio_runs_classes_at_its_organisation(studio, people, programme):
    today = timezone.localdate()
    c = course_classes.create_class(people["county_admin"], instructors=[people["head"]], programme=programme,
                                    name="工作室救护员班", training_base=studio.organisation,
                                    starts_on=today, ends_on=today + timedelta(days=2), capacity=30)
    assert c.training_base == studio.organisation
    assert api.studio_figures(studio)["figures"].classes == 0  # not ended yet
    classes, total = studios.recent_classes(studio)
    assert total == 1 and classes[0].name == "工作室救护员班"


def test_a_studio_member_may_not_examine_the_studios_trainees(studio, people, programme):
    """考培分离 through a studio membership: the member works elsewhere, the studio's classes are theirs."""
    from exams.practical import examiner_conflicts

    today = timezone.localdate()
    c = course_classes.create_class(people["county_admin"], instructors=[people["head"]], programme=programme,
                                    name="工作室救护员班", training_base=studio.organisation,
                                    starts_on=today, ends_on=today + timedelta(days=2), capacity=30)
    Enrolment.objects.create(user=people["trainee"], training_class=c, source=Enrolment.Source.ADMIN)
    assert examiner_conflicts(people["member"], people["trainee"]) == []
    api.add_member(people["county_admin"], studio, people["member"])
    reasons = examiner_conflicts(people["member"], people["trainee"])
    assert len(reasons) == 1 and "王芳名师工作室" in reasons[0]


@pytest.mark.parametrize("actor", ["shangcheng_admin", "head", "trainee"])
def test_only_the_admins_of_the_region_open_a_studio_there(people, regions, actor):
    before = _counts()
    with pytest.raises(PermissionDenied):
        api.create_studio(people[actor], name="新工作室", region=regions["xihu"], head=people["head"])
    assert _counts() == before


def test_a_city_and_a_system_admin_open_studios_below_them(people, regions):
    s1 = api.create_studio(people["city_admin"], name="上城工作室", region=regions["shangcheng"],
                           head=people["sc_instructor"])
    s2 = api.create_studio(people["sysadmin"], name="北仑工作室", region=regions["beilun"], head=people["nb_instructor"])
    assert s1.slug != s2.slug and s1.slug.startswith("studio-")


def test_the_head_must_be_an_instructor_in_good_standing(people, regions, programme):
    admin, xihu = people["county_admin"], regions["xihu"]
    before = _counts()
    with pytest.raises(ValidationError) as e:
        api.create_studio(admin, name="甲工作室", region=xihu, head=people["no_profile"])
    assert "not registered as an instructor" in " ".join(e.value.message_dict["head"])
    InstructorProfile.objects.filter(user=people["member"]).update(status=InstructorProfile.Status.SUSPENDED)
    with pytest.raises(ValidationError) as e:
        api.create_studio(admin, name="乙工作室", region=xihu, head=people["member"])
    assert "suspended" in " ".join(e.value.message_dict["head"])
    # a tier that needs a current qualification certificate the head does not hold
    qualification = Programme.objects.create(code="st-instructor", name="救护师资培训", kind=Programme.Kind.INSTRUCTOR)
    strict = tier_for(programme, code="strict", rank=60, qualification=qualification)
    InstructorProfile.objects.filter(user=people["head"]).update(tier=strict)
    with pytest.raises(ValidationError) as e:
        api.create_studio(admin, name="丙工作室", region=xihu, head=people["head"])
    assert "no current 救护师资培训 certificate" in " ".join(e.value.message_dict["head"])
    assert _counts() == before


def test_the_head_comes_from_the_studios_city_and_the_admins_regions(people, regions):
    before = _counts()
    with pytest.raises(ValidationError) as e:  # 北仑区 is in 宁波市, not in 杭州市
        api.create_studio(people["sysadmin"], name="甲工作室", region=regions["xihu"], head=people["nb_instructor"])
    assert "杭州市" in " ".join(e.value.message_dict["head"])
    with pytest.raises(ValidationError) as e:  # 上城区 is in 杭州市 but not in the county admin's 西湖区
        api.create_studio(people["county_admin"], name="乙工作室", region=regions["xihu"], head=people["sc_instructor"])
    assert "another region" in " ".join(e.value.message_dict["head"])
    assert _counts() == before


@pytest.mark.parametrize("fields, key", [
    ({"name": "  "}, "name"),
    ({"slug": "Wang Fang!"}, "slug"),
    ({"slug": "manage"}, "slug"),
    ({"established_on": datetime.date.today() + timedelta(days=3)}, "established_on"),
    ({"introduction": "长" * 5001}, "introduction"),
])
def test_bad_input_is_refused_with_a_message_and_nothing_is_stored(people, regions, fields, key):
    before = _counts()
    kwargs = {"name": "王芳名师工作室", "region": regions["xihu"], "head": people["head"], **fields}
    with pytest.raises(ValidationError) as e:
        api.create_studio(people["county_admin"], **kwargs)
    assert e.value.message_dict[key]
    assert _counts() == before


def test_a_taken_web_address_or_organisation_name_is_refused(studio, people, regions):
    before = _counts()
    with pytest.raises(ValidationError) as e:
        api.create_studio(people["county_admin"], name="另一个工作室", region=regions["xihu"], head=people["head"],
                          slug="wangfang")
    assert "web address" in " ".join(e.value.message_dict["slug"])
    with pytest.raises(ValidationError) as e:
        api.create_studio(people["county_admin"], name="王芳名师工作室", region=regions["xihu"], head=people["head"])
    assert e.value.message_dict["name"]
    assert _counts() == before


def test_an_existing_studio_organisation_can_be_used_once(people, regions):
    org = lms_api.create_organisation(None, name="已有工作室", kind=Organisation.Kind.STUDIO, region=regions["xihu"])
    base = lms_api.create_organisation(None, name="培训基地", kind=Organisation.Kind.TRAINING_BASE, region=regions["xihu"])
    s = api.create_studio(None, name="已有工作室", organisation=org, head=people["head"])
    assert s.organisation == org
    for organisation in (org, base):
        with pytest.raises(ValidationError) as e:
            api.create_studio(None, name="又一个", organisation=organisation, head=people["head"])
        assert e.value.message_dict["organisation"]


# ------------------------------------------------------------------ changing it: admins and the head


def test_the_head_edits_the_introduction_but_not_the_rest(studio, people):
    head = people["head"]
    api.update_studio(head, studio, introduction="新的介绍。")
    studio.refresh_from_db()
    assert studio.introduction == "新的介绍。"
    for change in ({"name": "改名"}, {"slug": "renamed"}, {"established_on": datetime.date(2020, 1, 1)}):
        with pytest.raises(PermissionDenied):
            api.update_studio(head, studio, **change)
    with pytest.raises(PermissionDenied):
        api.publish_studio(head, studio)
    with pytest.raises(PermissionDenied):
        api.set_head(head, studio, people["member"])
    studio.refresh_from_db()
    assert (studio.name, studio.slug, studio.is_public) == ("王芳名师工作室", "wangfang", False)


@pytest.mark.parametrize("actor", ["shangcheng_admin", "member", "trainee"])
def test_others_change_nothing(studio, people, courses, actor):
    who = people[actor]
    for call in (lambda: api.update_studio(who, studio, introduction="x"),
                 lambda: api.add_member(who, studio, people["member"]),
                 lambda: api.add_showcase(who, studio, courses["live"]),
                 lambda: api.publish_studio(who, studio)):
        with pytest.raises(PermissionDenied):
            call()
    studio.refresh_from_db()
    assert studio.introduction == "专注心肺复苏教学。" and not studio.memberships.exists() and not studio.showcase.exists()


def test_members_hold_an_instructor_profile_of_the_studios_city(studio, people):
    head = people["head"]
    api.add_member(head, studio, people["member"])
    api.add_member(people["city_admin"], studio, people["sc_instructor"])  # 上城区 is in 杭州市
    cases = [(people["no_profile"], "not registered"), (people["nb_instructor"], "杭州市"),
             (people["head"], "head instructor"), (people["member"], "member already")]
    for person, words in cases:
        with pytest.raises(ValidationError) as e:
            api.add_member(head, studio, person)
        assert words in " ".join(e.value.message_dict["person"])
    assert set(studio.members.values_list("username", flat=True)) == {"lina", "zhougang"}
    api.remove_member(head, studio, people["sc_instructor"])
    with pytest.raises(ValidationError):
        api.remove_member(head, studio, people["sc_instructor"])
    assert list(studio.members.values_list("username", flat=True)) == ["lina"]


def test_a_suspended_instructor_cannot_join(studio, people):
    InstructorProfile.objects.filter(user=people["member"]).update(status=InstructorProfile.Status.SUSPENDED)
    with pytest.raises(ValidationError) as e:
        api.add_member(people["head"], studio, people["member"])
    assert "suspended" in " ".join(e.value.message_dict["person"])
    assert not studio.memberships.exists()


def test_a_new_head_leaves_the_members_and_the_old_head_stays_on(studio, people):
    api.add_member(people["county_admin"], studio, people["member"])
    api.set_head(people["county_admin"], studio, people["member"])
    studio.refresh_from_db()
    assert studio.head == people["member"]
    assert list(studio.members.values_list("username", flat=True)) == ["wangfang"]
    with pytest.raises(ValidationError):
        api.set_head(people["county_admin"], studio, people["no_profile"])
    assert api.studio_organisation_ids(people["head"]) == {studio.organisation_id}
    assert api.studio_organisation_ids(people["member"]) == {studio.organisation_id}
    assert api.studio_organisation_ids(people["trainee"]) == set()


# ------------------------------------------------------------------ showcase


def test_only_live_course_pages_can_be_showcased(studio, people, courses):
    head = people["head"]
    before = _counts()
    for page in (courses["draft"], courses["module"], 0, "x"):
        with pytest.raises(ValidationError) as e:
            api.add_showcase(head, studio, page)
        assert e.value.message_dict["page"]
    with pytest.raises(ValidationError) as e:
        api.add_showcase(head, studio, courses["live"], blurb="长" * 201)
    assert e.value.message_dict["blurb"]
    assert _counts() == before
    api.add_showcase(head, studio, courses["live"], blurb="王芳老师主讲")
    with pytest.raises(ValidationError):
        api.add_showcase(head, studio, courses["live"])
    api.add_showcase(head, studio, courses["other"].pk)
    assert [i.page_id for i in studio.showcase.all()] == [courses["live"].pk, courses["other"].pk]


def test_the_showcase_is_reordered_with_every_course_once(studio, people, courses):
    head = people["head"]
    api.add_showcase(head, studio, courses["live"])
    api.add_showcase(head, studio, courses["other"])
    for bad in ([courses["other"].pk], [courses["other"].pk, courses["other"].pk], [1, 2, 3], ["x"]):
        with pytest.raises(ValidationError):
            api.reorder_showcase(head, studio, bad)
    api.reorder_showcase(head, studio, [courses["other"].pk, courses["live"].pk])
    assert [i.page_id for i in studio.showcase.all()] == [courses["other"].pk, courses["live"].pk]
    api.remove_showcase(head, studio, courses["other"])
    assert [i.page_id for i in studio.showcase.all()] == [courses["live"].pk]


# ------------------------------------------------------------------ publishing and the public pages


def test_publishing_needs_an_introduction_and_a_head_in_good_standing(studio, people):
    admin = people["county_admin"]
    api.update_studio(admin, studio, introduction="")
    with pytest.raises(ValidationError) as e:
        api.publish_studio(admin, studio)
    assert "introduction" in " ".join(e.value.messages)
    api.update_studio(admin, studio, introduction="介绍")
    InstructorProfile.objects.filter(user=people["head"]).update(status=InstructorProfile.Status.SUSPENDED)
    with pytest.raises(ValidationError) as e:
        api.publish_studio(admin, studio)
    assert "suspended" in " ".join(e.value.messages)
    studio.refresh_from_db()
    assert not studio.is_public
    InstructorProfile.objects.filter(user=people["head"]).update(status=InstructorProfile.Status.ACTIVE)
    api.publish_studio(admin, studio)
    with pytest.raises(ValidationError):
        api.publish_studio(admin, studio)
    api.unpublish_studio(admin, studio)
    studio.refresh_from_db()
    assert not studio.is_public
    assert AuditLog.objects.filter(action__startswith="instructors.studio.").count() >= 5


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_a_studio_that_is_not_public_is_shown_to_its_managers_only(studio, people):
    url = reverse("studios:detail", args=[studio.slug])
    for user in (None, people["trainee"], people["member"], people["shangcheng_admin"]):
        assert _client(user).get(url).status_code == 404
    for user in (people["head"], people["county_admin"], people["city_admin"], people["sysadmin"]):
        resp = _client(user).get(url)
        assert resp.status_code == 200 and 'class="not-public"' in resp.content.decode()
    assert studio.name not in _client().get(reverse("studios:list")).content.decode()


def test_the_public_page_shows_names_and_tiers_never_numbers(studio, people, courses, programme):
    admin = people["county_admin"]
    api.add_member(admin, studio, people["member"])
    api.add_member(admin, studio, people["sc_instructor"])
    InstructorProfile.objects.filter(user=people["sc_instructor"]).update(status=InstructorProfile.Status.SUSPENDED)
    api.add_showcase(admin, studio, courses["live"], blurb="王芳老师主讲")
    api.add_showcase(admin, studio, courses["other"])
    courses["other"].unpublish()
    today = timezone.localdate()
    klass = TrainingClass.objects.create(programme=programme, name="工作室一班", training_base=studio.organisation,
                                         starts_on=today - timedelta(days=9), ends_on=today - timedelta(days=8))
    Enrolment.objects.create(user=people["trainee"], training_class=klass, source=Enrolment.Source.ADMIN)
    api.publish_studio(admin, studio)
    body = _client().get(reverse("studios:detail", args=[studio.slug])).content.decode()
    assert "王芳" in body and "李娜" in body and "test-tier" in body
    assert "周刚" not in body  # suspended members are not shown
    assert "救护员精品课" in body and "王芳老师主讲" in body and courses["live"].url in body
    assert "止血包扎精品课" not in body  # unpublished since
    assert "工作室一班" in body and "救护员取证培训" in body
    # Hours as everywhere else: the number, a space, the unit.
    assert re.search(r"<dd>\d+ <span class=\"unit\">学时</span></dd>", body)
    head = people["head"]
    for secret in (HEAD_PHONE, HEAD_ID, head.id_card_masked, head.phone_masked, "张学员"):
        assert secret and secret not in body, secret


def _published(admin, name, region, head, slug):
    s = api.create_studio(admin, name=name, region=region, head=head, slug=slug, introduction="介绍")
    return api.publish_studio(admin, s)


def test_the_list_per_region_includes_the_subtree(studio, people, regions):
    admin = people["sysadmin"]
    api.publish_studio(admin, studio)
    _published(admin, "上城工作室", regions["shangcheng"], people["sc_instructor"], "shangcheng")
    _published(admin, "北仑工作室", regions["beilun"], people["nb_instructor"], "beilun")
    api.create_studio(admin, name="隐藏工作室", region=regions["xihu"], head=people["member"], slug="hidden")
    url = reverse("studios:list")

    def names(query):
        body = _client().get(url, query).content.decode()
        return {n for n in ("王芳名师工作室", "上城工作室", "北仑工作室", "隐藏工作室") if n in body}

    assert names({}) == {"王芳名师工作室", "上城工作室", "北仑工作室"}
    assert names({"region": regions["zj"].pk}) == {"王芳名师工作室", "上城工作室", "北仑工作室"}
    assert names({"region": regions["hz"].pk}) == {"王芳名师工作室", "上城工作室"}
    assert names({"region": regions["xihu"].pk}) == {"王芳名师工作室"}
    assert names({"region": regions["nb"].pk}) == {"北仑工作室"}
    assert names({"region": "nonsense"}) == {"王芳名师工作室", "上城工作室", "北仑工作室"}
    assert {s.name for s in api.public_studios(regions["hz"])} == {"上城工作室", "王芳名师工作室"}
    body = _client().get(url).content.decode()
    assert "王芳" in body and "13912345678" not in body


# ------------------------------------------------------------------ figures


def test_the_figures_over_the_studios_classes(studio, people, programme):
    """Two finished classes (16 h each), a class still running and a cancelled one (not counted); three
    trainees and a withdrawn one; theory 2 of 3 passed; 3 ratings; no practical exam yet."""
    today = timezone.localdate()
    kw = {"programme": programme, "training_base": studio.organisation}
    done1 = TrainingClass.objects.create(name="一班", starts_on=today - timedelta(days=20),
                                         ends_on=today - timedelta(days=19), **kw)
    done2 = TrainingClass.objects.create(name="二班", starts_on=today - timedelta(days=10),
                                         ends_on=today - timedelta(days=9), status=TrainingClass.Status.FINISHED, **kw)
    running = TrainingClass.objects.create(name="三班", starts_on=today, ends_on=today + timedelta(days=3), **kw)
    cancelled = TrainingClass.objects.create(name="四班", starts_on=today - timedelta(days=5),
                                             ends_on=today - timedelta(days=4), status=TrainingClass.Status.CANCELLED,
                                             **kw)
    trainees = [lms_api.create_person(None, username=f"t{i}", real_name=f"学员{i}", region=people["head"].region)
                for i in range(5)]
    blueprint = Blueprint.objects.create(programme=programme, name="理论考试", time_limit_s=2700)
    now = timezone.now()
    for user, klass, status, passed in ((trainees[0], done1, Enrolment.Status.ACTIVE, True),
                                        (trainees[1], done1, Enrolment.Status.COMPLETED, False),
                                        (trainees[2], done2, Enrolment.Status.ACTIVE, True),
                                        (trainees[3], done2, Enrolment.Status.WITHDRAWN, True),
                                        (trainees[4], running, Enrolment.Status.ACTIVE, True)):
        Enrolment.objects.create(user=user, training_class=klass, source=Enrolment.Source.ADMIN, status=status)
        Attempt.objects.create(user=user, blueprint=blueprint, number=1, status=Attempt.Status.SUBMITTED,
                               started_at=now - timedelta(hours=1), deadline_at=now, submitted_at=now, passed=passed)
    Enrolment.objects.create(user=trainees[0], training_class=cancelled, source=Enrolment.Source.ADMIN)
    for overall, klass in ((5, done1), (4, done1), (4, done2)):
        ClassFeedback.objects.create(training_class=klass, overall=overall, clarity=4, practice=4, submitted_on=today)
    api.add_member(people["county_admin"], studio, people["member"])

    figures = api.studio_figures(studio)
    f = figures["figures"]
    assert (f.classes, f.hours, f.trainees) == (2, Decimal(32), 3)
    assert (f.theory_sat, f.theory_passed, f.theory_pass_pct) == (3, 2, Decimal("66.6"))  # 66.66… floored
    assert f.practical_pass_pct is None and f.cpr_mean_pct is None
    assert figures["feedback_shown"] and f.feedback_mean == Decimal("4.33")  # 13 / 3 floored
    assert (figures["members"], figures["showcase"]) == (1, 0)
    assert api.studio_figures(studio, year=today.year - 5)["figures"].classes == 0

    api.publish_studio(people["county_admin"], studio)
    body = _client().get(reverse("studios:detail", args=[studio.slug])).content.decode()
    assert "66.6" in body and "4.33" in body and "32" in body
    assert "学员0" not in body and "学员2" not in body  # no trainee is named


def test_feedback_is_not_shown_below_the_minimum(studio, programme):
    today = timezone.localdate()
    klass = TrainingClass.objects.create(programme=programme, name="一班", training_base=studio.organisation,
                                         starts_on=today - timedelta(days=3), ends_on=today - timedelta(days=2))
    ClassFeedback.objects.create(training_class=klass, overall=1, clarity=1, practice=1, submitted_on=today)
    figures = api.studio_figures(studio)
    assert figures["figures"].feedback_n == 1 and not figures["feedback_shown"]


# ------------------------------------------------------------------ management pages


def test_management_pages_answer_within_scope_only(studio, people):
    pages = [reverse(f"studios:{name}", args=[studio.slug]) for name in ("manage_edit", "manage_members",
                                                                          "manage_showcase")]
    for url in pages:
        for user in (people["county_admin"], people["city_admin"], people["sysadmin"], people["head"]):
            assert _client(user).get(url).status_code == 200, (url, user)
        assert _client(people["shangcheng_admin"]).get(url).status_code == 404
        assert _client(people["member"]).get(url).status_code == 403
        assert _client(people["trainee"]).get(url).status_code == 403
    listing = reverse("studios:manage_list")
    assert studio.name in _client(people["head"]).get(listing).content.decode()
    assert studio.name not in _client(people["shangcheng_admin"]).get(listing).content.decode()
    assert _client(people["head"]).get(reverse("studios:manage_new")).status_code == 403


def test_the_head_edits_through_the_pages(studio, people, courses):
    client = _client(people["head"])
    edit = reverse("studios:manage_edit", args=[studio.slug])
    body = client.get(edit).content.decode()
    assert 'name="introduction"' in body and 'name="name"' not in body and 'value="publish"' not in body
    resp = client.post(edit, {"action": "save", "introduction": "页面上改的介绍"})
    assert resp.status_code == 302
    assert client.post(edit, {"action": "publish"}).status_code == 403
    members = reverse("studios:manage_members", args=[studio.slug])
    assert client.post(members, {"action": "add", "person": people["member"].pk}).status_code == 302
    assert client.post(members, {"action": "head", "head": people["member"].pk}).status_code == 403
    resp = client.post(members, {"action": "add", "person": people["nb_instructor"].pk})
    assert resp.status_code == 200 and "errorlist" in resp.content.decode()  # not a choice: the form again
    showcase = reverse("studios:manage_showcase", args=[studio.slug])
    for page in (courses["live"], courses["other"]):
        assert client.post(showcase, {"action": "add", "page": page.pk}).status_code == 302
    assert client.post(showcase, {"action": "down", "page": courses["live"].pk}).status_code == 302
    resp = client.post(showcase, {"action": "add", "page": courses["draft"].pk})
    assert resp.status_code == 200
    studio.refresh_from_db()
    assert studio.introduction == "页面上改的介绍"
    assert list(studio.members.values_list("username", flat=True)) == ["lina"]
    assert [i.page_id for i in studio.showcase.all()] == [courses["other"].pk, courses["live"].pk]


def test_a_region_admin_opens_and_publishes_a_studio_through_the_pages(people, regions):
    client = _client(people["county_admin"])
    new = reverse("studios:manage_new")
    resp = client.post(new, {"name": "", "region": regions["xihu"].pk, "head": people["head"].pk})
    assert resp.status_code == 200 and not Studio.objects.exists()
    resp = client.post(new, {"name": "王芳名师工作室", "region": regions["xihu"].pk, "head": people["head"].pk,
                             "slug": "wf", "introduction": "介绍"})
    assert resp.status_code == 302
    studio = Studio.objects.get()
    resp = client.post(reverse("studios:manage_edit", args=["wf"]), {"action": "publish"})
    assert resp.status_code == 302
    studio.refresh_from_db()
    assert studio.is_public
    assert _client().get(reverse("studios:detail", args=["wf"])).status_code == 200


# ------------------------------------------------------------------ demo data


def test_the_demo_studios_load_twice_without_change(db, courses):
    from lms import demo as lms_demo

    from instructors import demo_studios

    lms_demo.load()
    assert demo_studios.load() == 0  # no tiers yet: nothing made
    assert not Studio.objects.exists()
    programme = Programme.objects.create(code="first-aider", name="救护员取证培训", kind=Programme.Kind.FIRST_AIDER,
                                         required_class_hours=Decimal(16))
    for rank, code in enumerate(demo_studios.TIERS, start=1):
        tier_for(programme, code=code, rank=rank)
    Blueprint.objects.create(programme=programme, name="救护员理论考试", time_limit_s=2700)
    assert demo_studios.load() == 2
    counts = (Studio.objects.count(), StudioMembership.objects.count(), StudioShowcase.objects.count(),
              TrainingClass.objects.count(), Enrolment.objects.count(), Attempt.objects.count(),
              ClassFeedback.objects.count())
    assert demo_studios.load() == 2
    assert counts == (Studio.objects.count(), StudioMembership.objects.count(), StudioShowcase.objects.count(),
                      TrainingClass.objects.count(), Enrolment.objects.count(), Attempt.objects.count(),
                      ClassFeedback.objects.count())
    wangfang = Studio.objects.get(slug="wangfang")
    assert wangfang.is_public and wangfang.head.username == "instructor"
    assert wangfang.organisation.name == "王芳名师工作室（演示）"
    assert set(wangfang.members.values_list("real_name", flat=True)) == {"李娜", "周刚"}
    figures = api.studio_figures(wangfang)
    assert figures["figures"].classes == 1 and figures["figures"].trainees == demo_studios.PER_CLASS
    assert figures["feedback_shown"] and figures["showcase"] == 1
    body = _client().get(reverse("studios:list"), {"region": wangfang.organisation.region.get_parent().pk})
    assert "王芳名师工作室" in body.content.decode() and "陈明名师工作室" not in body.content.decode()
    # The demo login "graduate": a trainee of that class who has not rated it, signs in and may rate it.
    from instructors.feedback import feedback_refusal
    from lms.demo import DEMO_PASSWORD

    graduate = User.objects.get(username=demo_studios.GRADUATE)
    assert graduate.check_password(DEMO_PASSWORD)
    enrolment = Enrolment.objects.get(user=graduate, training_class__training_base=wangfang.organisation)
    assert feedback_refusal(graduate, enrolment) is None
    assert not User.objects.filter(username__startswith="gzs_").exclude(password__startswith="!").exists()
