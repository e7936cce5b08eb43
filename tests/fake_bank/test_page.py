"""The simulator's web page: what it shows, its refresh fragment, and who may see it. Its actions
are in test_page_actions.py."""

import datetime
from typing import Any

import httpx
import pytest
import respx
from django.contrib.auth.models import User
from django.test import Client
from pytest_django import DjangoAssertNumQueries, Settings

from fake_bank.models import BankPayout, IncomingTransfer, Webhook, WebhookAttempt
from fake_bank.selectors import policy_get
from fake_bank.views import money_text
from tests.fake_bank.conftest import ACCOUNTS, ACTIONS, PAGE, BankApi, TaskQueue, books_snapshot
from tests.fake_bank.factories import BankPayoutFactory

pytestmark = pytest.mark.django_db

ACTIVITY = "/fake-bank/activity"


# --- What the page shows ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "text"),
    [(1, "0.01"), (10050, "100.50"), (1000050, "10,000.50"), (2**63 - 1, "92,233,720,368,547,758.07")],
)
def test_money_text_shows_minor_units_as_a_decimal(minor: int, text: str) -> None:
    assert money_text(minor) == text


def test_page_says_it_is_a_simulator_and_shows_payouts_webhooks_and_attempts(
    client: Client, paid_payout: BankPayout
) -> None:
    # when
    response = client.get(PAGE)
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "This is a SIMULATOR, not a bank." in html
    assert "Simulated bank" in html
    webhook = Webhook.objects.get(payout=paid_payout)
    attempt = WebhookAttempt.objects.get(webhook=webhook)
    for text in [
        paid_payout.id,
        paid_payout.reference,
        "10,000.50",
        "RUB",
        'Ivan Petrov<span class="account">40702810938000000001, BIC 044525225</span>',
        '<span class="status status-paid">paid</span>',
        paid_payout.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        "payout.paid",
        webhook.operation_id,
        '<span class="http http-ok">204</span>',
        attempt.at.strftime("%H:%M:%S"),
    ]:
        assert text in html, text
    # a paid payout has no pay/fail/cancel buttons, its webhook has resend and tampered
    assert f"pay-{paid_payout.id}" not in html
    assert f'id="resend-{webhook.pk}"' in html
    assert f'id="tamper-{webhook.pk}"' in html


def test_page_shows_the_transport_error_of_a_failed_attempt(
    client: Client, bank: BankApi, task_queue: TaskQueue
) -> None:
    # given the service cannot be reached (respx refuses every request)
    bank.submit()
    with respx.mock(assert_all_called=False) as mock:
        mock.post().mock(side_effect=httpx.ConnectError("connection refused"))
        task_queue.run_next()  # execute
        task_queue.run_next()  # the first delivery attempt
    # then the attempt's error is on the page
    html = client.get(PAGE).content.decode()
    assert WebhookAttempt.objects.get().status_code is None
    assert "connection refused" in html


def test_page_lists_payouts_newest_first_and_filters_by_status(client: Client) -> None:
    # given
    now = datetime.datetime(2026, 11, 22, 7, 30, tzinfo=datetime.UTC)
    old = BankPayoutFactory.create(created_at=now - datetime.timedelta(minutes=5))
    new = BankPayoutFactory.create(created_at=now)
    failed = BankPayoutFactory.create(status="failed", failure_code="declined", created_at=now)
    # when
    html = client.get(PAGE).content.decode()
    filtered = client.get(PAGE, {"status": "processing"}).content.decode()
    # then
    assert html.index(new.id) < html.index(old.id)
    assert failed.id in html
    assert old.id in filtered
    assert new.id in filtered
    assert failed.id not in filtered
    assert 'href="/fake-bank/?status=processing#payouts" aria-current="page"' in filtered


def test_page_shows_an_iban_recipient(client: Client) -> None:
    BankPayoutFactory.create(recipient={"name": "Hans Meier", "iban": "DE89370400440532013000"})
    html = client.get(PAGE).content.decode()
    assert 'Hans Meier<span class="account">DE89370400440532013000</span>' in html


def test_page_ignores_an_unknown_status_filter(client: Client) -> None:
    payout = BankPayoutFactory.create()
    response = client.get(PAGE, {"status": "lost"})
    assert response.status_code == 200
    assert payout.id in response.content.decode()


def test_page_shows_incoming_transfers_with_their_webhook(
    client: Client, bank: BankApi, task_queue: TaskQueue, webhook_receiver: respx.Route
) -> None:
    # given
    bank.post(
        "/incoming-transfers",
        {
            "payer_inn": "7707083893",
            "amount": 1000000,
            "currency": "RUB",
            "document_number": "PP-9",
            "document_date": "2026-11-20",
        },
    )
    task_queue.run_all()
    transfer = IncomingTransfer.objects.get()
    # when
    html = client.get(PAGE).content.decode()
    # then
    for text in [transfer.id, "7707083893", "10,000.00", "No. PP-9 of 2026-11-20", "transfer.incoming"]:
        assert text in html, text
    assert f'id="resend-{transfer.webhook_id}"' in html


def test_activity_fragment_is_the_changing_part_only_in_pinned_queries(
    client: Client, django_assert_max_num_queries: DjangoAssertNumQueries, paid_payout: BankPayout
) -> None:
    # given more rows of each kind
    BankPayoutFactory.create_batch(5)
    # when
    with django_assert_max_num_queries(6):
        response = client.get(ACTIVITY)
    # then
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    html = response.content.decode()
    assert paid_payout.id in html
    assert "<html" not in html
    assert "Policy for new payouts" not in html


def test_activity_fragment_keeps_the_status_filter(client: Client) -> None:
    processing = BankPayoutFactory.create()
    canceled = BankPayoutFactory.create(status="canceled")
    html = client.get(ACTIVITY, {"status": "canceled"}).content.decode()
    assert canceled.id in html
    assert processing.id not in html


def test_page_marks_a_processing_payout_with_its_actions(client: Client) -> None:
    payout = BankPayoutFactory.create()
    html = client.get(PAGE).content.decode()
    for control in ["pay", "fail-code", "fail", "cancel", "drop"]:
        assert f'id="{control}-{payout.id}"' in html, control


def test_page_and_fragment_refuse_post(client: Client) -> None:
    assert client.post(PAGE).status_code == 405
    assert client.post(ACTIVITY).status_code == 405


# --- Who may see it --------------------------------------------------------------------------


PAGE_REQUESTS = [("get", PAGE), ("get", ACTIVITY), ("post", "/fake-bank/payouts/{payout}/pay")]


@pytest.fixture
def shared_environment(settings: Settings) -> Settings:
    """The simulator switched on somewhere other than a laptop (staging, a demo box)."""
    settings.ENVIRONMENT = "staging"
    settings.ROOT_URLCONF = "config.urls"  # the admin login is where strangers are sent
    return settings


@pytest.mark.parametrize(("method", "path"), PAGE_REQUESTS)
def test_page_is_open_in_development(client: Client, settings: Settings, method: str, path: str) -> None:
    settings.ENVIRONMENT = "development"
    payout = BankPayoutFactory.create()
    response = getattr(client, method)(path.format(payout=payout.id))
    assert response.status_code in (200, 302)
    assert "/admin/login/" not in response.get("Location", "")


EVERY_ROUTE: list[tuple[str, str, dict[str, str]]] = [("get", "", {}), ("get", "activity", {})] + [
    ("post", path, data) for path, data in ACTIONS
]


@pytest.mark.parametrize(("method", "path", "data"), EVERY_ROUTE)
@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "not-staff"])
def test_page_elsewhere_keeps_out_everyone_but_staff_on_every_route(
    client: Client,
    shared_environment: Settings,
    targets: dict[str, Any],
    task_queue: TaskQueue,
    signed_in: bool,
    method: str,
    path: str,
    data: dict[str, str],
) -> None:
    # given a visitor who is anonymous, or signed in without being staff
    if signed_in:
        client.force_login(User.objects.create_user("clerk"))
    policy_get()
    before = books_snapshot()
    # when
    response = getattr(client, method)(f"/fake-bank/{path.format(**targets)}", data)
    # then the anonymous one is sent to the admin login, the other refused, and nothing happened
    if signed_in:
        assert response.status_code == 403
    else:
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/?next=")
    assert books_snapshot() == before
    assert task_queue.queued == []


@pytest.mark.parametrize(("method", "path"), PAGE_REQUESTS)
def test_page_elsewhere_is_open_to_staff(
    client: Client, shared_environment: Settings, method: str, path: str
) -> None:
    client.force_login(User.objects.create_user("operator", is_staff=True))
    payout = BankPayoutFactory.create()
    response = getattr(client, method)(path.format(payout=payout.id))
    assert response.status_code == (302 if method == "post" else 200)
    if method == "post":
        payout.refresh_from_db()
        assert payout.status == "paid"


def test_page_rule_leaves_the_json_api_to_its_bearer_token(
    shared_environment: Settings, bank: BankApi
) -> None:
    # given no session at all, only the bank's token
    payout = BankPayoutFactory.create()
    # when / then
    assert bank.get(f"/payouts/{payout.id}").status_code == 200
    assert Client().get(f"/fake-bank/api/payouts/{payout.id}").status_code == 401
    assert bank.submit(account=ACCOUNTS["0007"]).status_code == 202
