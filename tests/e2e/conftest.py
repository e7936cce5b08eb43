"""End-to-end harness: the live server (service, simulated bank and webhook inbox on one port), the
dispatcher and the client webhooks' poll in threads, a real Celery worker consuming the three
queues from the real Redis, real HTTP both ways, real signed webhooks. Nothing is mocked; only the
clock may be moved."""

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from config.celery import app as celery_app
from fake_bank.models import WebhookAttempt
from payouts.bank.adapter import bank_client
from payouts.dispatch import dispatch_forever
from payouts.models import IncomingTransfer, Organization
from payouts.tasks import deliver_webhooks
from provider.signatures import generate_keypair
from tests.payouts.factories import OrganizationFactory, client_for

WAIT_SECONDS = 20.0


@pytest.fixture
def money_path(live_server: Any, transactional_db: Any) -> Iterator[str]:
    """Point the service at the bank and the bank at the service, over the live server's HTTP, with a
    fresh webhook key pair, and run the dispatcher and a worker for both queues. Yields the live
    server's URL."""
    secret, public = generate_keypair()
    with override_settings(
        BANK_API_URL=f"{live_server.url}/fake-bank/api",
        FAKE_BANK_WEBHOOK_URL=f"{live_server.url}/api/webhooks/bank/",
        FAKE_BANK_SIGNING_KEYS=[secret],
        BANK_WEBHOOK_PUBLIC_KEYS=[public],
    ):
        bank_client.cache_clear()
        celery_app.control.purge()
        with start_worker(
            celery_app,
            pool="threads",
            concurrency=4,
            perform_ping_check=False,
            queues=["payouts", "fake_bank", "webhooks"],
            shutdown_timeout=30,
        ):
            stop = threading.Event()
            dispatcher = threading.Thread(target=_dispatch_until, args=(stop,), name="dispatcher")
            webhooks = threading.Thread(target=_poll_webhooks_until, args=(stop,), name="webhooks-beat")
            dispatcher.start()
            webhooks.start()
            try:
                yield live_server.url
            finally:
                stop.set()
                dispatcher.join(timeout=10)
                webhooks.join(timeout=10)
        bank_client.cache_clear()


def _poll_webhooks_until(stop: threading.Event) -> None:
    """What beat does every WEBHOOK_POLL_SECONDS: fan events out, hand endpoints to the worker."""
    try:
        while not stop.wait(0.1):
            deliver_webhooks()
    finally:
        connection.close()


def _dispatch_until(stop: threading.Event) -> None:
    try:
        dispatch_forever(stop)
    finally:
        connection.close()  # this thread's connection, before the test database goes


FUNDING_MINOR = 1_000_000  # 10,000.00 RUB


DEMO_INN = "7707083893"
BIC = "044525225"
# An account passing the BIC control-key check (docs/simulator.md: "Magic values").
PLAIN_ACCOUNT = "40702810938000000001"  # no magic ending: the bank follows its policy (default: pays)


def balance(api: APIClient, inn: str) -> dict[str, Any]:
    response = api.get(f"/api/organizations/{inn}/balance/")
    assert response.status_code == 200, response.content
    return dict(response.json())


def rub(api: APIClient) -> dict[str, str]:
    """The funded organisation's RUB row of its balance: available, pending and posted."""
    [row] = [b for b in balance(api, DEMO_INN)["balances"] if b["currency"] == "RUB"]
    return dict(row)


def create(api: APIClient, account: str, key: str, amount: str = "100.50") -> dict[str, Any]:
    """A RUB payout to `account` created through the API (201)."""
    body = {
        "amount": amount,
        "currency": "RUB",
        "recipient": {"name": "Ivan Petrov", "account_number": account, "bic": BIC},
        "description": "e2e",
    }
    response = api.post("/api/payouts/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 201, response.content
    return dict(response.json())


def status_becomes(api: APIClient, payout_id: str, status: str, what: str = "") -> dict[str, Any]:
    """Wait until the API shows the payout in `status`; return its body then."""

    def current() -> dict[str, Any] | None:
        body = api.get(f"/api/payouts/{payout_id}/").json()
        return body if body["status"] == status else None

    return dict(wait_for(current, what=what or f"payout {payout_id} to become {status}"))


@pytest.fixture
def funded_org(money_path: str) -> Organization:
    """The demo organisation, funded the way `make run` does it: the bank sends an incoming transfer
    (POST /fake-bank/api/incoming-transfers), delivered as a signed webhook to the service."""
    organization = OrganizationFactory(inn=DEMO_INN, name="Demo LLC")
    response = httpx.post(
        f"{money_path}/fake-bank/api/incoming-transfers",
        headers={"Authorization": f"Bearer {settings.FAKE_BANK_API_TOKEN}", "Idempotency-Key": "e2e-funding"},
        json={
            "payer_inn": organization.inn,
            "amount": FUNDING_MINOR,
            "currency": "RUB",
            "document_number": "E2E-1",
            "document_date": "2026-11-22",
        },
    )
    assert response.status_code == 201, response.text
    wait_for(
        lambda: IncomingTransfer.objects.filter(organization=organization, status="credited").exists(),
        what="the incoming transfer to be credited",
    )
    return organization


@pytest.fixture
def ledger_is_consistent(funded_org: Organization) -> Iterator[None]:
    """After the test, `manage.py ledger_check` must pass."""
    yield
    call_command("ledger_check")


@pytest.fixture
def e2e_api(funded_org: Organization) -> APIClient:
    return client_for(funded_org)


def acknowledged_twice(payout_id: str) -> None:
    """Wait until the bank's webhook about the payout was delivered twice, both answered 200 (the
    simulator's account ending 0006 sends it twice)."""
    answered = WebhookAttempt.objects.filter(webhook__payout__reference=payout_id, status_code=200)
    wait_for(lambda: answered.count() == 2, what="two acknowledged deliveries of one webhook")


def wait_for(condition: Callable[[], Any], *, timeout: float = WAIT_SECONDS, what: str = "condition") -> Any:
    """Poll until `condition()` is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
