"""Fixtures for the simulated bank: its settings, a recorder for its queued tasks, a client that
speaks its API, a respx stand-in for the service's webhook endpoint, and what the tests of its web
page share."""

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import respx
from celery import current_app
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.test import Client

from fake_bank import tasks
from fake_bank.models import BankPayout, BankPayoutStatus, BankPolicy, IncomingTransfer, Webhook
from fake_bank.signing import keypair_generate
from tests.fake_bank.factories import BankPayoutFactory

API_TOKEN = "bank-test-token"
WEBHOOK_URL = "http://service.test/api/webhooks/bank/"
API = "/fake-bank/api"
BIC = "044525225"
ACCOUNTS = {
    "normal": "40702810938000000001",
    "0002": "40702810238000000002",
    "0003": "40702810538000000003",
    "0004": "40702810838000000004",
    "0005": "40702810138000000005",
    "0006": "40702810438000000006",
    "0007": "40702810738000000007",
}


@pytest.fixture(scope="session")
def signing_keypair() -> tuple[str, str]:
    return keypair_generate()


@pytest.fixture(autouse=True)
def fake_bank_settings(settings: Any, signing_keypair: tuple[str, str]) -> Any:
    settings.ROOT_URLCONF = "tests.fake_bank.urls"
    settings.FAKE_BANK_API_TOKEN = API_TOKEN
    settings.FAKE_BANK_WEBHOOK_URL = WEBHOOK_URL
    settings.FAKE_BANK_SIGNING_KEYS = [signing_keypair[0]]
    settings.FAKE_BANK_DEFAULT_OUTCOME = "paid"
    settings.FAKE_BANK_EXECUTION_DELAY_SECONDS = 0.0
    settings.FAKE_BANK_WEBHOOK_RETRY_SCALE = 0.001
    settings.FAKE_BANK_WEBHOOK_TIMEOUT_SECONDS = 1.0
    return settings


@dataclass
class QueuedTask:
    name: str
    kwargs: dict[str, Any]
    countdown: float


@dataclass
class TaskQueue:
    """What the bank queued (instead of Redis), and a way to run it like a worker would."""

    capture: Any
    queued: list[QueuedTask] = field(default_factory=list)

    def record(
        self, name: str, args: Any = None, kwargs: Any = None, countdown: Any = None, **_: Any
    ) -> None:
        assert not args, "the bank's tasks are queued with keyword arguments"
        self.queued.append(QueuedTask(name, dict(kwargs or {}), float(countdown or 0.0)))

    def names(self) -> list[str]:
        return [task.name for task in self.queued]

    def run_next(self) -> QueuedTask:
        """Run the oldest queued task, its on-commit hooks included (they may queue more)."""
        task = self.queued.pop(0)
        runner: Any = {
            "fake_bank.tasks.execute_payout": tasks.execute_payout,
            "fake_bank.tasks.deliver_webhook": tasks.deliver_webhook,
        }[task.name]
        with self.capture(execute=True):
            runner(**task.kwargs)
        return task

    def run_all(self, limit: int = 50) -> list[QueuedTask]:
        ran: list[QueuedTask] = []
        while self.queued:
            assert len(ran) < limit, "the bank keeps queueing tasks"
            ran.append(self.run_next())
        return ran


@pytest.fixture(autouse=True)
def task_queue(monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any) -> TaskQueue:
    queue = TaskQueue(capture=django_capture_on_commit_callbacks)
    # The bank queues its tasks by name (the services do not import fake_bank.tasks), so the
    # recorder stands in for the Celery app's send_task: the edge between the bank and the broker.
    monkeypatch.setattr(current_app, "send_task", queue.record)
    return queue


class BankApi:
    """The bank's API as a client calls it, with on-commit hooks run as after a real commit."""

    def __init__(self, capture: Any, token: str = API_TOKEN) -> None:
        self.capture = capture
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def post(self, path: str, body: Any = None, *, key: str | None = None, raw: bytes | None = None) -> Any:
        headers = {"Idempotency-Key": key} if key is not None else {}
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        with self.capture(execute=True):
            return self.client.post(
                f"{API}{path}", data=data, content_type="application/json", headers=headers
            )

    def get(self, path: str) -> Any:
        return self.client.get(f"{API}{path}")

    def submit(self, *, account: str = ACCOUNTS["normal"], key: str | None = None, **overrides: Any) -> Any:
        body = payout_body(account=account, **overrides)
        return self.post("/payouts", body, key=key or body["reference"])


def payout_body(*, account: str = ACCOUNTS["normal"], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reference": str(uuid.uuid4()),
        "amount": 10050,
        "currency": "RUB",
        "recipient": {"name": "Ivan Petrov", "account_number": account, "bic": BIC},
        "description": "March fee",
    }
    body.update(overrides)
    return body


@pytest.fixture
def bank(django_capture_on_commit_callbacks: Any) -> BankApi:
    return BankApi(django_capture_on_commit_callbacks)


@pytest.fixture
def webhook_receiver() -> Iterator[respx.Route]:
    """The service's webhook endpoint: answers 204 unless a test says otherwise."""
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock.post(WEBHOOK_URL).mock(return_value=httpx.Response(204))


def public_key(whpk: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(whpk.removeprefix("whpk_")))


def verified_signatures(request: httpx.Request, whpk: str) -> list[bool]:
    """For each ``v1a`` entry of the request's signature header: does it verify with this key?"""
    key = public_key(whpk)
    content = (
        f"{request.headers['webhook-id']}.{request.headers['webhook-timestamp']}.".encode() + request.content
    )
    results = []
    for entry in request.headers["webhook-signature"].split(" "):
        version, _, encoded = entry.partition(",")
        assert version == "v1a"
        try:
            key.verify(base64.b64decode(encoded), content)
        except InvalidSignature:
            results.append(False)
        else:
            results.append(True)
    return results


# --- The simulator's page (test_page.py, test_page_actions.py) -------------------------------

PAGE = "/fake-bank/"
TRANSFER_FORM = {
    "payer_inn": "7707083893",
    "amount": "1500.25",
    "currency": "RUB",
    "document_number": "PP-17",
    "document_date": "2026-11-22",
}


@pytest.fixture
def paid_payout(bank: BankApi, task_queue: TaskQueue, webhook_receiver: respx.Route) -> BankPayout:
    """A payout the bank accepted, paid, and announced with one delivered payout.paid webhook."""
    bank.submit(amount=1000050)
    task_queue.run_all()
    return BankPayout.objects.get(status=BankPayoutStatus.PAID)


# Every form on the page with data it accepts: a path under /fake-bank/ (``targets`` fills it in).
ACTIONS = [
    ("payouts/{payout}/pay", {}),
    ("payouts/{payout}/fail", {"failure_code": "declined"}),
    ("payouts/{payout}/cancel", {}),
    ("payouts/{payout}/drop-next-webhook", {}),
    ("webhooks/{webhook}/resend", {}),
    ("webhooks/{webhook}/send-tampered", {}),
    ("policy", {"outcome": "manual", "failure_code": "declined", "execution_delay_seconds": "0"}),
    ("incoming-transfers", TRANSFER_FORM),
]


@pytest.fixture
def targets(paid_payout: BankPayout) -> dict[str, Any]:
    """An open payout and a delivered webhook for the actions to act on."""
    return {"payout": BankPayoutFactory.create().id, "webhook": Webhook.objects.get(payout=paid_payout).pk}


def books_snapshot() -> list[Any]:
    """All that a page action can change: equal before and after means the action did nothing."""
    return [
        sorted(BankPayout.objects.values_list("id", "status", "drop_next_webhook")),
        sorted(Webhook.objects.values_list("id", "delivery_count")),
        list(BankPolicy.objects.values_list("outcome", "execution_delay_seconds")),
        IncomingTransfer.objects.count(),
    ]
