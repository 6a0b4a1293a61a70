"""The Redis cache (lms.cache.RedisCache) while Redis is unreachable: each call is answered by the process's
own memory cache instead of raising, so pages are still cached and rate limits still count, per process (the
live fault is test_redis_gone_and_back)."""

import pytest
from django.core.cache import caches
from django.test import override_settings

from lms import cache as lms_cache
from lms import ratelimit

UNREACHABLE = {"default": {"BACKEND": "lms.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
                           "OPTIONS": {"socket_connect_timeout": 1}}}


@pytest.fixture(autouse=True)
def empty_local_cache():
    lms_cache._local.clear()
    yield
    lms_cache._local.clear()


@override_settings(CACHES=UNREACHABLE)
def test_an_unreachable_redis_cache_answers_from_the_process_memory_instead_of_raising():
    cache = caches["default"]
    assert cache.get("k", "fallback") == "fallback"
    assert cache.add("k", 1) is True
    assert cache.add("k", 2) is False
    assert cache.get("k") == 1
    assert cache.incr("k") == 2
    assert cache.set_many({"a": 1, "b": 2}) == []
    assert cache.get_many(["a", "b", "c"]) == {"a": 1, "b": 2}
    assert cache.delete("k") is True
    assert cache.has_key("k") is False
    with pytest.raises(ValueError):  # as for a missing key: every caller handles it
        cache.incr("k")


@override_settings(CACHES=UNREACHABLE)
def test_rate_limits_still_count_while_redis_is_unreachable():
    assert [ratelimit.hit("faults", "someone", window_s=60) for _ in range(3)] == [1, 2, 3]
    assert ratelimit.used("faults", "someone") == 3
    assert ratelimit.hit_and_read("faults", "someone", window_s=60, read_scope="faults") == (4, 4)
    assert ratelimit.hit("faults", "someone else", window_s=60) == 1
