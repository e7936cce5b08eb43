"""The per-caller rate limit: counted in the process, one shared counter per window in Redis, the
process's own count when Redis is away."""

import time
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from rest_framework.test import APIClient

from payouts.api import throttling

URL = "/api/payouts/"


@pytest.fixture(autouse=True)
def _fresh_counters(settings: Any) -> Any:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"caller": "3/minute"},
    }
    cache.clear()
    throttling._redis.cache_clear()
    throttling.forget_counts()
    yield
    throttling._redis.cache_clear()
    throttling.forget_counts()


@pytest.mark.django_db
def test_caller_over_the_limit_gets_429_with_retry_after_others_do_not(
    api: APIClient, other_api: APIClient
) -> None:
    statuses = [api.get(URL).status_code for _ in range(3)]

    refused = api.get(URL)

    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert error["details"]["retry_after_seconds"] == int(refused["Retry-After"])
    assert other_api.get(URL).status_code == 200


@pytest.mark.django_db
def test_the_window_is_one_integer_counter_not_a_list_of_times(api: APIClient) -> None:
    api.get(URL)
    api.get(URL)

    keys = throttling._redis().keys("throttle:caller:*")
    assert len(keys) == 1
    assert throttling._redis().get(keys[0]) == b"2"
    assert 0 < throttling._redis().ttl(keys[0]) <= 61


@pytest.mark.django_db
def test_redis_unreachable_each_process_limits_on_its_own_count_and_logs_an_error(
    api: APIClient, settings: Any, caplog: Any
) -> None:
    # given Redis away (nothing listens on the port)
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}}
    throttling._redis.cache_clear()

    started = time.monotonic()
    responses = [api.get(URL).status_code for _ in range(5)]
    elapsed = time.monotonic() - started

    # then: the process's own count still holds the limit (3 a minute), no request waited on Redis
    # (asked once, then not again for SYNC_SECONDS), and the outage is logged
    assert responses == [200, 200, 200, 429, 429]
    assert elapsed < throttling.REDIS_TIMEOUT_SECONDS + 2
    errors = [r for r in caplog.records if "throttle.redis_unavailable" in r.getMessage()]
    assert [r.levelname for r in errors] == ["ERROR"]


@pytest.mark.django_db
def test_at_a_large_limit_a_process_asks_redis_only_every_share_of_the_limit(
    api: APIClient, settings: Any
) -> None:
    # given 1000 a minute: a process adds its count to Redis every 10 requests (or half second)
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"caller": "1000/minute"}}
    api.get(URL)  # the first request of the window syncs (nothing known yet)
    key = throttling._redis().keys("throttle:caller:*")[0]

    with time_machine.travel(time.time(), tick=False):  # the half second never passes
        counts = []
        for _ in range(10):
            api.get(URL)
            counts.append(int(throttling._redis().get(key) or 0))

    # then: Redis hears of the requests ten at a time
    assert counts == [1] * 9 + [11]


def test_a_caller_over_the_limit_in_another_process_is_refused_here_after_the_next_sync(
    settings: Any,
) -> None:
    # given another process has used the whole window's allowance (3) in Redis
    throttle = throttling.CallerRateThrottle()
    window = int(time.time() // 60)
    throttling._redis().set(f"throttle:caller:42:{window}", 3, ex=61)
    request: Any = type("R", (), {"user": type("U", (), {"pk": 42, "is_authenticated": True})()})()

    # then this process's first request syncs, learns it, and is refused, with the window's rest
    assert throttle.allow_request(request, view=None) is False
    assert 1 <= (throttle.wait() or 0) <= 60


def test_rates_parse_into_a_count_per_window() -> None:
    assert throttling.parse_rate("6000/minute") == (6000, 60)
    assert throttling.parse_rate("10/s") == (10, 1)
    assert throttling.parse_rate("100/hour") == (100, 3600)
