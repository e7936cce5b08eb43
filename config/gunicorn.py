"""gunicorn's settings for the web app, under `make run` (the Procfile) and in the image.

Threaded workers (`gthread`): WEB_CONCURRENCY processes of WEB_THREADS threads each serve at most
that many requests at once, and each thread keeps at most one PostgreSQL connection, so the web
app's share of the connection budget is WEB_CONCURRENCY x WEB_THREADS (docs/operations.md,
"Connection budget"). Connections beyond that wait in the workers' pollers and the listen backlog,
not in threads: a client that connects and sends nothing is handed back to the poller after five
seconds, an idle kept-alive connection is closed after `keepalive` seconds. In production a
buffering proxy (nginx, a load balancer) in front is still what shields the threads from clients that
trickle a body in slowly.
"""

import json
import os
import socket

from gunicorn import util

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "8"))
# Open connections per worker, kept-alive ones included; the rest wait in the listen backlog.
worker_connections = 1000
backlog = 2048
keepalive = 5
# A worker silent this long (its main loop stuck) is killed and replaced; a stop waits this long for
# requests in flight.
timeout = 30
graceful_timeout = 30
# The workers' heartbeat files in memory, not on a container's overlay disk (where writes can stall).
SHARED_MEMORY = "/dev/shm"  # noqa: S108 (gunicorn creates its files there with mkstemp)
worker_tmp_dir = SHARED_MEMORY if os.path.isdir(SHARED_MEMORY) else None
# Request lines and headers: gunicorn's own limits (4094 bytes: 414; 100 fields of 8190: 431), in
# the error envelope like its 400s (below).
accesslog = os.environ.get("WEB_ACCESS_LOG") or None
reload = os.environ.get("WEB_RELOAD", "").lower() in {"1", "true", "yes"}
# No control socket: nothing here uses `gunicornc`, and several gunicorns (the bench's, the image's
# read-only home) would share or fail on its default path.
control_socket_disable = True


# What gunicorn answers itself, before Django sees the request (a request line, header or
# Content-Length it cannot parse, a URI or headers over its limits), in the API's error envelope
# rather than its HTML page. gunicorn's workers write these through `gunicorn.util.write_error`.
_SERVER_ERROR_CODES = {
    400: "bad_request",
    403: "permission_denied",
    414: "uri_too_long",
    417: "expectation_failed",
    431: "headers_too_large",
    501: "not_implemented",
}


def write_error_envelope(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    code = _SERVER_ERROR_CODES.get(status_int, "internal_error")
    message = f"{reason}: {mesg}"[:300] if mesg else reason
    body = json.dumps({"error": {"code": code, "message": message, "details": {}}}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


util.write_error = write_error_envelope
