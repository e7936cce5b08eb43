"""Statements per request, counted as the PostgreSQL server sees them. Works under any settings
module (the project's or the ceiling's): it imports nothing of the project."""

import json
import re
import sys
import tempfile
import uuid
from collections import Counter
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from psycopg import pq

# libpq's protocol trace: one CommandComplete message per statement the server completed.
COMMAND_COMPLETE = re.compile(r'^B\t\d+\tCommandComplete\t "([^"]*)"', re.MULTILINE)


def emit(document: Any) -> None:
    sys.stdout.write(json.dumps(document) + "\n")


def statements_of(request: dict[str, Any]) -> dict[str, Any]:
    """Make the request twice through Django's test Client and count the second time (the first
    opens the connection and warms caches). The count is what the server received: libpq's protocol
    trace is switched on for the request, and each CommandComplete is one statement, so BEGIN,
    COMMIT and SAVEPOINTs count as they happen. Django's own view (`CaptureQueriesContext`) is kept
    for the SQL text and as a cross-check."""
    client = Client()

    def call(idempotency_key: str) -> int:
        headers = {
            f"HTTP_{name.upper().replace('-', '_')}": value for name, value in request["headers"].items()
        }
        if request.get("unique_key"):
            headers["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
        response = client.generic(
            request["method"],
            request["path"],
            data=request.get("body", ""),
            content_type="application/json",
            **headers,
        )
        return response.status_code

    warm_status = call(f"bench-count-{uuid.uuid4().hex}")
    connection.ensure_connection()
    raw = connection.connection
    with tempfile.TemporaryFile() as trace, CaptureQueriesContext(connection) as captured:
        raw.pgconn.trace(trace.fileno())
        raw.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        status = call(f"bench-count-{uuid.uuid4().hex}")
        if connection.connection is raw:
            raw.pgconn.untrace()
        else:
            raise SystemExit("the database connection changed during the request; the count is lost")
        trace.seek(0)
        text = trace.read().decode("utf-8", "replace")
    tags = [tag.split(" ")[0] for tag in COMMAND_COMPLETE.findall(text)]
    return {
        "status": [warm_status, status],
        "statements": len(tags),
        "by_command": dict(Counter(tags)),
        "django_queries": len(captured.captured_queries),
        "sql": [query["sql"] for query in captured.captured_queries],
    }
