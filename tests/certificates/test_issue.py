"""Eligibility and issue (certificates/issuing.py): theory and practical passed within the window, the
allowlist with its reason, one certificate per exam, who may issue, a class in one action, and the
automatic issue on a signed practical result."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from certificates import api
from certificates.models import Certificate, IssueJob
from certificates.numbering import NumberFormat, damm_valid
from exams.models import Attempt
from lms.models import AuditLog, Role
from tests.certificates.support import certified, sit, site, today_session  # noqa: F401

pytestmark = pytest.mark.django_db


def test_a_trainee_who_passed_both_exams_is_issued_a_certificate_with_every_printed_field(certified):
    site = certified.site
    person = certified.passed[0]
    check = api.eligibility(person, site.programme)
    assert check.eligible and check.reasons == [] and check.theory and check.practical
    cert = api.issue(site.admin, person, site.programme)
    assert damm_valid(cert.number) and len(cert.number) == NumberFormat.parse(certified.rule.number_format).length
    assert cert.number.startswith("330000" + str(timezone.localdate().year))  # the nearest division code
    assert cert.holder_name == person.real_name and cert.id_card_masked == person.id_card_masked
    assert cert.title == "救护员证" and cert.programme_name == site.programme.name
    assert cert.issuer == site.cls.training_base and cert.issuer_name == "西湖区培训基地"
    assert cert.instructor_names == "王老师" and cert.examiner_name == "李考官"
    assert cert.issued_on == timezone.localdate()
    assert cert.expires_on == api.expiry_for(cert.issued_on, 3)
    assert cert.status() == Certificate.Status.VALID
    assert AuditLog.objects.filter(action="certificates.issue", object_id=str(cert.pk)).exists()
    with pytest.raises(ValidationError, match=cert.number):  # "already issued: <number>"
        api.issue(site.admin, person, site.programme)
    assert Certificate.objects.filter(holder=person).count() == 1


def test_expiry_is_the_day_before_the_anniversary_and_29_february_rolls_to_28():
    assert api.expiry_for(datetime.date(2026, 12, 7), 3) == datetime.date(2029, 12, 6)
    assert api.expiry_for(datetime.date(2028, 2, 29), 3) == datetime.date(2031, 2, 28)


def test_the_reasons_a_trainee_is_not_eligible_are_given_and_nothing_is_stored(certified):
    site = certified.site
    failed = api.eligibility(certified.failed, site.programme)
    assert not failed.eligible and len(failed.reasons) == 1  # the practical exam only
    with pytest.raises(ValidationError):
        api.issue(site.admin, certified.failed, site.programme)
    Attempt.objects.filter(user=certified.not_sat).update(passed=False)
    reasons = api.eligibility(certified.not_sat, site.programme).reasons
    assert len(reasons) == 2  # neither exam
    assert not Certificate.objects.exists()


def test_the_window_between_theory_and_practical_is_enforced(certified):
    site = certified.site
    person = certified.passed[0]
    certified.rule.window_days = 1
    certified.rule.save()
    check = api.eligibility(person, site.programme)  # theory three days before the practical
    assert not check.eligible and "1" in check.reasons[0]
    later = timezone.localdate() + datetime.timedelta(days=400)
    certified.rule.window_days = 180
    certified.rule.save()
    assert not api.eligibility(person, site.programme, today=later).eligible  # issue within 365 days


def test_an_exception_on_the_allowlist_waives_a_rule_with_its_recorded_reason(certified):
    site = certified.site
    person = certified.failed
    with pytest.raises(ValidationError):
        api.grant_exception(site.admin, person, site.programme, waives=["practical"], reason="")
    exception = api.grant_exception(site.admin, person, site.programme, waives=["practical"],
                                    reason="实操考试因考点停电改为纸质记录，复核合格")
    cert = api.issue(site.admin, person, site.programme)
    assert cert.exception == exception and cert.practical_result is None  # no passed sitting to link
    assert AuditLog.objects.filter(action="certificates.exception.grant").exists()


def test_only_admins_of_the_issuing_region_may_issue(certified, make_person, regions):
    site = certified.site
    other = make_person(regions["beilun"], roles=(), admin_of=regions["beilun"])
    with pytest.raises(PermissionDenied):
        api.issue(other, certified.passed[0], site.programme)
    with pytest.raises(PermissionDenied):
        api.issue(site.examiner, certified.passed[0], site.programme)
    city = make_person(regions["hz"], roles=(), admin_of=regions["hz"])
    assert api.issue(city, certified.passed[0], site.programme).issued_by == city
    assert not Certificate.objects.filter(holder=certified.passed[1]).exists()


def test_a_class_is_issued_in_one_action_with_each_trainees_outcome(certified, django_capture_on_commit_callbacks):
    site = certified.site
    with django_capture_on_commit_callbacks(execute=False):
        job = api.start_class_issue(site.admin, site.cls)
        again = api.start_class_issue(site.admin, site.cls)
    assert again == job and job.status == IssueJob.Status.QUEUED and job.total == 3
    job = api.run_issue_job(job.pk)
    assert job.status == IssueJob.Status.DONE and job.done == 3 and job.issued == 2
    outcomes = {row["name"]: row for row in job.rows}
    assert outcomes["孙考生"]["outcome"] == "not_eligible" and outcomes["孙考生"]["reasons"]
    assert {outcomes["张考生"]["outcome"], outcomes["郑考生"]["outcome"]} == {"issued"}
    numbers = set(Certificate.objects.values_list("number", flat=True))
    assert numbers == {outcomes["张考生"]["number"], outcomes["郑考生"]["number"]}
    with django_capture_on_commit_callbacks(execute=False):
        second = api.start_class_issue(site.admin, site.cls)
    second = api.run_issue_job(second.pk)
    assert second.issued == 0 and {r["outcome"] for r in second.rows} == {"already", "not_eligible"}
    with pytest.raises(PermissionDenied):
        api.start_class_issue(site.examiner, site.cls)


def test_a_signed_passed_result_issues_the_certificate_itself_where_the_rule_says_so(
        site, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    from certificates.models import CertificateRule

    CertificateRule.objects.create(programme=site.programme, auto_issue=True)
    session = today_session(site)
    with django_capture_on_commit_callbacks(execute=True):
        result = sit(site, session, site.candidate)
        sit(site, session, site.candidate2, passing=False)
    queued = [t.args_kwargs["args"] for t in DBTaskResult.objects.filter(task_path__endswith="auto_issue_task")]
    assert queued == [[result.pk]]  # only the passed one
    cert = api.auto_issue(result.pk)
    assert cert.source == Certificate.Source.AUTO and cert.holder == site.candidate and cert.issued_by is None
    assert api.auto_issue(result.pk) is None  # once
