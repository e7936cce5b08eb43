"""The rate limits: per caller, per client IP for anonymous requests and for the bank's webhooks;
counted in the process, one shared counter per window in Redis, the process's own count when Redis
is away."""

import time
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from rest_framework.test import APIClient

from payouts.api import throttling
from payouts.models import BankWebhookEvent

URL = "/api/payouts/"
WINDOW_START = 1_800_000_000  # a minute boundary (Unix seconds)


@pytest.fixture(autouse=True)
def _fresh_counters(settings: Any) -> Any:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"caller": "3/minute", "anonymous": "3/minute", "bank_webhook": "2/minute"},
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


def _assert_rate_limited(response: Any) -> None:
    assert response.status_code == 429
    assert "json" in response["Content-Type"]
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert error["details"]["retry_after_seconds"] == int(response["Retry-After"])


@pytest.mark.django_db
def test_anonymous_requests_are_limited_per_client_ip() -> None:
    client = APIClient(REMOTE_ADDR="203.0.113.7")

    statuses = [client.get(URL).status_code for _ in range(3)]
    refused = client.get(URL)

    assert statuses == [401, 401, 401]
    _assert_rate_limited(refused)
    assert APIClient(REMOTE_ADDR="203.0.113.8").get(URL).status_code == 401  # another address


@pytest.mark.django_db
def test_wrong_keys_count_against_the_ip_and_a_valid_key_from_it_still_works(api: APIClient) -> None:
    guesser = APIClient(REMOTE_ADDR="127.0.0.1")
    guesser.credentials(HTTP_AUTHORIZATION="Api-Key wrongprefix.wrongsecret")

    statuses = [guesser.post(URL, {}, format="json").status_code for _ in range(3)]
    refused = guesser.post(URL, {}, format="json")

    assert statuses == [401, 401, 401]
    _assert_rate_limited(refused)
    # the organisation's own key, from the same address, is counted as its caller, not as anonymous
    assert api.get(URL).status_code == 200


@pytest.mark.django_db
def test_the_schema_anyone_may_read_is_limited_per_client_ip() -> None:
    client = APIClient(REMOTE_ADDR="203.0.113.9")

    statuses = [client.get("/api/schema/?format=json").status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
    _assert_rate_limited(client.get("/api/schema/?format=json"))


@pytest.mark.django_db
def test_the_bank_webhook_endpoint_is_limited_per_client_ip_and_a_refusal_writes_nothing(
    bank_keys: list[str],
) -> None:
    bank = APIClient(REMOTE_ADDR="198.51.100.1")
    url = "/api/webhooks/bank/"

    first = [bank.post(url, b"{}", content_type="application/json").status_code for _ in range(2)]
    refused = bank.post(url, b"{}", content_type="application/json")

    assert first == [400, 400]  # unsigned: refused, but counted
    _assert_rate_limited(refused)
    assert not BankWebhookEvent.objects.exists()
    other = APIClient(REMOTE_ADDR="198.51.100.2").post(url, b"{}", content_type="application/json")
    assert other.status_code == 400


def test_a_process_keeps_a_bounded_number_of_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a small bound and many client addresses, each seen once
    monkeypatch.setattr(throttling, "COUNTS_KEPT", 10)
    limit = throttling.RateLimit("anonymous")
    with time_machine.travel(WINDOW_START, tick=False):
        for n in range(10):
            assert limit.hit(f"192.0.2.{n}") is None
    assert len(throttling._counts) == 10

    # when the window has ended and a new address comes
    with time_machine.travel(WINDOW_START + 61, tick=False):
        assert limit.hit("192.0.2.200") is None

    # then the ended windows are gone, the new one kept
    assert list(throttling._counts) == ["anonymous:192.0.2.200"]
