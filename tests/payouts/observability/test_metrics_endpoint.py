"""`GET /metrics`: refused without the bearer token, and with it every metric the service keeps,
in the Prometheus text format, the gauges read from the database and Redis as they are now."""

import os
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from payouts import metrics
from payouts.models import DeliveryStatus, PayoutStatus, WebhookDelivery, WebhookEndpoint
from payouts.notifications import delivery
from payouts.notifications.endpoints import endpoint_create
from payouts.observability.ledger import ledger_check_record
from payouts.observability.state import client_webhook_lag_seconds
from payouts.transitions import Actor, payout_transition
from tests.payouts.factories import OrganizationFactory, PayoutFactory

URL = "/metrics"

COUNTERS_AND_HISTOGRAMS = [
    "payouts_created",
    "payouts_transitions",
    "payouts_create_duration_seconds",
    "payouts_bank_calls",
    "payouts_bank_call_duration_seconds",
    "payouts_bank_webhooks",
    "payouts_reconciler_claimed",
    "payouts_reconciler_actions",
    "payouts_client_webhook_deliveries",
    "payouts_client_webhook_delivery_duration_seconds",
    "payouts_client_webhook_endpoints_disabled",
    "payouts_batches_created",
    "payouts_batch_items",
    "payouts_ledger_checks",
]
GAUGES = [
    "payouts_in_status",
    "payouts_in_flight",
    "payouts_oldest_in_flight_seconds",
    "payouts_oldest_new_seconds",
    "payouts_stuck",
    "payouts_broker_up",
    "payouts_queue_messages",
    "payouts_queue_oldest_message_seconds",
    "payouts_ledger_check_ok",
    "payouts_ledger_check_violations",
    "payouts_ledger_check_timestamp_seconds",
    "payouts_client_webhook_endpoints",
    "payouts_client_webhook_delivery_lag_seconds",
]
USUAL = [
    "http_requests",
    "http_request_duration_seconds",
    "process_cpu_seconds",
    "process_resident_memory_bytes",
]


def scrape(client: Client) -> dict[str, Any]:
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {settings.METRICS_TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", "Basic dev-metrics-token", "dev-metrics-token", "Bearer "],
    ids=["none", "wrong-token", "other-scheme", "no-scheme", "empty"],
)
def test_metrics_are_refused_without_the_token(authorization: str | None) -> None:
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}

    response = Client().get(URL, **headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"payouts_" not in response.content


@pytest.mark.django_db
def test_with_no_token_configured_nobody_gets_the_metrics(settings: Any) -> None:
    settings.METRICS_TOKEN = ""

    response = Client().get(URL, HTTP_AUTHORIZATION="Bearer ")

    assert response.status_code == 401


@pytest.mark.django_db
def test_metrics_switched_off_answer_404(settings: Any) -> None:
    settings.METRICS_ENABLED = False

    response = Client().get(URL, HTTP_AUTHORIZATION="Bearer dev-metrics-token")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_with_the_token_every_metric_is_there_with_its_help() -> None:
    ledger_check_record()  # the ledger's gauges exist once a check has run

    families = scrape(Client())

    for name in COUNTERS_AND_HISTOGRAMS + GAUGES + USUAL:
        assert name in families, name
        assert families[name].documentation, name
    for name in COUNTERS_AND_HISTOGRAMS + GAUGES:
        assert families[name].samples, name  # each series exists from the start, at 0 if need be
    assert families["payouts_ledger_check_ok"].samples[0].value == 1
    queues = {s.labels["queue"] for s in families["payouts_queue_messages"].samples}
    assert queues == {"payouts", "fake_bank", "webhooks"}
    assert families["payouts_broker_up"].samples[0].value == 1
    assert {s.labels["pid"] for s in families["process_cpu_seconds"].samples} >= {str(os.getpid())}


@pytest.mark.django_db
def test_the_gauges_are_the_state_now(settings: Any) -> None:
    settings.STUCK_AFTER_HOURS = 1.0
    now = timezone.now()
    PayoutFactory(status=PayoutStatus.NEW)
    PayoutFactory(status=PayoutStatus.PROCESSING, processing_at=now - timedelta(minutes=5))
    PayoutFactory(status=PayoutStatus.SUBMITTED, processing_at=now - timedelta(hours=2))
    PayoutFactory(status=PayoutStatus.PAID, processing_at=now - timedelta(hours=9))

    families = scrape(Client())

    in_status = {s.labels["status"]: s.value for s in families["payouts_in_status"].samples}
    assert in_status == {"new": 1, "processing": 1, "submitted": 1}
    assert families["payouts_in_flight"].samples[0].value == 2
    assert families["payouts_stuck"].samples[0].value == 1
    oldest = families["payouts_oldest_in_flight_seconds"].samples[0].value
    assert 2 * 3600 <= oldest < 2 * 3600 + 60


@pytest.mark.django_db
def test_the_delivery_lag_is_the_oldest_message_due_to_a_healthy_endpoint_or_event_not_fanned_out() -> None:
    start = timezone.now()
    organization = OrganizationFactory()
    healthy, failing = (
        endpoint_create(organization=organization, url=f"http://127.0.0.1:9/{name}", enabled_events=["*"])
        for name in ("healthy", "failing")
    )
    WebhookEndpoint.objects.filter(pk=failing.pk).update(failing_since=start - timedelta(hours=1))

    def paid_at(at: Any) -> None:
        with time_machine.travel(at, tick=False):
            payout = PayoutFactory(organization=organization, status=PayoutStatus.SUBMITTED)
            payout_transition(payout_id=payout.pk, to_status=PayoutStatus.PAID, actor=Actor.BANK)

    def healthy_sent() -> None:
        WebhookDelivery.objects.filter(endpoint=healthy).update(
            status=DeliveryStatus.SUCCEEDED, next_attempt_at=None
        )

    # given the events up to now fanned out (their messages due at once), the failing endpoint's
    # retries due for half an hour, and one event written 2 minutes later, not yet fanned out
    paid_at(start)
    with time_machine.travel(start, tick=False):
        delivery.events_fan_out()
    WebhookDelivery.objects.filter(endpoint=failing).update(next_attempt_at=start - timedelta(minutes=30))
    paid_at(start + timedelta(minutes=2))
    assert client_webhook_lag_seconds(now=start - timedelta(minutes=1)) == 0  # nothing due yet

    # then, 5 minutes in, the healthy endpoint's messages have waited 5 minutes, the event 3
    assert client_webhook_lag_seconds(now=start + timedelta(minutes=5)) == 300
    # once they have gone out, only the event waits; the failing endpoint's backlog is its own
    healthy_sent()
    assert client_webhook_lag_seconds(now=start + timedelta(minutes=5)) == 180
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        delivery.events_fan_out()
    healthy_sent()
    assert client_webhook_lag_seconds(now=start + timedelta(minutes=5)) == 0
    lag = scrape(Client())["payouts_client_webhook_delivery_lag_seconds"].samples[0].value
    assert lag == 0


def test_no_label_names_a_payout_or_an_organisation() -> None:
    """Labels take few values: a payout id, an INN or a URL as a label would make a series each."""
    allowed = {
        *("currency", "source", "from_status", "to_status", "actor", "operation", "outcome", "reason"),
        *("action", "result", "method", "view", "status"),
    }
    for value in vars(metrics).values():
        labelnames = getattr(value, "_labelnames", None)
        if labelnames is not None:
            assert set(labelnames) <= allowed, labelnames
