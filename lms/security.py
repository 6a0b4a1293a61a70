"""Deployment hardening that lives in code rather than in settings.

- ``ContentSecurityPolicyMiddleware``: django-csp's middleware with one extension: the Wagtail
  admin (``/admin/``) gets the allowances its own templates need (see ``ADMIN_CSP_REPLACE``);
  every other page gets the strict policy of ``settings.CONTENT_SECURITY_POLICY``.
- ``NoStoreMiddleware``: every response to a signed-in person carries ``Cache-Control: no-store``,
  so no page with personal data stays in a browser's or a proxy's cache.
- ``private_sqlite_files``: the SQLite database and its -wal/-shm files are readable by the
  server's own user only (0600). Settings create the file with that mode before SQLite opens it
  (SQLite gives -wal and -shm the mode of the database file); this receiver tightens files made
  by earlier versions.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from csp.constants import SELF, UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts

ADMIN_PREFIX = "/admin/"
# Admin pages that anonymous visitors reach keep the strict policy: they are Wagtail's only
# pages open to an attacker's input before sign-in, and they work without the allowances.
ADMIN_STRICT_PREFIXES = ("/admin/login/", "/admin/password_reset/")

# The Wagtail 8 admin is not written for a strict policy yet (wagtail/wagtail#1288), and its
# templates are not ours to add nonces to:
# - script-src 'unsafe-inline': inline <script> blocks in its templates (the date and time
#   choosers of listing filters and of the page editor's scheduling dialog, inline panels,
#   workflow set-up) and scripts inside the HTML of modal responses;
# - style-src 'unsafe-inline': <style> elements and style attributes its editors (Draftail,
#   Tippy) insert;
# - img-src blob:: previews of images chosen for upload;
# - frame-ancestors 'self': the live preview shows the page in an iframe of the admin.
# Still no host but the site's own: the admin loads from, connects to and posts to 'self' only,
# so even a script injected into the admin could not send data elsewhere.
ADMIN_CSP_REPLACE = {
    "script-src": [SELF, UNSAFE_INLINE],
    "style-src": [SELF, UNSAFE_INLINE],
    "style-src-attr": None,
    "img-src": [SELF, "data:", "blob:"],
    "frame-ancestors": [SELF],
}


def uses_admin_policy(path: str) -> bool:
    return path.startswith(ADMIN_PREFIX) and not path.startswith(ADMIN_STRICT_PREFIXES)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if parts.replace is None and uses_admin_policy(request.path_info):
            parts.replace = ADMIN_CSP_REPLACE
        return parts

    def process_response(self, request, response):
        response = super().process_response(request, response)
        # A view that lets its own site frame it (X-Frame-Options: SAMEORIGIN, e.g. Wagtail's
        # preview, which renders the page through a second pass of the middleware as if at the
        # page's own URL) gets frame-ancestors 'self' instead of 'none'.
        if response.get("X-Frame-Options", "").upper() == "SAMEORIGIN" and "Content-Security-Policy" in response:
            response["Content-Security-Policy"] = _set_directive(
                response["Content-Security-Policy"], "frame-ancestors", SELF)
        return response


def _set_directive(policy: str, name: str, value: str) -> str:
    parts = [p.strip() for p in policy.split(";") if p.strip()]
    kept = [p for p in parts if p.split()[0] != name]
    return "; ".join([*kept, f"{name} {value}"])


class NoStoreMiddleware:
    """``Cache-Control: private, no-store`` on every response to a signed-in person.

    Static files never get here (WhiteNoise answers them before this middleware), so
    stylesheets and scripts stay cacheable. Anonymous pages (home, login) keep their headers.
    The header replaces whatever a view set (the photo view's ``max-age``).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            response.headers["Cache-Control"] = "private, no-store"
            response.headers.pop("Expires", None)
        return response


PRIVATE_FILE = stat.S_IRUSR | stat.S_IWUSR  # 0600
PRIVATE_DIR = stat.S_IRWXU  # 0700


def make_private(path: Path, mode: int) -> None:
    """Drop group and other permissions from a file or folder of ours (no-op when already private)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, mode)


def private_sqlite_files(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: keep the SQLite file and its companions 0600."""
    if connection.vendor != "sqlite":
        return
    name = str(connection.settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    for suffix in ("", "-wal", "-shm", "-journal"):
        make_private(Path(name + suffix), PRIVATE_FILE)

