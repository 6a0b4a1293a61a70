"""Lesson media through the deployed front (lms.serving): nginx sends course images from disk and
lesson videos in byte ranges (after Wagtail's document view allowed them, X-Accel-Redirect), and
nothing else under MEDIA_ROOT (ID photos)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from lms.liveserver import ROOT, LiveDatabase, LiveServer
from tests.content.factories import MP4

pytestmark = pytest.mark.slow

SEED = """
import json, sys
sys.path.insert(0, '.')
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from tests.content.factories import build_course
tree = build_course()
m = tree["media"]
default_storage.save("photos/2026/private.png", ContentFile(b"private"))
print(json.dumps({"video": m["video"].url, "captions": m["captions"].url,
                  "svg": m["svg"].get_rendition("original").url, "lesson": tree["l1"].url}))
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with LiveDatabase(tmp_path_factory.mktemp("media")) as db:
        db.prepare(demo=False)
        out = subprocess.run([sys.executable, "manage.py", "shell", "-c", SEED], cwd=ROOT, env=db.env(),
                             check=True, capture_output=True, text=True).stdout
        urls = json.loads(out.strip().splitlines()[-1])
        server = LiveServer(db.var_dir, db.env()).start()
        try:
            yield server, urls
        finally:
            server.stop()


def _get(url, **headers):
    request = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        return error


def test_nginx_serves_video_ranges(served):
    server, urls = served
    whole = _get(server.url + urls["video"])
    assert whole.status == 200 and whole.read() == MP4
    part = _get(server.url + urls["video"], Range="bytes=1000-1999")
    assert part.status == 206
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(MP4)}"
    assert part.read() == MP4[1000:2000]
    assert part.headers["Content-Type"] == "video/mp4"
    assert not part.headers.get("X-Accel-Redirect")
    captions = _get(server.url + urls["captions"])
    assert captions.status == 200 and captions.read().startswith(b"WEBVTT")


def test_the_internal_location_is_not_reachable(served):
    server, urls = served
    name = urls["video"].rsplit("/", 1)[-1]
    assert _get(server.url + "/_documents/" + name).status == 404


def test_nginx_serves_course_images_but_not_photos(served):
    server, urls = served
    svg = _get(server.url + urls["svg"])
    assert svg.status == 200 and svg.headers["Content-Type"] == "image/svg+xml"
    assert "default-src 'none'" in svg.headers["Content-Security-Policy"]
    assert _get(server.url + "/media/photos/2026/private.png").status == 404
    lesson = _get(server.url + urls["lesson"]).read().decode()
    assert f'<source src="{urls["video"]}"' in lesson
    # the lesson's own renditions (made when the page was rendered) come from disk too
    for src in set(re.findall(r'src="(/media/images/[^"]+)"', lesson)):
        assert _get(server.url + src).status == 200
    assert re.search(r'src="/media/images/cpr[^"]*\.svg"', lesson)
