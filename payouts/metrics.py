"""The service's Prometheus metrics: every definition, in one module below everything that counts.

Each process of a host (gunicorn's workers, the Celery workers' processes, the dispatcher, beat)
writes its samples to files in one directory (prometheus-client's multiprocess mode: the settings
point `PROMETHEUS_MULTIPROC_DIR` there), and `/metrics` (`payouts.api.metrics`) adds them up, with
the gauges read from the database and Redis at scrape time (`payouts.observability`).

Labels take few values: statuses, actors, operations, outcomes, currencies; never a payout id, an
INN or a URL. Metrics of something that commits are counted once it has committed (`on_commit`),
so that a rolled-back transition counts nothing.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from time import perf_counter

from django.db import transaction
from prometheus_client import Counter, Histogram

from provider.errors import (
    ProviderCancelRefusedError,
    ProviderNotFoundError,
    ProviderRejectedError,
)

# Seconds: from a millisecond create to a bank call near its read timeout.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

PAYOUTS_CREATED = Counter(
    "payouts_created",
    "Payouts created (not idempotent replays), by currency and by how they came: api or batch.",
    ["currency", "source"],
)
TRANSITIONS = Counter(
    "payouts_transitions",
    "Payout status changes committed, by the status left, the status reached and who asked.",
    ["from_status", "to_status", "actor"],
)
CREATE_SECONDS = Histogram(
    "payouts_create_duration_seconds",
    "Time the API took to answer a payout create that succeeded (201, or 200 for a replay).",
    buckets=LATENCY_BUCKETS,
)
HTTP_REQUESTS = Counter(
    "http_requests",
    "Requests the web app answered, by method, the route's name (`<unmatched>` for no route) and "
    "status code.",
    ["method", "view", "status"],
)
HTTP_SECONDS = Histogram(
    "http_request_duration_seconds",
    "Time from a request reaching the first middleware to its response leaving it, by method and route name.",
    ["method", "view"],
    buckets=LATENCY_BUCKETS,
)
BANK_CALLS = Counter(
    "payouts_bank_calls",
    "Calls to the bank's API by operation and outcome: ok, rejected, not_found, cancel_refused, "
    "or error (no definite answer: timeout, 5xx, 429, unreadable).",
    ["operation", "outcome"],
)
BANK_CALL_SECONDS = Histogram(
    "payouts_bank_call_duration_seconds",
    "Time a call to the bank's API took, retries of its connection included, by operation.",
    ["operation"],
    buckets=LATENCY_BUCKETS,
)
BANK_WEBHOOKS = Counter(
    "payouts_bank_webhooks",
    "The bank's webhooks received, by outcome (applied, noop, duplicate, anomaly, ignored, refused) "
    "and, for a refused one, the error code it got.",
    ["outcome", "reason"],
)
RECONCILER_CLAIMED = Counter(
    "payouts_reconciler_claimed",
    "In-flight payouts the reconciler claimed to look up at the bank.",
)
RECONCILER_ACTIONS = Counter(
    "payouts_reconciler_actions",
    "What the reconciler did with a payout it looked up: applied, unchanged, resubmitted, "
    "resubmit_failed, bank_unavailable, unknown_to_bank, mismatch, refused, stuck.",
    ["action"],
)
CLIENT_WEBHOOK_DELIVERIES = Counter(
    "payouts_client_webhook_deliveries",
    "Attempts to deliver an event to a client's endpoint, by outcome: delivered, http_error, "
    "timeout, network_error, address_refused.",
    ["outcome"],
)
CLIENT_WEBHOOK_SECONDS = Histogram(
    "payouts_client_webhook_delivery_duration_seconds",
    "Time a delivery attempt to a client's endpoint took.",
    buckets=LATENCY_BUCKETS,
)
CLIENT_WEBHOOK_ENDPOINTS_DISABLED = Counter(
    "payouts_client_webhook_endpoints_disabled",
    "Client webhook endpoints disabled after failing for WEBHOOK_DISABLE_AFTER_DAYS.",
)
BATCHES_CREATED = Counter("payouts_batches_created", "Payout batches created (not idempotent replays).")
BATCH_ITEMS = Counter(
    "payouts_batch_items",
    "Payouts created as items of a batch, by currency.",
    ["currency"],
)
LEDGER_CHECKS = Counter(
    "payouts_ledger_checks",
    "Runs of the periodic ledger check, by result: ok or violations.",
    ["result"],
)


# The label values each counter can take, so that every series exists at 0 from a process's start: an
# increase over a series that appears only at its first count would miss that count (`series_start`).
BANK_OPERATIONS = ("submit_payout", "find_payout", "list_incoming_transfers", "cancel_payout")
BANK_OUTCOMES = ("ok", "rejected", "not_found", "cancel_refused", "error")
BANK_WEBHOOK_OUTCOMES = ("applied", "noop", "duplicate", "anomaly", "ignored")
RECONCILER_ACTION_NAMES = (
    "applied",
    "unchanged",
    "resubmitted",
    "resubmit_failed",
    "bank_unavailable",
    "unknown_to_bank",
    "mismatch",
    "refused",
    "stuck",
)
DELIVERY_OUTCOMES = ("delivered", "http_error", "timeout", "network_error", "address_refused")
LEDGER_CHECK_RESULTS = ("ok", "violations")


def series_start(
    *, currencies: Iterable[str], transitions: Iterable[tuple[str, str]], actors: Iterable[str]
) -> None:
    """Create every series whose label values are known (at 0). Run once per process, at start."""
    for currency in currencies:
        PAYOUTS_CREATED.labels(currency, "api")
        PAYOUTS_CREATED.labels(currency, "batch")
        BATCH_ITEMS.labels(currency)
    for actor in actors:
        for from_status, to_status in transitions:
            TRANSITIONS.labels(from_status, to_status, actor)
    for operation in BANK_OPERATIONS:
        BANK_CALL_SECONDS.labels(operation)
        for outcome in BANK_OUTCOMES:
            BANK_CALLS.labels(operation, outcome)
    for outcome in BANK_WEBHOOK_OUTCOMES:
        BANK_WEBHOOKS.labels(outcome, "")
    for action in RECONCILER_ACTION_NAMES:
        RECONCILER_ACTIONS.labels(action)
    for outcome in DELIVERY_OUTCOMES:
        CLIENT_WEBHOOK_DELIVERIES.labels(outcome)
    for result in LEDGER_CHECK_RESULTS:
        LEDGER_CHECKS.labels(result)


def count_on_commit(counter: Counter, amount: float = 1.0, **labels: str) -> None:
    """Add AMOUNT to the counter once the current transaction commits (at once outside one). A
    failure to count is logged by Django, never raised into the code that committed (`robust`)."""
    child = counter.labels(**labels) if labels else counter
    transaction.on_commit(lambda: child.inc(amount), robust=True)


@contextmanager
def bank_call(operation: str) -> Iterator[None]:
    """Count and time one call to the bank's API; the outcome is read off its exception."""
    started = perf_counter()
    outcome = "ok"
    try:
        yield
    except ProviderRejectedError:
        outcome = "rejected"
        raise
    except ProviderNotFoundError:
        outcome = "not_found"
        raise
    except ProviderCancelRefusedError:
        outcome = "cancel_refused"
        raise
    except Exception:
        outcome = "error"
        raise
    finally:
        BANK_CALL_SECONDS.labels(operation).observe(perf_counter() - started)
        BANK_CALLS.labels(operation, outcome).inc()
