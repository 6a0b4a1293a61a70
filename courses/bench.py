"""Study benchmark: lesson-page views and heartbeats per second with 1,000 published lessons.

``python manage.py bench study`` builds a fresh database (migrations, the demo, then 1,000
published lesson pages made from the real course's lessons in 10 courses × 10 modules × 10
lessons, a programme over them and a class with ``TRAINEES`` enrolled trainees, each with a
signed-in session), starts the product as deployed (``lms.liveserver.LiveServer``: nginx →
granian, one worker per core) and loads it from another process (``lms.bench.loadgen``), one
figure at a time, on the same server:

- **yardstick**: ``/healthz``, the trivial view (no session, no database);
- **lesson views**: each connection a different signed-in trainee, GET of the lesson pages in
  turn (every request a different lesson of the 1,000);
- **heartbeats over HTTP**: each connection a different trainee, POST ``/study/heartbeat/`` (a
  database write per request: the person's study clock and the lesson's time on task, under a
  row lock);
- **heartbeats over the study socket** (``/ws/study/``, what lesson pages use): ``SOCKET_CONNECTIONS``
  lesson pages of ``SOCKET_TRAINEES`` trainees (two tabs each), each connection sending a beat and
  waiting for its answer, at most ``SOCKET_RATE`` beats a second (under the socket's per-connection
  limit; an honest page beats every 15 s, so each connection stands in for about 13 pages). The
  answer leaves after the beat's commit, so every answered beat is stored.

Each figure is printed with its ratio to the yardstick; the target for both is at least 0.5.
Lesson pages are the same for every visitor and served whole from the cache
(``content.pagecache``); the lesson figure is measured again on servers started with
``LMS_CONTENT_PAGE_CACHE=0`` (the page rendered per request around its cached shared part) and
``LMS_CONTENT_CACHE_S=0`` (nothing cached): the alternatives the caching was chosen against.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from lms.bench.figures import figure

BENCHMARKS = {"study": "courses.bench:run"}

ROOT = Path(__file__).resolve().parents[1]
LESSONS = 1000
TRAINEES = 32  # HTTP keep-alive connections, one signed-in trainee each
SOCKET_TRAINEES = 750
SOCKET_CONNECTIONS = 1500
SOCKET_RATE = 0.9  # beats a second per connection (courses.consumers allows 1 on average)
TARGET_RATIO = 0.5  # the study issue: lesson views and heartbeats each at least half the yardstick


def seed(lessons: int = LESSONS, trainees: int = SOCKET_TRAINEES) -> dict:
    """Make ``lessons`` published lesson pages and ``trainees`` signed-in, enrolled trainees.

    Runs inside a configured Django process (the benchmark calls it in a subprocess on the
    benchmark's database). Returns the lesson paths and each trainee's cookie and CSRF token.
    """
    import datetime

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from content.models import CourseIndexPage, CoursePage, LessonPage, ModulePage
    from courses.models import Enrolment, Programme, ProgrammeModule, TrainingClass
    from lms import api as lms_api
    from lms.models import Organisation, PrivacyConsent, Region, Role
    from lms.signin import SEEN_AT, SIGNED_IN_AT

    index = CourseIndexPage.objects.live().first()
    models = list(LessonPage.objects.live().order_by("path")[:50])
    if index is None or not models:
        raise RuntimeError("the demo course is missing: load_demo must run first")
    per_course = max(1, lessons // 100)
    programme = Programme.objects.create(code=f"bench-{secrets.token_hex(3)}", name="压测课程", kind="awareness",
                                         mode="menu", required_credits=1)
    n = 0
    for c in range(10):
        course = index.add_child(instance=CoursePage(title=f"压测课程{c + 1}", slug=f"bench-course-{c + 1}",
                                                     summary="压测用课程"))
        for m in range(10):
            module = course.add_child(instance=ModulePage(title=f"压测模块{c + 1}-{m + 1}",
                                                          slug=f"bench-module-{m + 1}", summary="压测用模块"))
            ProgrammeModule.objects.create(programme=programme, module_page=module, order=c * 10 + m,
                                           required=False, credits=1, class_hours=1)
            for k in range(per_course):
                model = models[n % len(models)]
                module.add_child(instance=LessonPage(title=f"{model.title}（{n + 1}）", slug=f"bench-lesson-{k + 1}",
                                                     summary=model.summary, estimated_minutes=model.estimated_minutes,
                                                     body=model.body.raw_data))
                n += 1
    # add_child saves the pages live; a revision makes them look as editors' pages do.
    for page in LessonPage.objects.filter(slug__startswith="bench-lesson-"):
        page.save_revision().publish()
    base = Organisation.objects.filter(kind=Organisation.Kind.TRAINING_BASE).first()
    today = timezone.localdate()
    klass = TrainingClass.objects.create(programme=programme, name="压测班", training_base=base, starts_on=today,
                                         ends_on=today + datetime.timedelta(days=30), capacity=trainees + 10)
    region = Region.objects.filter(level="county").first()
    people = []
    for i in range(trainees):
        user = lms_api.create_person(None, username=f"bench_trainee_{i}", real_name=f"压测学员{i}", region=region,
                                     roles=(Role.TRAINEE,))  # no password: signed in by the session below
        PrivacyConsent.objects.create(user=user, version=settings.PRIVACY_NOTICE_VERSION, sensitive=True)
        Enrolment.objects.create(user=user, training_class=klass, source=Enrolment.Source.ADMIN)
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        now = int(timezone.now().timestamp())
        session[SIGNED_IN_AT] = now
        session[SEEN_AT] = now
        session.create()
        csrf = secrets.token_hex(16)
        people.append({"cookie": f"sessionid={session.session_key}; csrftoken={csrf}", "csrf": csrf})
    paths = [p.url_path for p in LessonPage.objects.filter(slug__startswith="bench-lesson-").order_by("path")]
    ids = list(LessonPage.objects.filter(slug__startswith="bench-lesson-").order_by("path").values_list("id", flat=True))
    root = index.get_site().root_page.url_path
    return {"paths": ["/" + p[len(root):] for p in paths], "ids": ids, "people": people}


def _warm(base_url: str, paths: list[str], cookie: str) -> None:
    """Every lesson fetched once (4 at a time), as a day of trainees would: the figures then measure
    what trainees get from then on, not each page's first rendering."""
    from concurrent.futures import ThreadPoolExecutor
    from urllib.request import Request, urlopen

    def fetch(path):
        with urlopen(Request(base_url + path, headers={"Cookie": cookie}), timeout=60) as response:
            response.read()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(fetch, paths))


def _seed_in(env: dict) -> dict:
    code = ("import django, json; django.setup(); from courses.bench import seed; "
            "print('SEED ' + json.dumps(seed()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    line = next(x for x in out.stdout.splitlines() if x.startswith("SEED "))
    return json.loads(line[5:])


def run(out=print, quick: bool = False, concurrency: int = TRAINEES) -> dict:
    from lms import serving
    from lms.bench.http import _load, _ws_load
    from lms.liveserver import LiveServer, prepare_database, server_env

    duration_s = 2.0 if quick else 8.0
    figures: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = server_env(tmp)
        prepare_database(tmp, env, demo=True)
        data = _seed_in(env)
        paths, ids, everyone = data["paths"], data["ids"], data["people"]
        people = everyone[:concurrency]
        server = LiveServer(tmp, env, wsgi_workers=None).start()
        asgi = server.asgi_server
        out(f"Study: {len(paths):,} published lessons, {len(everyone)} signed-in trainees; HTTP: {concurrency} "
            f"keep-alive connections; socket: {SOCKET_CONNECTIONS} connections at ≤ {SOCKET_RATE} beats/s each; "
            f"load from another process, {duration_s:.0f} s per figure, production server "
            f"(nginx → granian ×{serving.cpu_count()} for HTTP, {asgi} ×1 for /ws/), {serving.cpu_count()} cores")
        pids = [p.pid for n, p in server.procs.items() if n != "redis"]
        try:
            # Warm the cache the way a day of trainees would: every lesson seen once.
            warm = [{"headers": {"Cookie": people[i % len(people)]["cookie"]},
                     "requests": [{"path": p} for p in paths[i::len(people)]]} for i in range(len(people))]
            _warm(server.url, paths, people[0]["cookie"])
            rows = {}
            rows["yardstick /healthz"] = _load(server.url + "/healthz", concurrency, duration_s, pids)
            rows["lesson page (signed-in trainee)"] = _load(server.url + "/healthz", concurrency, duration_s, pids,
                                                            spec=warm)
            beats = [{"headers": {"Cookie": p["cookie"], "X-CSRFToken": p["csrf"], "Content-Type": "application/json",
                                  "Origin": server.url, "Referer": server.url + "/"},
                      "requests": [{"method": "POST", "path": "/study/heartbeat/",
                                    "body": json.dumps({"lesson": ids[(i * 7 + k) % len(ids)], "visible": True})}
                                   for k in range(5)]} for i, p in enumerate(people)]
            rows["heartbeat POST /study/heartbeat/"] = _load(server.url + "/healthz", concurrency, duration_s, pids,
                                                             spec=beats)
            pages = [{"headers": {"Cookie": p["cookie"], "Origin": server.url},
                      "messages": [json.dumps({"type": "beat", "id": 0, "lesson": ids[(i * 7) % len(ids)],
                                               "visible": True}).replace('"id": 0', '"id": {seq}')]}
                     for i, p in enumerate(everyone)]
            rows[f"heartbeat over the study socket, {asgi}"] = _ws_load(
                server.ws_url + "/ws/study/", pages, 200 if quick else SOCKET_CONNECTIONS, SOCKET_RATE, duration_s,
                pids)
        finally:
            server.stop()
        # The alternatives the caching was chosen against, on the same database: the page rendered per
        # request around its cached shared part, and nothing cached at all.
        for name, extra in (("lesson page, only its shared part cached", {"LMS_CONTENT_PAGE_CACHE": "0"}),
                            ("lesson page, nothing cached", {"LMS_CONTENT_CACHE_S": "0"})):
            other = LiveServer(tmp, {**env, **extra}, wsgi_workers=None).start()
            try:
                rows[name] = _load(other.url + "/healthz", concurrency, duration_s,
                                   [p.pid for n, p in other.procs.items() if n != "redis"], spec=warm)
            finally:
                other.stop()
        # The other ASGI servers for the same sockets (the one chosen is serving.asgi_command's default).
        for alt in [a for a in serving.ASGI_SERVERS if a not in (asgi, "daphne")]:
            other = LiveServer(tmp, env, wsgi_workers=None, asgi_server=alt).start()
            try:
                rows[f"heartbeat over the study socket, {alt}"] = _ws_load(
                    other.ws_url + "/ws/study/", pages, 200 if quick else SOCKET_CONNECTIONS, SOCKET_RATE,
                    duration_s, [p.pid for n, p in other.procs.items() if n != "redis"])
            finally:
                other.stop()
    yard = rows["yardstick /healthz"]["rps"]
    out(f"  {'figure':<52} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'server CPU':>11} {'÷ yardstick':>12}")
    for name, r in rows.items():
        ratio = r["rps"] / max(yard, 0.1)
        out(f"  {name:<52} {r['rps']:>8.0f} {r['p50_ms'] if r['p50_ms'] is not None else '—':>8} "
            f"{r['p99_ms'] if r['p99_ms'] is not None else '—':>8} {r['errors']:>7} "
            f"{r['server_cpu_pct']:>10.0f}% {ratio:>12.2f}" + (f"  {r['error_kinds']}" if r["errors"] else ""))
    lesson_ratio = rows["lesson page (signed-in trainee)"]["rps"] / max(yard, 0.1)
    http_ratio = rows["heartbeat POST /study/heartbeat/"]["rps"] / max(yard, 0.1)
    beat_ratio = rows[f"heartbeat over the study socket, {asgi}"]["rps"] / max(yard, 0.1)
    out(f"  lesson views ÷ yardstick {lesson_ratio:.2f}, heartbeats (study socket, what pages use) ÷ yardstick "
        f"{beat_ratio:.2f} (target ≥ 0.5 each); heartbeats over HTTP, the fallback, ÷ yardstick {http_ratio:.2f}")
    figures.update({
        "study_lessons": len(paths), "study_results": rows,
        "study_lesson_vs_yardstick": round(lesson_ratio, 2), "study_heartbeat_vs_yardstick": round(beat_ratio, 2),
        "study_http_heartbeat_vs_yardstick": round(http_ratio, 2),
        "study_errors": sum(r["errors"] for r in rows.values()),
    })
    lesson = rows["lesson page (signed-in trainee)"]
    beat = rows[f"heartbeat over the study socket, {asgi}"]
    http_beat = rows["heartbeat POST /study/heartbeat/"]
    scale = f"{len(paths):,} lessons, {len(everyone)} trainees"
    figures["figures"] = [
        figure("study", "lesson page, signed-in trainee", lesson["rps"], "req/s", ratio_at_least=TARGET_RATIO,
               yardstick=yard, yardstick_name="/healthz", note=f"p99 {lesson['p99_ms']} ms; {scale}"),
        figure("study", f"heartbeats over the study socket ({asgi})", beat["rps"], "beats/s",
               ratio_at_least=TARGET_RATIO, yardstick=yard, yardstick_name="/healthz", yardstick_unit="req/s",
               note=f"{beat.get('connections', '?')} sockets at ≤ {SOCKET_RATE}/s each"),
        figure("study", "heartbeats over HTTP (the fallback)", http_beat["rps"], "beats/s", yardstick=yard,
               yardstick_name="/healthz", yardstick_unit="req/s", note="no target: pages beat over the socket"),
    ]
    return figures
