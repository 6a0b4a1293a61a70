"""End to end against the product as deployed (lms.liveserver: nginx, granian, Redis; the demo data):
a trainee answers half the exam, the server is killed and started again, and the same attempt
resumes with every answer and the same deadline; the trainee finishes and is graded."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import requests

from lms.demo import DEMO_PASSWORD
from lms.liveserver import ROOT, LiveDatabase, LiveServer

pytestmark = pytest.mark.slow

# The demo trainee 张伟 has the theory of the demo class done (as exams.demo_attempts does for its trainees).
PREPARE = """
from content.course.load import DEMO_CLASS_CODE
from courses.models import Programme, TrainingClass
from exams.demo_attempts import complete_theory
from lms.models import User
complete_theory(User.objects.get(username="trainee"), Programme.objects.get(code="first-aider"),
                TrainingClass.objects.get(code=DEMO_CLASS_CODE))
"""


@pytest.fixture(scope="module")
def exam_server(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("exam-e2e")
    with LiveDatabase(var_dir) as db:
        db.prepare()
        env = db.env()
        subprocess.run([sys.executable, "manage.py", "shell", "-c", PREPARE], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        server = LiveServer(var_dir, env).start()
        try:
            yield server
        finally:
            server.stop()


def log_in(base: str, username: str) -> requests.Session:
    s = requests.Session()
    s.get(base + "/login/", timeout=10)
    resp = s.post(base + "/login/", data={"username": username, "password": DEMO_PASSWORD,
                                          "csrfmiddlewaretoken": s.cookies["csrftoken"]},
                  headers={"Referer": base + "/login/"}, timeout=10)
    assert resp.status_code == 200 and "sessionid" in s.cookies
    return s


def post_form(s: requests.Session, url: str, data: dict | None = None) -> requests.Response:
    return s.post(url, data={"csrfmiddlewaretoken": s.cookies["csrftoken"], **(data or {})},
                  headers={"Referer": url}, allow_redirects=False, timeout=10)


def post_json(s: requests.Session, url: str, data: dict) -> requests.Response:
    return s.post(url, json=data, headers={"X-CSRFToken": s.cookies["csrftoken"], "Referer": url}, timeout=10)


def questions(html: str) -> list[tuple[int, str, int]]:
    """(position, kind, number of options) of each question card of the exam page."""
    out = []
    for m in re.finditer(r'<fieldset class="card question" data-position="(\d+)" data-kind="(\w+)"(.*?)</fieldset>',
                         html, re.S):
        out.append((int(m.group(1)), m.group(2), m.group(3).count('class="option"')))
    return out


def checked(html: str) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for m in re.finditer(r'name="q(\d+)" value="(\d+)" checked', html):
        out.setdefault(int(m.group(1)), []).append(int(m.group(2)))
    return out


def start(s: requests.Session, base: str) -> tuple[int, str]:
    listing = s.get(base + "/exams/", timeout=10).text
    action = re.search(r'action="(/exams/\d+/start/)"', listing)
    assert action, listing[-2000:]
    resp = post_form(s, base + action.group(1))
    assert resp.status_code == 302 and "/exams/attempts/" in resp.headers["Location"], resp.text[-500:]
    attempt_id = int(re.search(r"/exams/attempts/(\d+)/", resp.headers["Location"]).group(1))
    page = s.get(base + f"/exams/attempts/{attempt_id}/", timeout=10)
    assert page.status_code == 200
    return attempt_id, page.text


def test_a_server_restart_resumes_the_same_attempt_with_every_answer(exam_server):
    base = exam_server.url
    s = log_in(base, "trainee")
    attempt_id, html = start(s, base)
    qs = questions(html)
    assert len(qs) == 50
    answers: dict[int, list[int]] = {}
    for n, (position, kind, n_options) in enumerate(qs[:25]):
        choice = [0, n_options - 1] if kind == "multiple" else [n % n_options]
        resp = post_json(s, base + f"/exams/attempts/{attempt_id}/answer/",
                         {"position": position, "choice": choice, "seq": n + 1})
        assert resp.status_code == 200, resp.text
        answers[position] = sorted(choice)
    before = post_json(s, base + f"/exams/attempts/{attempt_id}/leave/", {"returned": False}).json()
    assert before["leave_count"] == 1

    exam_server.restart()  # SIGKILL of every process, then the same ports and database

    s2 = log_in(base, "trainee")  # the trainee comes back (another browser, or the same)
    again_id, html2 = start(s2, base)
    assert again_id == attempt_id
    assert checked(html2) == answers
    state = s2.get(base + f"/exams/attempts/{attempt_id}/state/", timeout=10).json()
    assert state["status"] == "open" and state["answered"] == 25 and state["max_seq"] == 25
    assert 0 < state["remaining_s"] <= 45 * 60 and state["leave_count"] == 1
    assert {int(k): v for k, v in state["answers"].items()} == answers
    for n, (position, kind, n_options) in enumerate(qs[25:], start=25):
        resp = post_json(s2, base + f"/exams/attempts/{attempt_id}/answer/",
                         {"position": position, "choice": [0], "seq": 1000 + n})
        assert resp.status_code == 200, resp.text
    resp = post_form(s2, base + f"/exams/attempts/{attempt_id}/submit/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/exams/attempts/{attempt_id}/result/")
    result = s2.get(base + resp.headers["Location"], timeout=10).text
    assert re.search(r"\d+(\.\d+)?%", result)
    late = post_json(s2, base + f"/exams/attempts/{attempt_id}/answer/", {"position": 1, "choice": [0], "seq": 5000})
    assert late.status_code == 409
