"""Branded error pages: 403 and 404 say why, in the person's language; 500 says nothing technical.

A reason is shown only when our own code raised the exception (its message is then an interface
string, translated where it was raised, e.g. ``PermissionDenied(_("This page is for region and
system admins."))``). Messages raised inside Django or Wagtail are for developers: English, and
sometimes naming models or files (``get_object_or_404``, the URL resolver, file serving); those
pages show the generic text instead. Never a traceback or DEBUG information.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpResponseForbidden, HttpResponseNotFound
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

def messages_of(exc) -> str:
    """A refusal of our api (``ValidationError`` or ``PermissionDenied``) as one line for a page's message."""
    return " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)


# The apps whose exception messages are written for the people using the product.
PRODUCT_MODULES = ("lms.", "content.", "courses.", "exams.", "manikin.", "certificates.", "instructors.",
                   "inspections.", "dashboards.")


def reason_for(exception) -> str:
    """The message of an exception raised by product code, else ''."""
    if exception is None or not exception.args or not isinstance(exception.args[0], str):
        return ""
    tb = exception.__traceback__
    if tb is None:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__", "")
    return exception.args[0] if module.startswith(PRODUCT_MODULES) else ""


@requires_csrf_token
def permission_denied(request, exception=None):
    html = loader.render_to_string("403.html", {"reason": reason_for(exception)}, request)
    return HttpResponseForbidden(html)


@requires_csrf_token
def page_not_found(request, exception=None):
    html = loader.render_to_string("404.html", {"reason": reason_for(exception)}, request)
    return HttpResponseNotFound(html)
