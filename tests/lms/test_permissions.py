"""Region admins see and manage only their own subtree, through api functions and through views."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from lms import api
from lms.models import Organisation, Role


@pytest.fixture
def world(regions, make_person):
    return {
        **regions,
        "xihu_admin": make_person(regions["xihu"], roles=(), admin_of=regions["xihu"], username="xihu_admin"),
        "hz_admin": make_person(regions["hz"], roles=(), admin_of=regions["hz"], username="hz_admin"),
        "sys": make_person(regions["zj"], roles=(Role.SYSTEM_ADMIN,), username="sys"),
        "xihu_trainee": make_person(regions["xihu"], username="xihu_trainee"),
        "shangcheng_trainee": make_person(regions["shangcheng"], username="sc_trainee"),
        "beilun_trainee": make_person(regions["beilun"], username="bl_trainee"),
    }


def names(qs):
    return {u.username for u in qs}


def test_county_admin_sees_only_their_county(world):
    seen = names(api.find_people(world["xihu_admin"]))
    assert "xihu_trainee" in seen
    assert "sc_trainee" not in seen and "bl_trainee" not in seen


def test_city_admin_sees_the_counties_below(world):
    seen = names(api.find_people(world["hz_admin"]))
    assert {"xihu_trainee", "sc_trainee", "xihu_admin"} <= seen
    assert "bl_trainee" not in seen


def test_system_admin_sees_everyone(world):
    assert {"xihu_trainee", "sc_trainee", "bl_trainee"} <= names(api.find_people(world["sys"]))


def test_trainee_sees_only_themselves(world):
    assert names(api.find_people(world["xihu_trainee"])) == {"xihu_trainee"}


def test_get_person_outside_the_region_does_not_exist(world):
    from lms.models import User

    with pytest.raises(User.DoesNotExist):
        api.get_person(world["xihu_admin"], world["beilun_trainee"].pk)
    assert api.get_person(world["xihu_admin"], world["xihu_trainee"].pk) == world["xihu_trainee"]


def test_county_admin_cannot_register_people_elsewhere(world):
    with pytest.raises(PermissionDenied):
        api.create_person(world["xihu_admin"], username="x", real_name="某人", region=world["beilun"])
    person = api.create_person(world["xihu_admin"], username="x", real_name="某人", region=world["xihu"])
    assert person.region == world["xihu"]


def test_county_admin_cannot_grant_roles_elsewhere_or_system_admin(world):
    with pytest.raises(PermissionDenied):
        api.assign_role(world["xihu_admin"], world["beilun_trainee"], Role.INSTRUCTOR)
    with pytest.raises(PermissionDenied):
        api.assign_role(world["xihu_admin"], world["xihu_trainee"], Role.SYSTEM_ADMIN)
    with pytest.raises(PermissionDenied):
        api.assign_role(world["xihu_admin"], world["xihu_trainee"], Role.REGION_ADMIN, region=world["hz"])
    api.assign_role(world["xihu_admin"], world["xihu_trainee"], Role.INSTRUCTOR)
    assert world["xihu_trainee"].role_assignments.filter(role=Role.INSTRUCTOR).exists()


def test_organisations_are_scoped(world):
    api.create_organisation(None, name="西湖考点", kind=Organisation.Kind.EXAM_SITE, region=world["xihu"])
    api.create_organisation(None, name="北仑基地", kind=Organisation.Kind.TRAINING_BASE, region=world["beilun"])
    assert [o.name for o in api.visible_organisations(world["xihu_admin"])] == ["西湖考点"]
    with pytest.raises(PermissionDenied):
        api.create_organisation(world["xihu_admin"], name="越权", kind="school", region=world["beilun"])
    with pytest.raises(ValidationError):
        api.create_organisation(world["xihu_admin"], name="西湖考点", kind="exam_site", region=world["xihu"])
    assert Organisation.objects.count() == 2


def test_visible_regions(world):
    assert {r.name for r in api.visible_regions(world["xihu_admin"])} == {"西湖区"}
    assert {r.name for r in api.visible_regions(world["hz_admin"])} == {"杭州市", "西湖区", "上城区"}
    assert not api.visible_regions(world["xihu_trainee"]).exists()


# ------------------------------------------------------------------ through the views


def test_people_page_lists_only_the_admins_region(world, client):
    client.force_login(world["xihu_admin"])
    html = client.get("/people/").content.decode()
    assert "xihu_trainee" not in html  # usernames are not listed, real names are
    assert world["xihu_trainee"].real_name in html
    assert world["beilun_trainee"].real_name not in html
    assert world["shangcheng_trainee"].real_name not in html


def test_person_page_of_another_county_is_404(world, client):
    client.force_login(world["xihu_admin"])
    assert client.get(f"/people/{world['beilun_trainee'].pk}/").status_code == 404
    assert client.get(f"/people/{world['xihu_trainee'].pk}/").status_code == 200


def test_people_page_is_refused_to_trainees_and_anonymous(world, client):
    assert client.get("/people/").status_code == 302  # to the login page
    client.force_login(world["xihu_trainee"])
    assert client.get("/people/").status_code == 403


def test_search_by_id_card_does_not_cross_regions(world, client, make_person):
    other = make_person(world["beilun"], id_card="11010519491231002X")
    client.force_login(world["xihu_admin"])
    html = client.get("/people/", {"id_card": "11010519491231002X"}).content.decode()
    assert other.real_name not in html


def test_region_import_is_for_admins_and_a_bad_file_changes_nothing(world, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from lms.models import Region, RegionPopulation

    before = (Region.objects.count(), RegionPopulation.objects.count())
    client.force_login(world["hz_admin"])  # a region admin may import population figures of their subtree
    resp = client.post("/regions/", {"file": SimpleUploadedFile("r.xlsx", b"x")})
    assert resp.status_code == 200 and "Excel" in resp.content.decode()
    assert (Region.objects.count(), RegionPopulation.objects.count()) == before
    client.force_login(world["xihu_trainee"])
    assert client.post("/regions/", {"file": SimpleUploadedFile("r.xlsx", b"x")}).status_code == 403


def test_organisation_form_cannot_target_another_region(world, client):
    client.force_login(world["xihu_admin"])
    resp = client.post("/organisations/", {"name": "越权基地", "kind": "training_base",
                                           "region": world["beilun"].pk})
    assert resp.status_code == 200  # the form is shown again with an error
    assert not Organisation.objects.filter(name="越权基地").exists()


def test_a_system_admin_appointed_through_the_api_can_open_the_wagtail_admin(regions, make_person, client):
    from lms.models import RoleAssignment

    root = make_person(regions["zj"], roles=(), username="root_admin")
    root.is_superuser = True
    root.save()
    person = make_person(regions["xihu"], roles=(), username="new_sysadmin")
    client.force_login(person)
    assert client.get("/admin/").status_code == 302  # not yet: sent to Wagtail's login
    api.assign_role(root, person, Role.SYSTEM_ADMIN)
    assert client.get("/admin/").status_code == 200
    api.revoke_role(root, RoleAssignment.objects.get(user=person, role=Role.SYSTEM_ADMIN))
    person.refresh_from_db()
    assert not (person.is_staff or person.is_superuser)
    assert client.get("/admin/").status_code == 302
