"""The Redis cache (lms.cache.RedisCache) while Redis is unreachable: each call is answered by the process's
own memory cache instead of raising, so pages are still cached and rate limits still count, per process (the
live fault is test_redis_gone_and_back)."""

import os
import signal
import time

import pytest
from django.core.cache import caches
from django.test import override_settings

from content import rendering
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


def test_what_was_invalidated_while_redis_was_away_is_invalidated_when_it_is_back(tmp_path):
    """A page published during an outage bumped only the process's memory: when a call reaches Redis again,
    the shared tree generation is bumped (so no older cached page is served) and the memory cache dropped."""
    import subprocess

    from content.rendering import bump_tree_generation, tree_generation
    from lms import serving
    from lms.liveserver import wait_group

    sock = tmp_path / "redis.sock"

    def start_redis():
        sock.unlink(missing_ok=True)  # a killed server leaves its socket file behind
        proc = subprocess.Popen(serving.redis_command(sock), start_new_session=True, stdout=subprocess.DEVNULL)
        for _ in range(100):
            if sock.exists():
                return proc
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    redis = start_redis()
    try:
        with override_settings(CACHES={"default": {"BACKEND": "lms.cache.RedisCache",
                                                   "LOCATION": f"unix://{sock}"}}):
            cache = caches["default"]
            before = tree_generation()
            cache.set("content:page:x", "the page as it was")
            os.killpg(redis.pid, signal.SIGKILL)
            redis.wait(10)
            bump_tree_generation()  # a page published meanwhile: only this process's memory hears of it
            assert cache.get("some-key-counted-meanwhile", 0) == 0 and lms_cache._degraded.is_set()
            cache.set("degraded-only", 1)
            assert cache.get("degraded-only") == 1
            redis = start_redis()  # empty, as a restarted Redis without persistence would be
            cache.set(rendering.GENERATION_KEY, before)  # ... or one that kept its data: the older generation
            assert not lms_cache._degraded.is_set()
            after = tree_generation()
            assert after != before
            assert lms_cache._local.get("degraded-only") is None
    finally:
        os.killpg(redis.pid, signal.SIGKILL)
        wait_group(redis.pid)
