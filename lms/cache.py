"""Django's Redis cache, degraded instead of failing while Redis is unreachable.

Every page goes through the cache (``content.pagecache`` looks each GET up), and rate limits count in
it (``lms.ratelimit``). With Django's own backend a Redis outage turns every request into a server
error; with this one each call that cannot reach Redis is answered by a memory cache of the process
itself (``LocMemCache``): pages are cached per process, and rate limits keep counting, per process
(with N processes a client may get up to N times its limit until Redis is back). Each failure is logged.
The cache is never the only copy of anything a user entered: that is in the database.
"""

from __future__ import annotations

import functools
import logging

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("lms.cache")

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)


# One per process, used only while Redis is away; bounded like any LocMemCache.
_local = LocMemCache("lms-degraded", {"TIMEOUT": 300, "OPTIONS": {"MAX_ENTRIES": 10_000}})


def _degrade(method):
    name = method.__name__

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except UNREACHABLE as exc:
            log.warning("cache unreachable (%s), answered by the process's memory: %s", name, exc)
            return getattr(_local, name)(*args, **kwargs)
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
