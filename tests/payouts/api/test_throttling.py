"""The per-caller rate limit: one counter per window in Redis, fail open when Redis is away."""

import time
from typing import Any

import pytest
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
    yield
    throttling._redis.cache_clear()


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
def test_redis_unreachable_lets_the_request_through_at_once_and_logs_an_error(
    api: APIClient, settings: Any, caplog: Any
) -> None:
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}}
    throttling._redis.cache_clear()

    started = time.monotonic()
    responses = [api.get(URL).status_code for _ in range(5)]
    elapsed = time.monotonic() - started

    assert responses == [200] * 5
    assert elapsed < 5 * throttling.REDIS_TIMEOUT_SECONDS + 2  # no retries with backoff per request
    assert any(
        r.levelname == "ERROR" and "throttle.redis_unavailable" in r.getMessage() for r in caplog.records
    )


def test_rates_parse_into_a_count_per_window() -> None:
    assert throttling.parse_rate("6000/minute") == (6000, 60)
    assert throttling.parse_rate("10/s") == (10, 1)
    assert throttling.parse_rate("100/hour") == (100, 3600)
