"""Whole lesson pages from the cache, before sessions, authentication and Wagtail's routing.

A lesson page is the same for every visitor: its header has no name and no form with a CSRF
token (``content/lesson_page.html``), it shows no messages, and the trainee's own progress comes
from ``/study/lessons/<id>/state/`` (``courses/static/courses/study.js``). So the page rendered
once for a path and language is kept in the cache and served to everyone who asks for that path
in that language, without reading a session or a user row and without routing through the page
tree: what costs a signed-in page view (see docs/performance.md) is skipped.

Only a live, public lesson is cached (no view restriction, not a preview), only a 200 answer to a
plain GET (no query string), and the key holds the tree generation ``content.rendering`` keeps,
so publishing, moving or deleting any page serves fresh pages at once. The responses keep the
security headers of the middleware before this one (CSP) and set their own ``X-Frame-Options``.
``LMS_CONTENT_PAGE_CACHE=0`` turns it off (the benchmark compares both).
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse

from .rendering import tree_generation

CACHEABLE_FLAG = "_content_page_cacheable"


def _language(request) -> str:
    """The language ``lms.locale.DefaultChineseLocaleMiddleware`` will choose: the cookie's, or Chinese."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    return chosen if chosen in {code for code, _name in settings.LANGUAGES} else settings.LANGUAGE_CODE


def page_key(path: str, language: str, generation: int | None = None) -> str:
    return f"content:page:{generation if generation is not None else tree_generation()}:{language}:{path}"


def mark_cacheable(request) -> None:
    """Called by a lesson page while serving: this answer is the same for every visitor."""
    setattr(request, CACHEABLE_FLAG, True)


class CachedLessonPageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (not settings.CONTENT_PAGE_CACHE or request.method not in ("GET", "HEAD") or request.META.get("QUERY_STRING")
                or getattr(request, "is_dummy", False)):  # Wagtail's preview and page checks: never cached
            return self.get_response(request)
        language = _language(request)
        key = page_key(request.path, language)
        html = cache.get(key)
        if html is not None:
            response = HttpResponse(html, content_type="text/html; charset=utf-8")
            response["Content-Length"] = str(len(response.content))  # CommonMiddleware, which sets it, comes later
            response["Content-Language"] = language
            response["X-Frame-Options"] = "DENY"
            response["Cache-Control"] = "no-cache"  # the browser asks again; the answer is cheap
            response["Vary"] = "Cookie"
            return response
        response = self.get_response(request)
        if (getattr(request, CACHEABLE_FLAG, False) and response.status_code == 200
                and not getattr(response, "streaming", False)
                and getattr(request, "LANGUAGE_CODE", language) == language):
            cache.set(key, response.content.decode(), settings.CONTENT_LESSON_CACHE_S)
        return response
