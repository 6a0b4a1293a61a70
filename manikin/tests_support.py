"""Helpers for end-to-end runs against a real Daphne server in its own process (tests and benchmarks)."""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request

from lms.liveserver import ROOT


def manage_shell(env: dict, code: str) -> str:
    """Run Python in the server's Django (its database), return what it printed."""
    out = subprocess.run([sys.executable, "manage.py", "shell", "-v", "0", "-c", code], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return out.stdout


def start_recording(env: dict, station: str, address: str, examiner: str = "examiner", trainee: str = "trainee") -> int:
    return int(manage_shell(env, f"""
from lms.models import User
from manikin import api
from manikin.models import Manikin
m = Manikin.objects.get(station__name={station!r}, address={address!r})
rec = api.start_recording(User.objects.get(username={examiner!r}), m, trainee=User.objects.get(username={trainee!r}))
print(rec.pk)
""").strip().splitlines()[-1])


def stop_recording(env: dict, recording_id: int, examiner: str = "examiner") -> dict:
    out = manage_shell(env, f"""
import json
from lms.models import User
from manikin import api
from manikin.models import Frame, Recording
rec = api.stop_recording(User.objects.get(username={examiner!r}), Recording.objects.get(pk={recording_id}))
frames = Frame.objects.filter(recording=rec).order_by("seq")
seqs = list(frames.values_list("seq", flat=True))
offsets = sorted(set(frames.values_list("clock_offset_s", flat=True)))
print(json.dumps({{"result": rec.result, "sample_count": rec.sample_count, "seqs": seqs, "offsets": offsets}}))
""")
    return json.loads(out.strip().splitlines()[-1])


def login_cookies(base_url: str, username: str, password: str) -> str:
    """Log in through the real login form; return the Cookie header of the session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(base_url + "/login/").read()
    csrf = next(c.value for c in jar if c.name == "csrftoken")
    data = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": csrf}).encode()
    req = urllib.request.Request(base_url + "/login/", data=data, headers={"Referer": base_url + "/login/"})
    opener.open(req).read()
    if not any(c.name == "sessionid" for c in jar):
        raise RuntimeError(f"login as {username} failed")
    return "; ".join(f"{c.name}={c.value}" for c in jar)


async def wait_until(predicate, timeout_s: float = 30.0, what: str = "condition", interval_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(interval_s)
    raise AssertionError(f"timed out waiting for {what}")
