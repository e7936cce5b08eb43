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

import os

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
# Request lines and headers: gunicorn's own limits (4094 bytes, 100 fields of 8190) answer 400.
accesslog = os.environ.get("WEB_ACCESS_LOG") or None
reload = os.environ.get("WEB_RELOAD", "").lower() in {"1", "true", "yes"}
# No control socket: nothing here uses `gunicornc`, and several gunicorns (the bench's, the image's
# read-only home) would share or fail on its default path.
control_socket_disable = True
