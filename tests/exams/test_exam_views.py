"""The exam's pages and JSON endpoints: the trainee's list, the exam page, autosave, leaves, submit,
result; the answer key never in a response before submission; staff pages, grants and voids."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from exams import attempts
from exams.models import AnswerEvent, Attempt, Grant
from lms.models import Role

from .test_attempts import complete_theory, key_displayed, ready  # noqa: F401 (fixture)


def post_json(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


@pytest.fixture
def trainee_client(ready, exam_trainee):
    client = Client()
    client.force_login(exam_trainee)
    return client


def start(client, blueprint) -> Attempt:
    resp = client.post(reverse("exams:start", args=[blueprint.pk]))
    assert resp.status_code == 302
    attempt = Attempt.objects.get(status=Attempt.Status.OPEN)
    assert resp["Location"] == reverse("exams:attempt", args=[attempt.pk])
    return attempt


def test_the_exam_list_offers_the_exam_and_says_why_not(ready, trainee_client, make_person, regions, base):
    body = trainee_client.get(reverse("exams:list")).content.decode()
    assert ready.blueprint.name in body and reverse("exams:start", args=[ready.blueprint.pk]) in body
    # a classmate without the theory done sees the exam and why it is not open to them
    from courses import api as courses_api
    from courses.models import Enrolment

    other = make_person(regions["xihu"], roles=(Role.TRAINEE,), username="tongxue")
    courses_api.enrol(None, other, ready.programme.classes.first(), source=Enrolment.Source.ADMIN)
    client = Client()
    client.force_login(other)
    body = client.get(reverse("exams:list"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "finished the theory" in body or "理论" in body
    assert reverse("exams:start", args=[ready.blueprint.pk]) not in body
    resp = client.post(reverse("exams:start", args=[ready.blueprint.pk]))
    assert resp.status_code == 302 and resp["Location"] == reverse("exams:list")
    assert not Attempt.objects.filter(user=other).exists()


def test_anonymous_visitors_are_sent_to_log_in(ready):
    client = Client()
    for url in (reverse("exams:list"), reverse("exams:attempt", args=[1]), reverse("exams:staff_attempts")):
        resp = client.get(url)
        assert resp.status_code == 302 and resp["Location"].startswith("/login/")


def test_taking_the_exam_through_the_pages(ready, trainee_client, exam_trainee):
    attempt = start(trainee_client, ready.blueprint)
    page = trainee_client.get(reverse("exams:attempt", args=[attempt.pk]))
    body = page.content.decode()
    assert page.status_code == 200 and body.count('class="card question"') == 16
    assert 'data-remaining-s="' in body and "exams/exam.js" in body
    url = reverse("exams:answer", args=[attempt.pk])
    for item in attempt.items.select_related("version"):
        resp = post_json(trainee_client, url,
                         {"position": item.position, "choice": key_displayed(item), "seq": item.position})
        assert resp.status_code == 200, resp.content
        data = resp.json()
        assert data["counts"] is True and 0 < data["remaining_s"] <= ready.blueprint.time_limit_s
    # a refresh: the same attempt, every answer checked
    again = trainee_client.post(reverse("exams:start", args=[ready.blueprint.pk]))
    assert again["Location"] == reverse("exams:attempt", args=[attempt.pk])
    body = trainee_client.get(reverse("exams:attempt", args=[attempt.pk])).content.decode()
    assert body.count(" checked>") == sum(len(key_displayed(i)) for i in attempt.items.select_related("version"))
    state = trainee_client.get(reverse("exams:state", args=[attempt.pk])).json()
    assert state["answered"] == 16
    resp = trainee_client.post(reverse("exams:submit", args=[attempt.pk]))
    assert resp.status_code == 302 and resp["Location"] == reverse("exams:result", args=[attempt.pk])
    result = trainee_client.get(resp["Location"]).content.decode()
    assert "100%" in result
    # submitting again changes nothing; the exam page now leads to the result
    trainee_client.post(reverse("exams:submit", args=[attempt.pk]))
    attempt.refresh_from_db()
    assert attempt.passed is True and attempt.score_points == 16
    assert trainee_client.get(reverse("exams:attempt", args=[attempt.pk]))["Location"] == \
        reverse("exams:result", args=[attempt.pk])
    closed = post_json(trainee_client, url, {"position": 1, "choice": [0], "seq": 99})
    assert closed.status_code == 409 and closed.json()["result_url"] == reverse("exams:result", args=[attempt.pk])


def test_bad_requests_store_nothing(ready, trainee_client):
    attempt = start(trainee_client, ready.blueprint)
    url = reverse("exams:answer", args=[attempt.pk])
    assert trainee_client.post(url, "not json", content_type="application/json").status_code == 400
    assert post_json(trainee_client, url, {"position": 1, "choice": [0, 1, 2, 3, 4, 5, 6]}).status_code == 400
    assert post_json(trainee_client, url, {"position": 1, "choice": "A"}).status_code == 400
    assert trainee_client.get(url).status_code == 405
    assert post_json(trainee_client, reverse("exams:leave", args=[attempt.pk]), {"returned": "no"}).status_code == 400
    assert not AnswerEvent.objects.exists()


def test_another_persons_attempt_is_not_found(ready, trainee_client, make_person, regions):
    attempt = start(trainee_client, ready.blueprint)
    other = make_person(regions["xihu"], roles=(Role.TRAINEE,), username="pangren")
    client = Client()
    client.force_login(other)
    for name in ("attempt", "state", "result"):
        assert client.get(reverse(f"exams:{name}", args=[attempt.pk])).status_code == 404
    resp = post_json(client, reverse("exams:answer", args=[attempt.pk]), {"position": 1, "choice": [0]})
    assert resp.status_code == 404
    assert client.post(reverse("exams:submit", args=[attempt.pk])).status_code == 404
    assert Attempt.objects.get(pk=attempt.pk).status == Attempt.Status.OPEN


def test_leaves_through_the_endpoint(ready, trainee_client):
    bp = ready.blueprint
    bp.leave_limit = 0
    bp.save()
    attempt = start(trainee_client, bp)
    body = trainee_client.get(reverse("exams:attempt", args=[attempt.pk])).content.decode()
    assert "0" in body
    resp = post_json(trainee_client, reverse("exams:leave", args=[attempt.pk]), {"returned": False})
    assert resp.status_code == 200 and resp.json()["status"] == Attempt.Status.SUBMITTED
    attempt.refresh_from_db()
    assert attempt.submitted_by == Attempt.SubmittedBy.LEAVE_LIMIT and attempt.leaves.count() == 1


def _key_strings(attempt) -> list[str]:
    """What would give the key away: every explanation of the paper."""
    return [i.version.explanation for i in attempt.items.select_related("version")]


@pytest.mark.parametrize("show_explanations", [True, False])
def test_no_answer_key_in_any_response_before_submission(ready, trainee_client, exam_trainee, show_explanations):
    bp = ready.blueprint
    bp.show_explanations = show_explanations
    bp.save()
    responses = [trainee_client.get(reverse("exams:list"))]
    resp = trainee_client.post(reverse("exams:start", args=[bp.pk]))
    responses.append(resp)
    attempt = Attempt.objects.get(user=exam_trainee)
    responses.append(trainee_client.get(resp["Location"]))
    for item in attempt.items.select_related("version"):
        responses.append(post_json(trainee_client, reverse("exams:answer", args=[attempt.pk]),
                                   {"position": item.position, "choice": [0], "seq": item.position}))
    responses.append(trainee_client.get(reverse("exams:state", args=[attempt.pk])))
    responses.append(post_json(trainee_client, reverse("exams:leave", args=[attempt.pk]), {"returned": False}))
    responses.append(post_json(trainee_client, reverse("exams:leave", args=[attempt.pk]), {"returned": True}))
    responses.append(trainee_client.get(reverse("exams:result", args=[attempt.pk])))  # open: back to the exam
    responses.append(trainee_client.get(reverse("exams:list")))
    explanations = _key_strings(attempt)
    for resp in responses:
        assert resp.status_code in (200, 302)
        body = resp.content.decode()
        for text in explanations:
            assert text not in body
        assert not re.search(r'"(correct|explanation|option_order|key)"', body)
        assert "data-correct" not in body and 'class="correct' not in body
    # the page shows each question's options in the attempt's order, nothing else of them
    page = responses[2].content.decode()
    for item in attempt.items.select_related("version"):
        texts = [item.version.options[i] for i in item.option_order]
        if item.version.kind != "true_false":
            positions = [page.index(f"<span>{t}</span>") for t in texts]
            assert positions == sorted(positions)
    trainee_client.post(reverse("exams:submit", args=[attempt.pk]))
    result = trainee_client.get(reverse("exams:result", args=[attempt.pk])).content.decode()
    assert all((text in result) is show_explanations for text in explanations)


# ---------------------------------------------------------------- staff


@pytest.fixture
def taken(ready, exam_trainee):
    attempt = attempts.start_or_resume(exam_trainee, ready.blueprint)
    attempts.record_leave(exam_trainee, attempt)
    attempts.record_leave(exam_trainee, attempt, returned=True)
    return attempt


def test_staff_see_attempts_in_their_region_with_leaves(taken, city_admin, make_person, regions, exam_trainee):
    client = Client()
    client.force_login(city_admin)
    listing = client.get(reverse("exams:staff_attempts")).content.decode()
    assert exam_trainee.real_name in listing
    url = reverse("exams:staff_attempts")
    assert exam_trainee.real_name in client.get(f"{url}?blueprint={taken.blueprint_id}").content.decode()
    assert exam_trainee.real_name not in client.get(f"{url}?blueprint={taken.blueprint_id + 1}").content.decode()
    assert exam_trainee.real_name not in client.get(f"{url}?q=nobody").content.decode()
    assert reverse("exams:staff_attempts") in client.get(reverse("lms:dashboard")).content.decode()
    detail = client.get(reverse("exams:staff_attempt", args=[taken.pk]))
    left_at = timezone.localtime(taken.leaves.first().left_at).strftime("%Y-%m-%d %H:%M:%S")
    assert detail.status_code == 200 and left_at in detail.content.decode()
    nb_admin = make_person(regions["nb"], roles=(), admin_of=regions["nb"], username="nb-admin")
    client.force_login(nb_admin)
    assert exam_trainee.real_name not in client.get(reverse("exams:staff_attempts")).content.decode()
    assert client.get(reverse("exams:staff_attempt", args=[taken.pk])).status_code == 404
    assert client.post(reverse("exams:staff_void", args=[taken.pk]), {"reason": "x"}).status_code == 404
    client.force_login(exam_trainee)
    assert client.get(reverse("exams:staff_attempts")).status_code == 403


def test_staff_grant_and_void_forms(taken, city_admin):
    client = Client()
    client.force_login(city_admin)
    url = reverse("exams:staff_attempt", args=[taken.pk])
    resp = client.post(reverse("exams:staff_grant", args=[taken.pk]),
                       {"kind": Grant.Kind.EXTRA_TIME, "extra_minutes": "10", "reason": "低视力"})
    assert resp.status_code == 302 and resp["Location"] == url
    deadline = taken.deadline_at
    taken.refresh_from_db()
    assert (taken.deadline_at - deadline).total_seconds() == 600
    client.post(reverse("exams:staff_grant", args=[taken.pk]), {"kind": Grant.Kind.EXTRA_ATTEMPT, "reason": ""})
    assert Grant.objects.count() == 1  # no reason: nothing granted
    client.post(reverse("exams:staff_void", args=[taken.pk]), {"reason": ""})
    assert Attempt.objects.get(pk=taken.pk).status == Attempt.Status.OPEN
    client.post(reverse("exams:staff_void", args=[taken.pk]), {"reason": "替考"})
    assert Attempt.objects.get(pk=taken.pk).status == Attempt.Status.VOIDED
    assert "替考" in client.get(url).content.decode()


def test_the_study_home_and_the_dashboard_link_to_the_exam(ready, trainee_client):
    for url in (reverse("courses:home"), reverse("lms:dashboard")):
        assert reverse("exams:list") in trainee_client.get(url).content.decode()
