"""`GET /metrics`: the Prometheus exposition of every process of this host, for a bearer token; and
the middleware that counts and times every request.

The counters and histograms come from the files each process writes (`payouts.metrics`), the gauges
from the database and Redis at this moment (`payouts.observability.state`), the process metrics of
each live process. Without `METRICS_TOKEN` nobody is let in; with metrics off, 404.
"""

import hmac
from collections.abc import Callable
from time import perf_counter

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from payouts.api.errors import envelope, rate_limited
from payouts.api.throttling import RateLimit, client_ip
from payouts.metrics import HTTP_REQUESTS, HTTP_SECONDS
from payouts.observability.snapshots import metrics_dir
from payouts.observability.state import ProcessesCollector, StateCollector


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    directory = metrics_dir()
    if directory is None:
        return JsonResponse(envelope("not_found", "Metrics are off (METRICS_ENABLED=false)."), status=404)
    if not _token_ok(request):
        wait = RateLimit("anonymous").hit(client_ip(request))  # a token guesser is slowed as a key guesser
        if wait is not None:
            return rate_limited("Too many requests.", wait)
        return JsonResponse(
            envelope("not_authenticated", "Metrics need `Authorization: Bearer <METRICS_TOKEN>`."),
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    registry.register(StateCollector())
    registry.register(ProcessesCollector(directory))
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def _token_ok(request: HttpRequest) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    expected = settings.METRICS_TOKEN
    return (
        bool(expected)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(token.encode(), expected.encode())
    )


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_metrics(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Count and time each request by method, route name and status (`http_requests_total`,
    `http_request_duration_seconds`): the first middleware, so its time is the whole stack's. Two
    series updates a request; labels never carry a path or an id."""

    def middleware(request: HttpRequest) -> HttpResponse:
        started = perf_counter()
        response = get_response(request)
        match = request.resolver_match
        view = (match.view_name if match else "") or "<unmatched>"
        method = request.method if request.method in _METHODS else "<other>"
        HTTP_SECONDS.labels(method, view).observe(perf_counter() - started)
        HTTP_REQUESTS.labels(method, view, str(response.status_code)).inc()
        return response

    return middleware
