"""A rate limit per caller (organisation or operator) in fixed windows counted in Redis.

One round trip per request: `INCR` the window's counter and `EXPIRE` it, pipelined. DRF's
`SimpleRateThrottle` keeps every request time of the window in one cached list, read and rewritten on
every request (48 KB at 6000/minute). The price of a fixed window is a documented tolerance: a caller
may send up to twice the rate across the boundary of two windows.

The limit protects the service; it is not what keeps money safe. So when Redis cannot be reached the
request is allowed (fail open) and an error is logged, rather than refusing payouts PostgreSQL could
take.
"""

import math
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import redis
import structlog
from django.conf import settings
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


class CallerRateThrottle(BaseThrottle):
    scope = "caller"

    def __init__(self) -> None:
        self.limit, self.period = parse_rate(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][self.scope])
        self._wait: float | None = None

    def allow_request(self, request: Request, view: "APIView") -> bool:
        user: Any = request.user
        if user is None or not getattr(user, "is_authenticated", False):
            return True  # not reached for a failed key: authentication answers 401 first
        now = time.time()
        window = int(now // self.period)
        key = f"throttle:{self.scope}:{user.pk}:{window}"
        try:
            with _redis().pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, self.period + 1)
                count, _ = pipe.execute()
        except redis.RedisError as exc:
            logger.error("throttle.redis_unavailable", error=str(exc))
            return True
        if int(count) <= self.limit:
            return True
        self._wait = math.ceil((window + 1) * self.period - now)
        return False

    def wait(self) -> float | None:
        return self._wait
