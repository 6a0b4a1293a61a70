"""Public verification pages and the JSON API for employers (no sign-in; the logic is in
``certificates/verification.py``, the decisions in ``docs/verification.md``).

Every answer is ``Cache-Control: no-store`` (a revocation shows at once, nothing stays in a proxy) and
``X-Robots-Tag: noindex``. Lookups are limited per client IP address (``lms.ratelimit``, shared by every
process through Redis): ``LMS_VERIFY_LOOKUPS_PER_MINUTE`` single lookups (pages, scans and the API alike),
``LMS_VERIFY_MISSES_LIMIT`` not-found answers per ``LMS_VERIFY_MISSES_WINDOW_S`` (past it every lookup from
the address waits: guessing numbers produces misses), ``LMS_VERIFY_BULK_LIMIT`` bulk requests per
``LMS_VERIFY_BULK_WINDOW_S``. Over a limit: HTTP 429 with ``Retry-After``. ``LMS_VERIFY_RATE_LIMITS=0`` turns
them off (benchmarks only).
"""

from __future__ import annotations

import json
import math
import secrets

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lms import ratelimit
from lms.audit import client_ip_from_meta

from . import verification as v

LOOKUP_SCOPE, MISS_SCOPE, BULK_SCOPE = "verify", "verify-miss", "verify-bulk"
LOOKUP_WINDOW_S = 60
BULK_TOKEN_TTL_S = 15 * 60
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ------------------------------------------------------------------ rate limits

def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def limits_on() -> bool:
    return bool(getattr(settings, "LMS_VERIFY_RATE_LIMITS", True))


def client(request) -> str:
    return client_ip_from_meta(request.META) or "unknown"


def lookup_refused(ip: str) -> int | None:
    """Count one lookup from ``ip``; the seconds to wait when it is over a limit, else None. The lookup is
    counted and the misses read in one round trip (``lms.ratelimit.hit_and_read``): the limits are on every
    request of the public API."""
    if not limits_on():
        return None
    n, misses = ratelimit.hit_and_read(LOOKUP_SCOPE, ip, window_s=LOOKUP_WINDOW_S, read_scope=MISS_SCOPE)
    if misses >= _setting("LMS_VERIFY_MISSES_LIMIT", 20):
        return _setting("LMS_VERIFY_MISSES_WINDOW_S", 600)
    if n > _setting("LMS_VERIFY_LOOKUPS_PER_MINUTE", 60):
        return LOOKUP_WINDOW_S
    return None


def count_misses(ip: str, n: int = 1) -> None:
    if limits_on():
        for _i in range(n):
            ratelimit.hit(MISS_SCOPE, ip, window_s=_setting("LMS_VERIFY_MISSES_WINDOW_S", 600))


def bulk_refused(ip: str) -> int | None:
    if not limits_on():
        return None
    window = _setting("LMS_VERIFY_BULK_WINDOW_S", 600)
    if ratelimit.hit(BULK_SCOPE, ip, window_s=window) > _setting("LMS_VERIFY_BULK_LIMIT", 10):
        return window
    return None


def miss_budget(ip: str) -> int | None:
    """How many not-found answers ``ip`` may still get (None: no limit)."""
    if not limits_on():
        return None
    return max(0, _setting("LMS_VERIFY_MISSES_LIMIT", 20) - ratelimit.used(MISS_SCOPE, ip))


def limited_message(retry_after: int) -> str:
    return _("Too many checks from your address. Please wait %(minutes)s minute(s) and try again.") % {
        "minutes": max(1, math.ceil(retry_after / 60))}


def _public(response):
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def _page(request, template: str, context: dict, status: int = 200, retry_after: int | None = None):
    response = _public(render(request, template, context, status=status))
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def _json(data, status: int = 200, retry_after: int | None = None):
    response = _public(JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False}))
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def _limited_json(retry_after: int):
    return _json({"problem": v.LIMITED, "message": limited_message(retry_after), "retry_after": retry_after},
                 status=429, retry_after=retry_after)


# ------------------------------------------------------------------ pages

@require_GET
def verify(request):
    """The form, and with ``?number=`` the answer: every printed field and the status."""
    number = request.GET.get("number")
    context = {"number": (number or "")[:v.MAX_INPUT_CHARS]}
    if number is None:
        return _page(request, "certificates/verify.html", context)
    ip = client(request)
    wait = lookup_refused(ip)
    if wait:
        context["limited"] = limited_message(wait)
        return _page(request, "certificates/verify.html", context, status=429, retry_after=wait)
    result = v.verify_number(number)
    if result.problem == v.NOT_FOUND:
        count_misses(ip)
    context["result"] = result
    return _page(request, "certificates/verify.html", context)  # the API's statuses say 404 and 400


@require_GET
def verify_scan(request, payload: str):
    """What the QR code opens (``/v/<payload>/``): the signature, then the online status and the fields."""
    ip = client(request)
    wait = lookup_refused(ip)
    if wait:
        return _page(request, "certificates/verify_scan.html", {"limited": limited_message(wait)}, status=429,
                     retry_after=wait)
    scan = v.verify_scan(payload)
    return _page(request, "certificates/verify_scan.html", {"scan": scan, "result": scan.verification})


def _bulk_lines(request) -> list[str]:
    upload = request.FILES.get("file")
    if upload is not None:
        if upload.size > v.max_upload_bytes():
            raise ValidationError(_("The file is larger than %(kb)s KB. Please split the list.")
                                  % {"kb": v.max_upload_bytes() // 1024})
        return v.read_upload(upload.name, upload.read(v.max_upload_bytes() + 1))
    return v.split_lines(request.POST.get("numbers", "")[:200_000])


def _xlsx_response(rows, checked_at) -> HttpResponse:
    stamp = timezone.localtime(checked_at).strftime("%Y%m%d-%H%M")
    response = HttpResponse(v.bulk_xlsx(rows, checked_at), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="certificate-verification-{stamp}.xlsx"'
    return _public(response)


@require_http_methods(["GET", "POST"])
def verify_bulk(request):
    """Paste or upload a list: a table comes back, and the same as an XLSX (``format=xlsx``, or the
    download button of the answer, which uses the answer kept for 15 minutes)."""
    context = {"max_numbers": v.max_bulk_numbers(), "max_kb": v.max_upload_bytes() // 1024,
               "numbers": ""}
    if request.method == "GET":
        return _page(request, "certificates/verify_bulk.html", context)
    context["numbers"] = request.POST.get("numbers", "")[:50_000]
    ip = client(request)
    wait = bulk_refused(ip)
    if wait:
        context["limited"] = limited_message(wait)
        return _page(request, "certificates/verify_bulk.html", context, status=429, retry_after=wait)
    try:
        lines = _bulk_lines(request)
        rows = v.verify_many(lines, miss_budget=miss_budget(ip))
    except ValidationError as exc:
        context["error"] = " ".join(exc.messages)
        return _page(request, "certificates/verify_bulk.html", context)
    count_misses(ip, rows.misses)
    checked_at = timezone.now()
    if not rows:
        context["error"] = _("The list holds no numbers. Type or paste one number per line.")
        return _page(request, "certificates/verify_bulk.html", context)
    if request.POST.get("format") == "xlsx":
        return _xlsx_response(rows, checked_at)
    token = secrets.token_urlsafe(24)
    cache.set(_token_key(token), {"rows": list(rows), "checked_at": checked_at}, BULK_TOKEN_TTL_S)
    context.update(rows=rows, counts=rows.counts(), duplicates=rows.duplicates, limited_rows=rows.limited,
                   token=token, checked_at=checked_at)
    return _page(request, "certificates/verify_bulk.html", context)


def _token_key(token: str) -> str:
    return "certificates:verify-bulk:" + token


@require_POST
def verify_bulk_xlsx(request):
    """The XLSX of an answer shown in the last 15 minutes (its token)."""
    token = request.POST.get("token", "")
    kept = cache.get(_token_key(token)) if token and len(token) < 100 else None
    if kept is None:
        return _page(request, "certificates/verify_bulk.html",
                     {"max_numbers": v.max_bulk_numbers(), "max_kb": v.max_upload_bytes() // 1024,
                      "error": _("This answer is no longer kept. Please check the list again.")}, status=410)
    return _xlsx_response(kept["rows"], kept["checked_at"])


# ------------------------------------------------------------------ the JSON API (docs/verification.md)

@csrf_exempt
@require_GET
def api_certificate(request, number: str):
    """``GET /api/v1/certificates/<number>/``: 200 found, 404 not found, 400 malformed, 429 over a limit."""
    ip = client(request)
    wait = lookup_refused(ip)
    if wait:
        return _limited_json(wait)
    result = v.verify_number(number)
    if result.found:
        return _json(result.as_json())
    if result.problem == v.NOT_FOUND:
        count_misses(ip)
        return _json(result.as_json(), status=404)
    return _json(result.as_json(), status=400)


def _json_body(request) -> dict | None:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


@csrf_exempt
@require_POST
def api_verify_many(request):
    """``POST /api/v1/certificates/verify/`` ``{"numbers": [...]}`` → ``{"results": [...], ...}``."""
    data = _json_body(request)
    numbers = data.get("numbers") if data is not None else None
    if not isinstance(numbers, list) or not all(isinstance(n, (str, int)) and not isinstance(n, bool)
                                                 for n in numbers):
        return _json({"problem": "request", "message": _('Send JSON: {"numbers": ["…", "…"]}.')}, status=400)
    ip = client(request)
    wait = bulk_refused(ip)
    if wait:
        return _limited_json(wait)
    try:
        rows = v.verify_many([str(n) for n in numbers], miss_budget=miss_budget(ip))
    except ValidationError as exc:
        return _json({"problem": "too_many", "message": " ".join(exc.messages),
                      "limit": v.max_bulk_numbers()}, status=400)
    count_misses(ip, rows.misses)
    return _json({"count": len(rows), "duplicates": rows.duplicates, "blank": rows.blank, "limited": rows.limited,
                  "summary": rows.counts(), "results": [r.as_json() for r in rows]})


@csrf_exempt
@require_POST
def api_scan(request):
    """``POST /api/v1/scan/`` ``{"payload": "..."}``: 200 with the verdict for a payload that could be read
    (``valid`` true only for a verified signature, matching fields and a valid certificate), 400 otherwise."""
    data = _json_body(request)
    payload = data.get("payload") if data is not None else None
    if not isinstance(payload, str):
        return _json({"problem": "request", "message": _('Send JSON: {"payload": "…"}.')}, status=400)
    ip = client(request)
    wait = lookup_refused(ip)
    if wait:
        return _limited_json(wait)
    scan = v.verify_scan(payload)
    body = scan.as_json()
    if scan.signature_ok:
        body["page"] = request.build_absolute_uri(reverse("certificates:verify") + "?number=" + scan.payload["number"])
    return _json(body, status=400 if scan.problem in (v.SCAN_FORMAT, "version") else 200)
