"""Fixed-window counters in Django's cache (Redis with ``REDIS_URL``, shared by every process).

A counter starts at the first hit and lives ``window_s`` seconds; the identity is hashed into the
key, so no login name, IP address or number ends up in the cache in clear.

    if ratelimit.hit("number-search", user.pk, window_s=600) > 10:
        refuse()
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache


def _key(scope: str, ident) -> str:
    return f"lms:rl:{scope}:" + hashlib.sha256(str(ident).encode()).hexdigest()[:32]


def used(scope: str, ident) -> int:
    """How many hits the current window of ``scope``/``ident`` holds (0 when none)."""
    return int(cache.get(_key(scope, ident)) or 0)


def hit(scope: str, ident, *, window_s: int) -> int:
    """Count one hit and return the window's count including it."""
    key = _key(scope, ident)
    if cache.add(key, 1, timeout=window_s):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # the window ended between add() and incr()
        cache.add(key, 1, timeout=window_s)
        return 1


def clear(scope: str, ident) -> None:
    cache.delete(_key(scope, ident))



def hit_and_read(scope: str, ident, *, window_s: int, read_scope: str) -> tuple[int, int]:
    """Count one hit of ``scope`` and read ``read_scope``'s count, for the same ``ident``: (hits including
    this one, the other count). With Redis one round trip (a pipeline) instead of three: for limits checked
    on every request of a public API."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    from .cache import UNREACHABLE

    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return hit(scope, ident, window_s=window_s), used(read_scope, ident)
    key = backend.make_key(_key(scope, ident))
    try:
        pipe = backend._cache.get_client(write=True).pipeline(transaction=False)
        pipe.get(backend.make_key(_key(read_scope, ident)))
        pipe.set(key, 0, ex=window_s, nx=True)  # the window starts at the first hit, as in hit()
        pipe.incr(key)
        other, _created, hits = pipe.execute()
    except UNREACHABLE:  # Redis is away: the process-local answers of lms.cache, not a server error
        return hit(scope, ident, window_s=window_s), used(read_scope, ident)
    return int(hits), int(other or 0)
