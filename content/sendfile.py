"""Wagtail's document files (lesson videos, captions) with HTTP Range support (SENDFILE_BACKEND).

A browser seeks in a <video> by asking for byte ranges; without ``206 Partial Content`` it cannot
jump ahead or back. Wagtail's document view checks the document's permissions and then hands the
file to this backend:

- behind nginx (lms.serving sets ``X-Sendfile-Type: X-Accel-Redirect`` on every request it
  passes on, overwriting whatever a client sent), the answer is an empty response with
  ``X-Accel-Redirect: /_documents/<path>``: nginx sends the file from disk itself, ranges included,
  from an ``internal`` location no client can request directly;
- otherwise (development server, tests, a WSGI server without nginx) the file is streamed here,
  a single ``Range: bytes=a-b`` answered with 206 and the part, an unsatisfiable one with 416.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.http import FileResponse, HttpResponse, StreamingHttpResponse

ACCEL_PREFIX = "/_documents/"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK_BYTES = 64 * 1024


class _FixedLength:
    """Wagtail's sendfile wrapper sets Content-Length to the file's size after the backend; a part
    (or an X-Accel-Redirect) has another length, which this keeps."""

    fixed_length: int

    def __setitem__(self, header, value):
        if header.lower() == "content-length":
            value = self.fixed_length
        super().__setitem__(header, value)


class _PartialResponse(_FixedLength, StreamingHttpResponse):
    pass


class _AccelResponse(_FixedLength, HttpResponse):
    pass


def _accel_path(filename: str) -> str | None:
    documents = (Path(settings.MEDIA_ROOT) / "documents").resolve()
    path = Path(filename).resolve()
    if documents not in path.parents:
        return None
    return ACCEL_PREFIX + quote(str(path.relative_to(documents)))


def _iter_part(path: str, start: int, length: int):
    with open(path, "rb") as f:
        f.seek(start)
        while length > 0:
            chunk = f.read(min(CHUNK_BYTES, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """(first, last) byte of a single satisfiable range; None without a (usable) Range header;
    False when the range cannot be satisfied."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None  # several ranges or another unit: the whole file (allowed by RFC 9110)
    first, last = match.groups()
    if first == "":  # the last N bytes
        n = int(last)
        if n == 0:
            return False
        return max(0, size - n), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return False
    return start, end


def sendfile(request, filename, mimetype="application/octet-stream", **kwargs):
    if request.headers.get("X-Sendfile-Type") == "X-Accel-Redirect":
        accel = _accel_path(filename)
        if accel:
            response = _AccelResponse(content_type=mimetype)
            response.fixed_length = 0
            response["X-Accel-Redirect"] = accel
            return response
    size = os.path.getsize(filename)
    wanted = None if request.headers.get("If-Range") else parse_range(request.headers.get("Range"), size)
    if wanted is False:
        response = _AccelResponse(status=416, content_type=mimetype)
        response.fixed_length = 0
        response["Content-Range"] = f"bytes */{size}"
    elif wanted is None:
        response = FileResponse(open(filename, "rb"), content_type=mimetype)
    else:
        start, end = wanted
        response = _PartialResponse(_iter_part(filename, start, end - start + 1), status=206, content_type=mimetype)
        response.fixed_length = end - start + 1
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    return response
