"""The simulator page's actions: every one it offers (each through the bank's own services), CSRF on
every form, methods and redirects. What the page shows is in test_page.py."""

import datetime
from typing import Any

import pytest
import respx
from django.test import Client
from pytest_django import DjangoCaptureOnCommitCallbacks

from fake_bank.models import BankPayout, BankPolicy, IncomingTransfer, Webhook, WebhookAttempt
from fake_bank.selectors import policy_get
from tests.fake_bank.conftest import ACTIONS, PAGE, TRANSFER_FORM, BankApi, TaskQueue, books_snapshot
from tests.fake_bank.factories import BankPayoutFactory

pytestmark = pytest.mark.django_db

DELIVER = "fake_bank.tasks.deliver_webhook"


def post(
    client: Client, capture: DjangoCaptureOnCommitCallbacks, path: str, data: dict[str, str] | None = None
) -> Any:
    """POST a page form and follow the redirect, running on-commit hooks as after a real commit."""
    with capture(execute=True):
        return client.post(path, data or {}, follow=True)


def flashed(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


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


@pytest.mark.parametrize(("path", "data"), ACTIONS)
def test_every_action_needs_the_csrf_token(
    targets: dict[str, Any], task_queue: TaskQueue, path: str, data: dict[str, str]
) -> None:
    # given a browser that sends no CSRF token
    client = Client(enforce_csrf_checks=True)
    policy_get()
    before = books_snapshot()
    # when
    response = client.post(f"/fake-bank/{path.format(**targets)}", data)
    # then
    assert response.status_code == 403
    assert books_snapshot() == before
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
    before = books_snapshot()
    # when
    response = post(
        client,
        django_capture_on_commit_callbacks,
        f"/fake-bank/{path.format(**targets)}",
        {**data, "csrfmiddlewaretoken": str(token)},
    )
    # then it did something, and said so
    assert response.redirect_chain == [(PAGE, 302)]
    assert books_snapshot() != before
    assert 'class="message message-success"' in response.content.decode()


@pytest.mark.parametrize(("path", "data"), ACTIONS)
def test_actions_answer_get_with_405(client: Client, targets: dict[str, Any], path: str, data: Any) -> None:
    assert client.get(f"/fake-bank/{path.format(**targets)}").status_code == 405


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
