"""The lesson page's shared part: rendered once, cached, the same for every visitor.

What is the same for every visitor (breadcrumb, title, body, the previous/next links, the empty
progress box study.js fills in) is rendered once per lesson, language and state of the course tree
and kept in Django's cache (Redis in production). The key holds the page id, its live revision and
publication time, the language and a *tree generation* that any page save, publication,
unpublication, move or deletion bumps (content.signals), so a republished lesson, or a sibling
lesson published or moved (which changes the previous/next links), is rendered afresh and nothing
is ever deleted by hand. ``LMS_CONTENT_CACHE_S`` (settings.CONTENT_LESSON_CACHE_S) is how long an
entry lives (default a day; 0 turns the cache off, for comparison). Images and documents in the body are loaded only on a miss; a hit costs
two cache reads. Previews (an editor's unsaved or draft content) are never cached.
"""

from __future__ import annotations

import time

from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from django.conf import settings

GENERATION_KEY = "content:tree-generation"


def tree_generation() -> int:
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        # First use, or evicted: any fresh value works, as long as it differs from earlier ones.
        cache.add(GENERATION_KEY, time.time_ns(), timeout=None)
        generation = cache.get(GENERATION_KEY) or 0
    return generation


def bump_tree_generation(**kwargs) -> None:
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # not set yet: the next reader starts a fresh one
        cache.add(GENERATION_KEY, time.time_ns(), timeout=None)


def lesson_cache_key(page) -> str:
    published = page.last_published_at.timestamp() if page.last_published_at else 0
    return (f"content:lesson:{page.pk}:{page.live_revision_id or 0}:{published:.6f}:"
            f"{tree_generation()}:{get_language() or ''}")


def render_lesson_shared(page, request) -> str:
    module = page.get_parent()
    context = {
        "page": page,
        "module": module,
        "course": module.get_parent() if module else None,
        "previous_lesson": page.previous_lesson(),
        "next_lesson": page.next_lesson(),
        "request": request,
    }
    return render_to_string("content/lesson_shared.html", context, request=None)


def lesson_shared_html(page, request):
    timeout_s = settings.CONTENT_LESSON_CACHE_S
    if getattr(request, "is_preview", False) or not timeout_s:
        return mark_safe(render_lesson_shared(page, request))
    key = lesson_cache_key(page)
    html = cache.get(key)
    if html is None:
        html = render_lesson_shared(page, request)
        cache.set(key, html, timeout_s)
    return mark_safe(html)
