"""The certificates' staff pages and the holder's page (certificates/views_staff.py): a class issued from its
page with a progress bar and an outcome table, the job's JSON, region scoping, revocation with an explicit
confirmation, a name corrected, an exception granted from the roster, and the holder's own certificates."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from certificates import api
from certificates.models import Certificate, EligibilityException, IssueJob
from tests.certificates.support import certified, site  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """The assertions read the English messages (pages are asked for in English too)."""
    from django.utils import translation

    with translation.override("en"):
        yield


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client


def test_a_class_is_issued_from_its_page_and_its_certificates_are_managed_in_scope(
        certified, make_person, regions, django_capture_on_commit_callbacks):
    site = certified.site
    admin = client_for(site.admin)
    page_url = reverse("certificates:class_issue", args=[site.cls.pk])
    # The class page links to it.
    assert page_url in admin.get(reverse("classes:detail", args=[site.cls.pk])).content.decode()

    # The roster with each trainee's eligibility and the reasons of those who are not.
    html = admin.get(page_url).content.decode()
    assert "张考生" in html and "郑考生" in html and "孙考生" in html
    assert "The practical exam has not been passed." in html  # 孙考生 failed a critical item
    assert "<progress" not in html and f'action="{page_url}"' in html
    assert reverse("certificates:exception_new") + f"?person={certified.failed.pk}" in html

    # Outside the scope: 404 for another region's admin, 403 for a trainee.
    beilun = make_person(regions["beilun"], roles=(), admin_of=regions["beilun"], username="bl-admin")
    other = client_for(beilun)
    assert other.get(page_url).status_code == 404
    assert other.post(page_url).status_code == 404
    assert client_for(certified.passed[0]).get(page_url).status_code == 403

    # Issue: POST starts the job and comes back to the page, which shows the progress bar polling the job.
    with django_capture_on_commit_callbacks(execute=False):
        response = admin.post(page_url)
    assert response.status_code == 302 and response["Location"] == page_url
    job = IssueJob.objects.get(training_class=site.cls)
    status_url = reverse("certificates:job_status", args=[job.pk])
    html = admin.get(page_url).content.decode()
    assert "<progress" in html and f'data-url="{status_url}"' in html and "certificates/issue_progress.js" in html
    state = admin.get(status_url).json()
    assert state == {"id": job.pk, "status": "queued", "status_label": state["status_label"], "done": 0, "total": 3,
                     "issued": 0, "finished": False}
    assert other.get(status_url).status_code == 404
    with django_capture_on_commit_callbacks(execute=False):
        assert admin.post(page_url).status_code == 302  # a second click while it runs starts nothing
    assert IssueJob.objects.filter(training_class=site.cls).count() == 1

    # The background task runs (db_worker on a server); the JSON and then the page show the outcome.
    api.run_issue_job(job.pk)
    state = admin.get(status_url).json()
    assert state["status"] == "done" and state["finished"] and (state["done"], state["issued"]) == (3, 2)
    assert {row["outcome"] for row in state["rows"]} == {"issued", "not_eligible"}
    numbers = {c.holder_id: c.number for c in Certificate.objects.all()}
    html = admin.get(page_url).content.decode()
    assert "<progress" not in html and "outcome-table" in html
    for person in certified.passed:
        assert numbers[person.pk] in html
    assert "The practical exam has not been passed." in html

    # The list: search by number and by class, filter by status; another region sees none of them.
    first = Certificate.objects.get(holder=certified.passed[0])
    second = Certificate.objects.get(holder=certified.passed[1])
    listing = admin.get(reverse("certificates:list"), {"q": first.number}).content.decode()
    assert first.number in listing and second.number not in listing
    listing = admin.get(reverse("certificates:list"), {"q": "救护员一班", "status": "valid"}).content.decode()
    assert first.number in listing and second.number in listing
    assert first.number not in admin.get(reverse("certificates:list"), {"status": "revoked"}).content.decode()
    assert first.number not in other.get(reverse("certificates:list")).content.decode()

    # One certificate: every printed field; another region's admin gets 404.
    detail_url = reverse("certificates:detail", args=[first.pk])
    html = admin.get(detail_url).content.decode()
    for value in (first.number, first.holder_name, first.id_card_masked, first.issuer_name, "王老师", "李考官",
                  f"{first.expires_on:%Y-%m-%d}"):
        assert value in html, value
    assert other.get(detail_url).status_code == 404

    # Revocation needs the reason and the explicit confirmation; then it shows at once.
    revoke_url = reverse("certificates:revoke", args=[first.pk])
    response = admin.post(revoke_url, {"reason": "冒名顶替参加考试"})
    assert response.status_code == 200 and "Confirm the revocation." in response.content.decode()
    assert other.post(revoke_url, {"reason": "冒名顶替参加考试", "confirm": "on"}).status_code == 404
    assert Certificate.objects.get(pk=first.pk).revoked_at is None
    response = admin.post(revoke_url, {"reason": "冒名顶替参加考试", "confirm": "on"})
    assert response.status_code == 302 and response["Location"] == detail_url
    assert Certificate.objects.get(pk=first.pk).status() == Certificate.Status.REVOKED
    html = admin.get(detail_url).content.decode()
    assert "冒名顶替参加考试" in html and 'action="' + revoke_url not in html
    assert first.number in admin.get(reverse("certificates:list"), {"status": "revoked"}).content.decode()

    # A name corrected from the page: same number, revision 2, the old name in the history.
    name_url = reverse("certificates:correct_name", args=[second.pk])
    refused = admin.post(name_url, {"new_name": "郑考生1", "reason": "错字"}).content.decode()
    assert "errorlist" in refused and Certificate.objects.get(pk=second.pk).revision == 1
    assert admin.post(name_url, {"new_name": "郑烤生", "reason": "身份证核对更正"}).status_code == 302
    second.refresh_from_db()
    assert second.revision == 2 and second.holder_name == "郑烤生"
    html = admin.get(reverse("certificates:detail", args=[second.pk])).content.decode()
    assert "郑考生" in html and "身份证核对更正" in html

    # An exception from the roster's link: prefilled, the reason required, then on the allowlist.
    exception_url = reverse("certificates:exception_new")
    query = {"person": certified.failed.pk, "programme": site.programme.pk, "class": site.cls.pk}
    html = admin.get(exception_url, query).content.decode()
    assert f'value="{certified.failed.username}"' in html and "孙考生" in html
    data = {"person": certified.failed.username, "programme": site.programme.pk, "waives": ["practical"],
            "class": site.cls.pk}
    assert "errorlist" in admin.post(exception_url, data).content.decode()  # no reason
    refused = other.post(exception_url, {**data, "reason": "考点停电，纸质记录合格"}).content.decode()
    assert "No person with this login name in your region." in refused
    assert not EligibilityException.objects.exists()
    response = admin.post(exception_url, {**data, "reason": "考点停电，纸质记录合格"})
    assert response.status_code == 302 and response["Location"] == page_url
    assert EligibilityException.objects.get(person=certified.failed).waives == ["practical"]
    assert client_for(certified.passed[0]).get(exception_url).status_code == 403

    # The holder sees their own certificates only; the staff pages are not for them.
    holder = client_for(certified.passed[1])
    mine = holder.get(reverse("certificates:mine")).content.decode()
    assert second.number in mine and first.number not in mine and "郑烤生" in mine
    assert holder.get(reverse("certificates:detail", args=[second.pk])).status_code == 403
    assert re.search(r"My certificates", holder.get(reverse("lms:dashboard")).content.decode())
