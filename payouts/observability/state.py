"""Gauges read when Prometheus scrapes: payouts waiting and in flight, the oldest of each, the stuck
ones, the Celery queues, the last ledger check, client endpoints and how late their messages are;
and each live process's CPU and memory. Each is a cheap query or two on partial indexes, or one
Redis call."""

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Count, Min, OuterRef, Subquery
from django.utils import timezone
from prometheus_client import ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric
from redis import Redis
from redis.exceptions import RedisError

from payouts.bank.reconciliation import stuck_payouts
from payouts.models import (
    DeliveryStatus,
    Event,
    LedgerCheckRun,
    Payout,
    PayoutStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from payouts.transitions import IN_FLIGHT_STATUSES

# Set on every message this service's Celery app publishes (`config.celery`): how long the oldest
# message of a queue has waited.
PUBLISHED_AT_HEADER = "published_at"


@dataclass(frozen=True)
class PayoutState:
    waiting: int  # `new`: not yet handed to the bank
    processing: int
    submitted: int
    oldest_waiting_seconds: float
    oldest_in_flight_seconds: float
    stuck: int

    @property
    def in_flight(self) -> int:
        return self.processing + self.submitted


def payout_state(now: datetime | None = None) -> PayoutState:
    now = now or timezone.now()
    waiting = Payout.objects.filter(status=PayoutStatus.NEW).aggregate(
        n=Count("id"), oldest=Min("created_at")
    )
    in_flight: dict[str, dict[str, Any]] = {
        row["status"]: dict(row)
        for row in Payout.objects.filter(status__in=IN_FLIGHT_STATUSES)
        .values("status")
        .annotate(n=Count("id"), oldest=Min("processing_at"))
    }
    oldest_in_flight = min((row["oldest"] for row in in_flight.values() if row["oldest"]), default=None)
    return PayoutState(
        waiting=waiting["n"],
        processing=in_flight.get(PayoutStatus.PROCESSING, {}).get("n", 0),
        submitted=in_flight.get(PayoutStatus.SUBMITTED, {}).get("n", 0),
        oldest_waiting_seconds=_age(now, waiting["oldest"]),
        oldest_in_flight_seconds=_age(now, oldest_in_flight),
        stuck=stuck_payouts().count(),
    )


def client_webhook_lag_seconds(now: datetime | None = None) -> float:
    """How long the oldest message owed to a healthy endpoint (enabled, not failing) has been due,
    or the oldest event not yet fanned out has waited; 0 when none. It grows when the webhooks
    worker is down or cannot keep up (it runs at the lowest CPU priority, so a machine the money path
    keeps busy delays it); an endpoint that fails waits on its retry schedule and is left out."""
    now = now or timezone.now()
    unfanned = Event.objects.filter(fanned_out_at__isnull=True).aggregate(oldest=Min("created_at"))
    first_due = (
        WebhookDelivery.objects.filter(endpoint=OuterRef("pk"), status=DeliveryStatus.PENDING)
        .order_by("next_attempt_at")
        .values("next_attempt_at")[:1]
    )
    due = (
        WebhookEndpoint.objects.filter(disabled=False, failing_since__isnull=True)
        .annotate(first_due=Subquery(first_due))
        .aggregate(oldest=Min("first_due"))
    )
    return max(_age(now, unfanned["oldest"]), _age(now, due["oldest"]))


def _age(now: datetime, since: datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since else 0.0


@dataclass(frozen=True)
class QueueState:
    name: str
    messages: int
    oldest_seconds: float  # 0 when empty, or when its oldest message carries no publication time


def queue_names() -> list[str]:
    names = {settings.CELERY_TASK_DEFAULT_QUEUE, *(r["queue"] for r in settings.CELERY_TASK_ROUTES.values())}
    if not settings.FAKE_BANK_ENABLED:
        names.discard("fake_bank")
    return sorted(names)


def queue_states() -> list[QueueState] | None:
    """Each Celery queue's length and the age of its oldest message (kombu's Redis transport pushes
    on the left and takes from the right: the oldest is the last element); None when the broker
    does not answer."""
    now = timezone.now().timestamp()
    names = queue_names()
    client = Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        with client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.llen(name)
                pipe.lindex(name, -1)
            answers = pipe.execute()
    except RedisError:
        return None
    finally:
        client.close()
    states = []
    for index, name in enumerate(names):
        length, oldest = answers[2 * index], answers[2 * index + 1]
        states.append(QueueState(name, int(length), _message_age(now, oldest)))
    return states


def _message_age(now: float, raw: bytes | None) -> float:
    if raw is None:
        return 0.0
    try:
        published = float(json.loads(raw)["headers"][PUBLISHED_AT_HEADER])
    except (ValueError, KeyError, TypeError):
        return 0.0
    return max(0.0, now - published)


class StateCollector:
    """The gauges above, for `/metrics` (a prometheus-client custom collector)."""

    def collect(self) -> Iterator[Metric]:
        state = payout_state()
        by_status = GaugeMetricFamily(
            "payouts_in_status",
            "Payouts not final, by status (new: waiting for the dispatcher).",
            labels=["status"],
        )
        by_status.add_metric(["new"], state.waiting)
        by_status.add_metric(["processing"], state.processing)
        by_status.add_metric(["submitted"], state.submitted)
        yield by_status
        yield GaugeMetricFamily(
            "payouts_in_flight",
            "Payouts handed to the bank and not final (processing, submitted).",
            value=state.in_flight,
        )
        yield GaugeMetricFamily(
            "payouts_oldest_in_flight_seconds",
            "Age of the oldest in-flight payout, since it left new (0 when none).",
            value=state.oldest_in_flight_seconds,
        )
        yield GaugeMetricFamily(
            "payouts_oldest_new_seconds",
            "Age of the oldest payout still new, not yet handed to a worker (0 when none).",
            value=state.oldest_waiting_seconds,
        )
        yield GaugeMetricFamily(
            "payouts_stuck", "Payouts in flight longer than STUCK_AFTER_HOURS.", value=state.stuck
        )
        yield from _queue_metrics()
        yield from _ledger_metrics()
        endpoints = GaugeMetricFamily(
            "payouts_client_webhook_endpoints", "Client webhook endpoints, by state.", labels=["state"]
        )
        counts = dict(WebhookEndpoint.objects.values_list("disabled").annotate(n=Count("id")))
        endpoints.add_metric(["enabled"], counts.get(False, 0))
        endpoints.add_metric(["disabled"], counts.get(True, 0))
        yield endpoints
        yield GaugeMetricFamily(
            "payouts_client_webhook_delivery_lag_seconds",
            "How long the oldest message to an endpoint that is not failing has been due, or the "
            "oldest event not yet fanned out has waited (0 when none).",
            value=client_webhook_lag_seconds(),
        )


def _queue_metrics() -> Iterator[Metric]:
    states = queue_states()
    yield GaugeMetricFamily(
        "payouts_broker_up", "1 when the broker (Redis) answered this scrape.", value=int(states is not None)
    )
    if states is None:
        return
    depth = GaugeMetricFamily(
        "payouts_queue_messages", "Messages waiting in a Celery queue.", labels=["queue"]
    )
    age = GaugeMetricFamily(
        "payouts_queue_oldest_message_seconds",
        "How long the oldest message of a Celery queue has waited (0 when empty).",
        labels=["queue"],
    )
    for queue in states:
        depth.add_metric([queue.name], queue.messages)
        age.add_metric([queue.name], queue.oldest_seconds)
    yield depth
    yield age


def _ledger_metrics() -> Iterator[Metric]:
    last = LedgerCheckRun.objects.order_by("-checked_at").first()
    if last is None:
        return  # never run: the alert on its age fires (absent)
    yield GaugeMetricFamily(
        "payouts_ledger_check_ok",
        "1 when the last periodic ledger check found no violation.",
        value=int(last.ok),
    )
    yield GaugeMetricFamily(
        "payouts_ledger_check_violations",
        "Violations the last periodic ledger check found.",
        value=last.violation_count,
    )
    yield GaugeMetricFamily(
        "payouts_ledger_check_timestamp_seconds",
        "When the last periodic ledger check ran (Unix time).",
        value=last.checked_at.timestamp(),
    )


_PID_IN_FILE_NAME = re.compile(r"_(\d+)\.db$")


class ProcessesCollector:
    """prometheus-client's process metrics (CPU, memory, open files) of every live process writing
    to the metrics directory, labelled by pid: in multiprocess mode its own collector would see only
    the process answering the scrape."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)

    def collect(self) -> Iterator[Metric]:
        pids = {
            int(m.group(1)) for p in self.directory.glob("*.db") if (m := _PID_IN_FILE_NAME.search(p.name))
        }
        merged: dict[str, Metric] = {}
        for pid in sorted(pids):
            if not Path(f"/proc/{pid}").exists():
                continue  # ended: its counters stay in its files, it has no CPU or memory
            for family in ProcessCollector(pid=_constant(pid), registry=None).collect():
                into = merged.setdefault(family.name, Metric(family.name, family.documentation, family.type))
                for sample in family.samples:
                    into.add_sample(sample.name, {**sample.labels, "pid": str(pid)}, sample.value)
        yield from merged.values()


def _constant(pid: int) -> Callable[[], int]:
    return lambda: pid
