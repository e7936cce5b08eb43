"""Liveness (the process answers) and readiness (the database answers; the broker, or `degraded`;
and how many payouts are stuck)."""

from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET
from redis import Redis
from redis.exceptions import RedisError

from payouts.bank.reconciliation import stuck_payouts


@require_GET
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def _broker_ok() -> bool:
    try:
        client = Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except RedisError:
        return False


@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Without the database nothing can be served: 503. Without the broker the API still takes and
    shows payouts (they wait for the broker at the dispatcher): `degraded`, 200, naming it. Either
    way the count of stuck payouts (see `stuck_payouts`) when the database answers."""
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    down = [name for name, ok in checks.items() if not ok]
    if not checks["database"]:
        return JsonResponse({"status": "unavailable", "down": down, "checks": checks}, status=503)
    body: dict[str, Any] = {"status": "degraded" if down else "ok", "checks": checks}
    if down:
        body["degraded"] = down
    body["stuck_payouts"] = stuck_payouts().count()
    return JsonResponse(body)
