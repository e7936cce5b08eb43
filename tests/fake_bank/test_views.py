"""The simulator's web page: what it shows, every action it offers (each through the bank's own
services), CSRF on every form, and who may see it."""

import datetime
from typing import Any

import httpx
import pytest
import respx
from django.contrib.auth.models import User
from django.test import Client
from pytest_django import DjangoAssertNumQueries, DjangoCaptureOnCommitCallbacks, Settings

from fake_bank.models import (
    BankPayout,
    BankPayoutStatus,
    BankPolicy,
    IncomingTransfer,
    Webhook,
    WebhookAttempt,
)
from fake_bank.selectors import policy_get
from fake_bank.views import money_text
from tests.fake_bank.conftest import ACCOUNTS, BankApi, TaskQueue
from tests.fake_bank.factories import BankPayoutFactory

pytestmark = pytest.mark.django_db

PAGE = "/fake-bank/"
ACTIVITY = "/fake-bank/activity"
DELIVER = "fake_bank.tasks.deliver_webhook"
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


def post(
    client: Client, capture: DjangoCaptureOnCommitCallbacks, path: str, data: dict[str, str] | None = None
) -> Any:
    """POST a page form and follow the redirect, running on-commit hooks as after a real commit."""
    with capture(execute=True):
        return client.post(path, data or {}, follow=True)


def flashed(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


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


# --- Payout actions --------------------------------------------------------------------------


def test_pay_now_pays_through_the_bank_and_queues_its_webhook(
    client: Client, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks, task_queue: TaskQueue
) -> None:
    # given a payout waiting for a person
    payout = BankPayoutFactory.create()
    # when
    response = post(client, django_capture_on_commit_callbacks, f"/fake-bank/payouts/{payout.id}/pay")
    # then
    assert response.redirect_chain == [(PAGE, 302)]
    payout.refresh_from_db()
    assert payout.status == "paid"
    assert Webhook.objects.get(payout=payout).type == "payout.paid"
    assert task_queue.names() == [DELIVER]
    assert flashed(response) == [f"Payout {payout.id} is paid; the bank sends payout.paid."]


def test_fail_with_a_chosen_code_fails_the_payout(
    client: Client, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks, task_queue: TaskQueue
) -> None:
    payout = BankPayoutFactory.create()
    response = post(
        client,
        django_capture_on_commit_callbacks,
        f"/fake-bank/payouts/{payout.id}/fail",
        {"failure_code": "account_closed"},
    )
    payout.refresh_from_db()
    assert (payout.status, payout.failure_code) == ("failed", "account_closed")
    assert Webhook.objects.get(payout=payout).type == "payout.failed"
    assert task_queue.names() == [DELIVER]
    assert "failed with account_closed" in flashed(response)[0]


@pytest.mark.parametrize("data", [{}, {"failure_code": "bad_luck"}])
def test_fail_without_a_known_code_changes_nothing(
    client: Client, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks, data: dict[str, str]
) -> None:
    payout = BankPayoutFactory.create()
    response = post(client, django_capture_on_commit_callbacks, f"/fake-bank/payouts/{payout.id}/fail", data)
    payout.refresh_from_db()
    assert payout.status == "processing"
    assert flashed(response) == ["Not failed: choose one of the bank's failure codes."]
    assert 'role="alert"' in response.content.decode()


def test_cancel_cancels_the_payout(
    client: Client, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    payout = BankPayoutFactory.create()
    response = post(client, django_capture_on_commit_callbacks, f"/fake-bank/payouts/{payout.id}/cancel")
    payout.refresh_from_db()
    assert payout.status == "canceled"
    assert Webhook.objects.get(payout=payout).type == "payout.canceled"
    assert flashed(response) == [f"Payout {payout.id} is canceled; the bank sends payout.canceled."]


@pytest.mark.parametrize(
    ("status", "action", "data", "message"),
    [
        ("paid", "pay", {}, "Refused (invalid_state): payout {id} is already paid; nothing was done"),
        ("canceled", "pay", {}, "Refused (invalid_state): payout {id} is already canceled; nothing was done"),
        (
            "paid",
            "fail",
            {"failure_code": "declined"},
            "Refused (invalid_state): payout {id} is already paid; nothing was done",
        ),
        ("paid", "cancel", {}, "Refused (already_executed): payout {id} is already paid"),
        (
            "canceled",
            "cancel",
            {},
            "Refused (invalid_state): payout {id} is already canceled; nothing was done",
        ),
        (
            "paid",
            "drop-next-webhook",
            {},
            "Refused (invalid_state): payout {id} is already paid; nothing was done",
        ),
    ],
)
def test_action_on_a_payout_no_longer_open_is_refused_plainly_and_changes_nothing(
    client: Client,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    status: str,
    action: str,
    data: dict[str, str],
    message: str,
) -> None:
    # given a payout that is already final (a second click, or a page older than the bank's decision)
    payout = BankPayoutFactory.create(status=status)
    # when
    response = post(
        client, django_capture_on_commit_callbacks, f"/fake-bank/payouts/{payout.id}/{action}", data
    )
    # then nothing changed, and the page does not claim otherwise
    payout.refresh_from_db()
    assert (payout.status, payout.drop_next_webhook) == (status, False)
    assert Webhook.objects.count() == 0
    assert flashed(response) == [message.format(id=payout.id)]


@pytest.mark.parametrize(("path_id", "shown_id"), [("bp_missing", "bp_missing"), ("bp_%00", "bp_\\x00")])
def test_action_on_an_unknown_payout_is_refused_as_not_found(
    client: Client,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    path_id: str,
    shown_id: str,
) -> None:
    response = post(client, django_capture_on_commit_callbacks, f"/fake-bank/payouts/{path_id}/pay")
    assert response.status_code == 200
    assert flashed(response) == [f"Refused (not_found): no payout with id '{shown_id}'"]


def test_drop_next_webhook_loses_the_payouts_next_webhook(
    client: Client, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks, task_queue: TaskQueue
) -> None:
    # given
    payout = BankPayoutFactory.create()
    # when
    response = post(
        client, django_capture_on_commit_callbacks, f"/fake-bank/payouts/{payout.id}/drop-next-webhook"
    )
    # then the page says so, and offers the button no more
    payout.refresh_from_db()
    assert payout.drop_next_webhook is True
    html = response.content.decode()
    assert "next webhook will be dropped" in html
    assert f'id="drop-{payout.id}"' not in html
    assert "will be lost" in flashed(response)[0]
    # and when a person pays it, the webhook is recorded as dropped and never sent
    response = post(client, django_capture_on_commit_callbacks, f"/fake-bank/payouts/{payout.id}/pay")
    assert Webhook.objects.get(payout=payout).dropped is True
    assert task_queue.names() == []
    assert "lost on purpose" in response.content.decode()


# --- Webhook actions -------------------------------------------------------------------------


def test_send_again_delivers_the_same_message_once_more(
    client: Client,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    task_queue: TaskQueue,
    webhook_receiver: respx.Route,
    paid_payout: BankPayout,
) -> None:
    # given a delivered webhook
    webhook = Webhook.objects.get(payout=paid_payout)
    first = webhook_receiver.calls.last.request
    # when
    response = post(client, django_capture_on_commit_callbacks, f"/fake-bank/webhooks/{webhook.pk}/resend")
    task_queue.run_all()
    # then a second delivery of the same message was made and answered
    assert "sent again as delivery 2" in flashed(response)[0]
    second = webhook_receiver.calls.last.request
    assert second.content == first.content
    assert second.headers["webhook-id"] == first.headers["webhook-id"]
    assert [(a.delivery, a.status_code) for a in WebhookAttempt.objects.filter(webhook=webhook)] == [
        (1, 204),
        (2, 204),
    ]


def test_send_tampered_copy_sends_an_altered_body_once(
    client: Client,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    task_queue: TaskQueue,
    webhook_receiver: respx.Route,
    paid_payout: BankPayout,
) -> None:
    # given
    webhook = Webhook.objects.get(payout=paid_payout)
    webhook_receiver.mock(return_value=respx.MockResponse(401))
    # when
    response = post(
        client, django_capture_on_commit_callbacks, f"/fake-bank/webhooks/{webhook.pk}/send-tampered"
    )
    task_queue.run_all()
    # then one tampered attempt, refused by the receiver, never retried, shown on the page
    assert "the service must refuse it" in flashed(response)[0]
    tampered = WebhookAttempt.objects.get(webhook=webhook, delivery=2)
    assert (tampered.tampered, tampered.status_code, tampered.attempt) == (True, 401, 1)
    assert webhook_receiver.calls.last.request.content != webhook.body.encode()
    html = client.get(PAGE).content.decode()
    assert '<span class="flag">tampered</span>' in html
    assert '<span class="http http-bad">401</span>' in html


def test_a_dropped_webhook_stays_dropped_after_a_tampered_copy_and_is_sent_when_resent(
    client: Client,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    task_queue: TaskQueue,
    webhook_receiver: respx.Route,
) -> None:
    # given a payout whose webhook was lost on purpose
    payout = BankPayoutFactory.create()
    post(client, django_capture_on_commit_callbacks, f"/fake-bank/payouts/{payout.id}/drop-next-webhook")
    post(client, django_capture_on_commit_callbacks, f"/fake-bank/payouts/{payout.id}/pay")
    webhook = Webhook.objects.get(payout=payout)
    # when a tampered copy is sent (and refused)
    webhook_receiver.mock(return_value=respx.MockResponse(401))
    post(client, django_capture_on_commit_callbacks, f"/fake-bank/webhooks/{webhook.pk}/send-tampered")
    task_queue.run_all()
    # then the real message is still lost
    assert '<span class="state state-dropped">dropped</span>' in client.get(PAGE).content.decode()
    # and when it is sent by hand and accepted, it is delivered
    webhook_receiver.mock(return_value=respx.MockResponse(204))
    post(client, django_capture_on_commit_callbacks, f"/fake-bank/webhooks/{webhook.pk}/resend")
    task_queue.run_all()
    assert '<span class="state state-delivered">delivered</span>' in client.get(PAGE).content.decode()


def test_webhook_action_on_an_unknown_webhook_is_refused(
    client: Client, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    response = post(client, django_capture_on_commit_callbacks, "/fake-bank/webhooks/999999/resend")
    assert flashed(response) == ["Refused (not_found): no webhook with id 999999"]


# --- The policy ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected", "message"),
    [
        (
            {"outcome": "manual", "failure_code": "declined", "execution_delay_seconds": "2"},
            ("manual", None, 2.0),
            "Policy saved: new payouts are left for a person to decide on this page.",
        ),
        (
            {"outcome": "failed", "failure_code": "account_frozen", "execution_delay_seconds": "0.5"},
            ("failed", "account_frozen", 0.5),
            "Policy saved: new payouts are failed with account_frozen after 0.5 s.",
        ),
        (
            {"outcome": "paid", "failure_code": "account_frozen", "execution_delay_seconds": "0"},
            ("paid", None, 0.0),
            "Policy saved: new payouts are paid after 0 s.",
        ),
    ],
)
def test_policy_form_sets_what_happens_to_new_payouts(
    client: Client,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    data: dict[str, str],
    expected: tuple[str, str | None, float],
    message: str,
) -> None:
    response = post(client, django_capture_on_commit_callbacks, "/fake-bank/policy", data)
    policy = BankPolicy.objects.get()
    assert (policy.outcome, policy.failure_code, policy.execution_delay_seconds) == expected
    assert flashed(response) == [message]


def test_manual_policy_from_the_page_leaves_new_payouts_for_a_person(
    client: Client,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    bank: BankApi,
    task_queue: TaskQueue,
) -> None:
    # given
    post(
        client,
        django_capture_on_commit_callbacks,
        "/fake-bank/policy",
        {"outcome": "manual", "failure_code": "declined", "execution_delay_seconds": "0"},
    )
    # when a payout comes in and the bank executes it
    bank.submit()
    task_queue.run_all()
    # then it waits, with its buttons on the page
    payout = BankPayout.objects.get()
    assert payout.status == "processing"
    assert f'id="pay-{payout.id}"' in client.get(PAGE).content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {"outcome": "sometimes", "failure_code": "declined", "execution_delay_seconds": "1"},
        {"outcome": "failed", "failure_code": "bad_luck", "execution_delay_seconds": "1"},
        {"outcome": "paid", "failure_code": "declined", "execution_delay_seconds": "-1"},
        {"outcome": "paid", "failure_code": "declined", "execution_delay_seconds": "soon"},
        {"outcome": "paid", "failure_code": "declined"},
    ],
)
def test_policy_form_with_bad_values_is_400_with_errors_and_changes_nothing(
    client: Client, data: dict[str, str]
) -> None:
    # given
    before = policy_get()
    # when
    response = client.post("/fake-bank/policy", data)
    # then
    assert response.status_code == 400
    html = response.content.decode()
    assert "The policy was not changed: see the form below." in html
    assert 'class="errorlist' in html
    after = BankPolicy.objects.get()
    assert (after.outcome, after.failure_code, after.execution_delay_seconds) == (
        before.outcome,
        before.failure_code,
        before.execution_delay_seconds,
    )


# --- Incoming transfers ----------------------------------------------------------------------


def test_transfer_form_sends_minor_units_and_a_signed_webhook(
    client: Client,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    task_queue: TaskQueue,
    webhook_receiver: respx.Route,
) -> None:
    # when
    response = post(
        client, django_capture_on_commit_callbacks, "/fake-bank/incoming-transfers", TRANSFER_FORM
    )
    task_queue.run_all()
    # then
    transfer = IncomingTransfer.objects.get()
    assert (transfer.payer_inn, transfer.amount, transfer.currency) == ("7707083893", 150025, "RUB")
    assert (transfer.document_number, transfer.document_date) == ("PP-17", datetime.date(2026, 11, 22))
    assert webhook_receiver.call_count == 1
    sent = f"Sent 1,500.25 RUB to INN 7707083893 (transfer {transfer.id})"
    assert flashed(response) == [f"{sent}; the bank announces it with transfer.incoming."]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("payer_inn", "770708389"),
        ("payer_inn", "77070838931"),
        ("payer_inn", "77O7083893"),
        ("amount", "0"),
        ("amount", "-5"),
        ("amount", "1.005"),
        ("amount", "1,5"),
        ("amount", "100000000000000000"),
        ("currency", "XXX"),
        ("document_number", ""),
        ("document_number", "x" * 65),
        ("document_date", "22.11.2026x"),
        ("document_date", ""),
    ],
)
def test_transfer_form_with_a_bad_field_is_400_and_sends_nothing(
    client: Client, task_queue: TaskQueue, field: str, value: str
) -> None:
    # when
    response = client.post("/fake-bank/incoming-transfers", {**TRANSFER_FORM, field: value})
    # then the page comes back with the error next to the field and what was typed
    assert response.status_code == 400
    html = response.content.decode()
    assert "No transfer was sent: see the form below." in html
    assert f'id="transfer-{field}_error"' in html
    assert 'aria-invalid="true"' in html
    assert IncomingTransfer.objects.count() == 0
    assert task_queue.queued == []


# --- Forms, methods, redirects ---------------------------------------------------------------


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
    return {"payout": BankPayoutFactory.create().id, "webhook": Webhook.objects.get(payout=paid_payout).pk}


def _snapshot() -> list[Any]:
    return [
        sorted(BankPayout.objects.values_list("id", "status", "drop_next_webhook")),
        sorted(Webhook.objects.values_list("id", "delivery_count")),
        list(BankPolicy.objects.values_list("outcome", "execution_delay_seconds")),
        IncomingTransfer.objects.count(),
    ]


@pytest.mark.parametrize(("path", "data"), ACTIONS)
def test_every_action_needs_the_csrf_token(
    targets: dict[str, Any], task_queue: TaskQueue, path: str, data: dict[str, str]
) -> None:
    # given a browser that sends no CSRF token
    client = Client(enforce_csrf_checks=True)
    policy_get()
    before = _snapshot()
    # when
    response = client.post(f"/fake-bank/{path.format(**targets)}", data)
    # then
    assert response.status_code == 403
    assert _snapshot() == before
    assert task_queue.queued == []


@pytest.mark.parametrize(("path", "data"), ACTIONS)
def test_every_action_works_with_the_csrf_token_from_the_page(
    targets: dict[str, Any],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    path: str,
    data: dict[str, str],
) -> None:
    # given a browser that got the page (and its CSRF cookie and token)
    client = Client(enforce_csrf_checks=True)
    page = client.get(PAGE)
    token = page.context["csrf_token"]
    before = _snapshot()
    # when
    response = post(
        client,
        django_capture_on_commit_callbacks,
        f"/fake-bank/{path.format(**targets)}",
        {**data, "csrfmiddlewaretoken": str(token)},
    )
    # then it did something, and said so
    assert response.redirect_chain == [(PAGE, 302)]
    assert _snapshot() != before
    assert 'class="message message-success"' in response.content.decode()


@pytest.mark.parametrize(("path", "data"), ACTIONS)
def test_actions_answer_get_with_405(client: Client, targets: dict[str, Any], path: str, data: Any) -> None:
    assert client.get(f"/fake-bank/{path.format(**targets)}").status_code == 405


def test_page_and_fragment_refuse_post(client: Client) -> None:
    assert client.post(PAGE).status_code == 405
    assert client.post(ACTIVITY).status_code == 405


@pytest.mark.parametrize(
    ("referer", "location"),
    [
        ("http://testserver/fake-bank/?status=processing", "/fake-bank/?status=processing"),
        ("http://testserver/fake-bank/?status=nonsense", PAGE),
        ("http://testserver/fake-bank/", PAGE),
        ("https://evil.example/fake-bank/?status=paid", "/fake-bank/?status=paid"),
        ("https://evil.example/phish", PAGE),
        ("http://[broken/fake-bank/?status=paid", PAGE),
        ("", PAGE),
    ],
)
def test_action_redirects_back_to_the_page_keeping_only_the_status_filter(
    client: Client, referer: str, location: str
) -> None:
    payout = BankPayoutFactory.create()
    response = client.post(f"/fake-bank/payouts/{payout.id}/cancel", headers={"Referer": referer})
    assert response.status_code == 302
    assert response["Location"] == location


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
    before = _snapshot()
    # when
    response = getattr(client, method)(f"/fake-bank/{path.format(**targets)}", data)
    # then the anonymous one is sent to the admin login, the other refused, and nothing happened
    if signed_in:
        assert response.status_code == 403
    else:
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/?next=")
    assert _snapshot() == before
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
