"""Rate limits in fixed windows, counted in each process and added up in Redis. Three scopes, each a
rate in `DEFAULT_THROTTLE_RATES`: `caller`, per authenticated caller (an organisation's key, an
operator); `anonymous`, per client IP, for every request without valid credentials (a key guesser
included); `bank_webhook`, per client IP, generous, on the bank's webhook endpoint.

Each process counts its own requests per key (scope and identity) and window, and adds them to the
window's shared counter in Redis (`INCRBY` and `EXPIRE`, pipelined: one round trip) when it has
counted `limit // 100` of them (at least 1) or `SYNC_SECONDS` have passed since its last sync, whichever
comes first; the answer tells it what every process has counted. Between syncs it decides on
what it knows: the shared count at the last sync plus its own since. So a request costs no round
trip at all at most rates, and the price is a documented tolerance: with P processes an identity may
get up to P times `limit // 100` requests (1 % of the limit per process) past the limit in one window,
and, as with any fixed window, up to twice the rate across the boundary of two. At small limits
(under 200 a window) every request syncs and the count is exact. An identity known to be over the
limit is refused without asking Redis again until the window ends. (DRF's `SimpleRateThrottle`
keeps every request time of the window in one cached list, read and rewritten on every request:
48 KB at 6000/minute.)

The limit protects the service; it is not what keeps money safe. So when Redis cannot be reached
the process goes on with its own count alone (a caller then gets up to the limit from each
process), logs an error, and asks Redis again only `SYNC_SECONDS` later (no request waits on a dead
Redis more than once in that time, and then at most `REDIS_TIMEOUT_SECONDS`), rather than refusing
payouts PostgreSQL could take.
"""

import math
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

import redis
import structlog
from django.conf import settings
from django.http import HttpRequest
from redis.backoff import NoBackoff
from redis.retry import Retry
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

if TYPE_CHECKING:
    # DRF imports the throttle classes while `rest_framework.views` is still loading.
    from rest_framework.views import APIView

logger = structlog.get_logger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# A throttle must never hold a request long: Redis answers in well under a millisecond on loopback.
REDIS_TIMEOUT_SECONDS = 0.25
# A process adds its count to Redis at least this often (while it has requests to count).
SYNC_SECONDS = 0.5
# ... and whenever it has counted this share of the limit since its last sync.
SYNC_SHARE = 100


@lru_cache(maxsize=1)
def _redis() -> redis.Redis:
    location: str = settings.CACHES["default"]["LOCATION"]
    return redis.Redis.from_url(
        location,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), retries=0),  # the next request is the retry
    )


def parse_rate(rate: str) -> tuple[int, int]:
    """'6000/minute' -> (6000, 60): requests allowed per window of seconds."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period[:1]]


@dataclass
class _Count:
    """One key's window, as this process knows it."""

    window: int
    ends_at: float  # epoch seconds: the window's end
    shared: int = 0  # the window's count in Redis at the last sync, this process's included
    pending: int = 0  # counted here since then
    synced_at: float = 0.0  # monotonic; 0: never


_counts: dict[str, _Count] = {}
_counts_lock = threading.Lock()
# Windows known in this process before ended ones are dropped (client IPs are many and come once).
COUNTS_KEPT = 10_000
# After a failed sync Redis is not asked again before this (monotonic) time, whatever the counts.
_redis_retry_at = 0.0


def forget_counts() -> None:
    """Drop what this process has counted (tests start each from nothing)."""
    global _redis_retry_at  # noqa: PLW0603 (the process's own state, under the lock)
    with _counts_lock:
        _counts.clear()
        _redis_retry_at = 0.0


def _sync(key: str, count: _Count, expire_seconds: int) -> None:
    global _redis_retry_at  # noqa: PLW0603 (the process's own state, under the lock)
    if time.monotonic() < _redis_retry_at:
        return
    try:
        with _redis().pipeline(transaction=False) as pipe:
            pipe.incrby(key, count.pending)
            pipe.expire(key, expire_seconds)
            total, _ = pipe.execute()
    except redis.RedisError as exc:
        logger.error("throttle.redis_unavailable", error=str(exc))
        _redis_retry_at = time.monotonic() + SYNC_SECONDS
        return
    count.shared, count.pending, count.synced_at = int(total), 0, time.monotonic()


def _drop_ended(now: float) -> None:
    for key in [key for key, count in _counts.items() if count.ends_at <= now]:
        del _counts[key]


class RateLimit:
    """A limit of requests per fixed window for one scope (a key of `DEFAULT_THROTTLE_RATES`),
    counted per identity (a caller, a client IP)."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.limit, self.period = parse_rate(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope])
        self.sync_every = max(1, self.limit // SYNC_SHARE)

    def hit(self, identity: str) -> int | None:
        """Counts one request of `identity`: None when it is within the limit, else the seconds
        until the window ends (at least 1: the `Retry-After`)."""
        now = time.time()
        window = int(now // self.period)
        key = f"{self.scope}:{identity}"
        with _counts_lock:
            count = _counts.get(key)
            if count is None or count.window != window:
                if len(_counts) >= COUNTS_KEPT:
                    _drop_ended(now)
                count = _counts[key] = _Count(window=window, ends_at=(window + 1) * self.period)
            if count.shared > self.limit:  # refused for the rest of the window, no round trip
                allowed = False
            else:
                count.pending += 1
                if count.pending >= self.sync_every or time.monotonic() - count.synced_at >= SYNC_SECONDS:
                    _sync(f"throttle:{key}:{window}", count, self.period + 1)
                allowed = count.shared + count.pending <= self.limit
        return None if allowed else max(1, math.ceil(count.ends_at - now))


def client_ip(request: HttpRequest | Request) -> str:
    """The client's address as DRF reads it (`REMOTE_ADDR`, or `X-Forwarded-For` behind the
    `NUM_PROXIES` proxies the settings declare)."""
    # DRF reads only `META`, which a Django request has as well.
    return BaseThrottle().get_ident(cast(Request, request))


class CallerRateThrottle(BaseThrottle):
    """Authenticated callers (an organisation's key, an operator): `caller` per caller."""

    def __init__(self) -> None:
        self._wait: int | None = None

    def allow_request(self, request: Request, view: "APIView") -> bool:
        user: Any = request.user
        if user is None or not getattr(user, "is_authenticated", False):
            return True  # anonymous callers: `AnonymousRateThrottle`
        self._wait = RateLimit("caller").hit(str(user.pk))
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


class AnonymousRateThrottle(BaseThrottle):
    """Anonymous requests: `anonymous` per client IP. Here for the views anyone may call (the
    schema); a request to any other view without valid credentials is refused before the throttles
    run, and `anonymous_wait` counts it instead (from the exception handler)."""

    def __init__(self) -> None:
        self._wait: int | None = None

    def allow_request(self, request: Request, view: "APIView") -> bool:
        user: Any = request.user
        if user is not None and getattr(user, "is_authenticated", False):
            return True
        self._wait = anonymous_wait(request)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


def anonymous_wait(request: HttpRequest | Request) -> int | None:
    """Counts one anonymous request (no credentials, or wrong ones) of the client's IP: None when
    within the limit, else the seconds until its window ends."""
    return RateLimit("anonymous").hit(client_ip(request))
