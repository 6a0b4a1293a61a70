"""Django's Redis cache, degraded instead of failing while Redis is unreachable.

Every page goes through the cache (``content.pagecache`` looks each GET up), and rate limits count in
it (``lms.ratelimit``). With Django's own backend a Redis outage turns every request into a server
error; with this one each call that cannot reach Redis is answered by a memory cache of the process
itself (``LocMemCache``): pages are cached per process, and rate limits keep counting, per process
(with N processes a client may get up to N times its limit until Redis is back). Each failure is logged.
The cache is never the only copy of anything a user entered: that is in the database.

What was written while Redis was away (an invalidation such as the content tree's generation) never
reached it: on the first call that reaches Redis again, the process forgets its memory cache and runs
the hooks registered with ``on_recovery`` (``content`` bumps the tree generation, so a page published
during the outage is not served from an older cached copy).
"""

from __future__ import annotations

import functools
import logging
import threading

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("lms.cache")

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)


# One per process, used only while Redis is away; bounded like any LocMemCache.
_local = LocMemCache("lms-degraded", {"TIMEOUT": 300, "OPTIONS": {"MAX_ENTRIES": 10_000}})


_recovery_hooks: list = []
_degraded = threading.Event()  # set while this process has answered from its memory since Redis last answered


def on_recovery(hook):
    """Run ``hook()`` whenever Redis answers again after this process answered without it."""
    if hook not in _recovery_hooks:
        _recovery_hooks.append(hook)
    return hook


def _recovered() -> None:
    _degraded.clear()
    _local.clear()
    log.warning("cache reachable again: the process's memory cache is dropped and %d hooks run",
                len(_recovery_hooks))
    for hook in list(_recovery_hooks):
        try:
            hook()
        except Exception:  # a hook's failure costs no request anything
            log.exception("cache recovery hook %r failed", hook)


def _degrade(method):
    name = method.__name__

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            result = method(self, *args, **kwargs)
        except UNREACHABLE as exc:
            _degraded.set()
            log.warning("cache unreachable (%s), answered by the process's memory: %s", name, exc)
            return getattr(_local, name)(*args, **kwargs)
        if _degraded.is_set():
            _recovered()
        return result
    return call


class RedisCache(DjangoRedisCache):
    get = _degrade(DjangoRedisCache.get)
    get_many = _degrade(DjangoRedisCache.get_many)
    has_key = _degrade(DjangoRedisCache.has_key)
    add = _degrade(DjangoRedisCache.add)
    set = _degrade(DjangoRedisCache.set)
    set_many = _degrade(DjangoRedisCache.set_many)
    touch = _degrade(DjangoRedisCache.touch)
    delete = _degrade(DjangoRedisCache.delete)
    delete_many = _degrade(DjangoRedisCache.delete_many)
    incr = _degrade(DjangoRedisCache.incr)
    clear = _degrade(DjangoRedisCache.clear)
