"""Two views: POST inserts one row in a transaction; GET returns the newest 20 rows."""

import json
from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

PAGE_SIZE = 20


def _row(columns: list[str], values: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(columns, values, strict=True))


@require_POST
def write(request: HttpRequest) -> HttpResponse:
    body = json.loads(request.body)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_ceiling_write (amount, currency, recipient) VALUES (%s, %s, %s)"
            " RETURNING id, amount, currency, recipient, created_at",
            [body["amount"], body["currency"], json.dumps(body["recipient"])],
        )
        columns = [column.name for column in cursor.description]
        row = _row(columns, cursor.fetchone())
    return JsonResponse(row, status=201)


@require_GET
def read(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, amount, currency, recipient, created_at FROM bench_ceiling_read"
            " ORDER BY created_at DESC, id DESC LIMIT %s",
            [PAGE_SIZE],
        )
        columns = [column.name for column in cursor.description]
        rows = [_row(columns, values) for values in cursor.fetchall()]
    return JsonResponse({"results": rows})


urlpatterns = [path("write/", write), path("read/", read)]
