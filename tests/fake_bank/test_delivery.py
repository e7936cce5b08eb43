"""Sending webhooks: signed bytes, headers, retries on the schedule, rotation, tampering, drops."""

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
import time_machine
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from fake_bank import bank_payouts, webhooks
from fake_bank.delivery import RETRY_JITTER, RETRY_SCHEDULE_SECONDS, retry_delay_seconds, webhook_deliver
from fake_bank.errors import PayoutStateError
from fake_bank.models import BankPayoutStatus, Webhook
from fake_bank.signing import keypair_generate
from fake_bank.tasks import deliver_webhook
from tests.fake_bank.conftest import ACCOUNTS, BankApi, TaskQueue, verified_signatures
from tests.fake_bank.factories import BankPayoutFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 7, 30, tzinfo=UTC)


@pytest.fixture
def paid_webhook(
    task_queue: TaskQueue, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> Webhook:
    """A payout just executed: its payout.paid webhook exists and its first delivery is queued."""
    payout = BankPayoutFactory.create()
    with django_capture_on_commit_callbacks(execute=True):
        bank_payouts.bank_payout_execute(payout_id=payout.id)
    return Webhook.objects.get(payout=payout)


def test_deliver_posts_exact_body_with_signed_headers(
    paid_webhook: Webhook,
    task_queue: TaskQueue,
    webhook_receiver: respx.Route,
    signing_keypair: tuple[str, str],
) -> None:
    # given the queued first delivery
    assert [(t.name, t.kwargs) for t in task_queue.queued] == [
        (
            "fake_bank.tasks.deliver_webhook",
            {"webhook_id": paid_webhook.pk, "delivery": 1, "attempt": 1, "tampered": False},
        )
    ]
    # when it runs
    with time_machine.travel(NOW, tick=False):
        task_queue.run_all()
    # then the service received the stored bytes with Standard Webhooks headers
    request = webhook_receiver.calls.last.request
    assert request.content == paid_webhook.body.encode()
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == paid_webhook.message_id
    assert request.headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    assert verified_signatures(request, signing_keypair[1]) == [True]
    body = json.loads(request.content)
    assert body["type"] == "payout.paid"
    assert body["operation_id"] == paid_webhook.operation_id
    assert body["data"]["status"] == "paid"
    # and the attempt is recorded, the webhook delivered
    paid_webhook.refresh_from_db()
    assert paid_webhook.delivered_at is not None
    assert list(paid_webhook.attempts.values_list("delivery", "attempt", "status_code", "error")) == [
        (1, 1, 204, "")
    ]


def test_deliver_signature_does_not_verify_with_another_key(
    paid_webhook: Webhook, task_queue: TaskQueue, webhook_receiver: respx.Route
) -> None:
    task_queue.run_all()
    assert verified_signatures(webhook_receiver.calls.last.request, keypair_generate()[1]) == [False]


def test_deliver_retries_after_500_then_succeeds(
    paid_webhook: Webhook,
    task_queue: TaskQueue,
    webhook_receiver: respx.Route,
    signing_keypair: tuple[str, str],
) -> None:
    # given the service fails once, then accepts
    webhook_receiver.side_effect = [httpx.Response(500, text="boom"), httpx.Response(200)]
    # when the first attempt runs
    with time_machine.travel(NOW, tick=False):
        task_queue.run_next()
    # then it is recorded and the second attempt is queued after the scaled 5 s
    [retry] = task_queue.queued
    assert retry.kwargs == {"webhook_id": paid_webhook.pk, "delivery": 1, "attempt": 2, "tampered": False}
    assert 5 * 0.001 <= retry.countdown <= 5 * 0.001 * (1 + RETRY_JITTER)
    # when the retry runs a little later
    with time_machine.travel(NOW + timedelta(seconds=7), tick=False):
        task_queue.run_all()
    # then the same message went twice, with a fresh timestamp and signature each time
    first, second = (call.request for call in webhook_receiver.calls)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.content == second.content
    assert int(second.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"]) == 7
    assert verified_signatures(second, signing_keypair[1]) == [True]
    paid_webhook.refresh_from_db()
    assert paid_webhook.delivered_at is not None
    assert paid_webhook.failed_at is None
    assert list(paid_webhook.attempts.values_list("attempt", "status_code", "error")) == [
        (1, 500, "boom"),
        (2, 200, ""),
    ]


@pytest.mark.parametrize(
    ("side_effect", "error"),
    [
        (httpx.ReadTimeout("timed out"), "ReadTimeout: timed out"),
        (httpx.ConnectError("connection refused"), "ConnectError: connection refused"),
    ],
)
def test_deliver_records_transport_error_and_retries(
    paid_webhook: Webhook,
    task_queue: TaskQueue,
    webhook_receiver: respx.Route,
    side_effect: Exception,
    error: str,
) -> None:
    # given
    webhook_receiver.side_effect = side_effect
    # when
    task_queue.run_next()
    # then
    attempt = paid_webhook.attempts.get()
    assert (attempt.status_code, attempt.error) == (None, error)
    assert task_queue.queued[0].kwargs["attempt"] == 2


def test_deliver_treats_redirect_as_failure(
    paid_webhook: Webhook, task_queue: TaskQueue, webhook_receiver: respx.Route
) -> None:
    webhook_receiver.return_value = httpx.Response(302, headers={"location": "http://elsewhere.test/"})
    task_queue.run_next()
    assert paid_webhook.attempts.get().status_code == 302
    assert task_queue.queued[0].kwargs["attempt"] == 2
    paid_webhook.refresh_from_db()
    assert paid_webhook.delivered_at is None


def test_deliver_gives_up_after_the_schedule(
    paid_webhook: Webhook, task_queue: TaskQueue, webhook_receiver: respx.Route
) -> None:
    # given the service always fails
    webhook_receiver.return_value = httpx.Response(503)
    # when every queued attempt runs
    ran = task_queue.run_all()
    # then the Standard Webhooks schedule was followed, scaled, and the webhook is marked failed
    assert [task.kwargs["attempt"] for task in ran] == list(range(1, 11))
    for task, delay in zip(ran[1:], RETRY_SCHEDULE_SECONDS[1:], strict=True):
        assert delay * 0.001 <= task.countdown <= delay * 0.001 * (1 + RETRY_JITTER)
    assert webhook_receiver.call_count == 10
    paid_webhook.refresh_from_db()
    assert paid_webhook.failed_at is not None
    assert paid_webhook.delivered_at is None
    assert paid_webhook.attempts.count() == 10


def test_resend_after_giving_up_is_a_new_delivery_that_can_succeed(
    paid_webhook: Webhook,
    task_queue: TaskQueue,
    webhook_receiver: respx.Route,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    # given a webhook that ran out of retries
    webhook_receiver.return_value = httpx.Response(503)
    task_queue.run_all()
    # when a person sends it again
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.webhook_resend(webhook_id=paid_webhook.pk)
    paid_webhook.refresh_from_db()
    # then it is no longer marked as given up while the new delivery runs
    assert paid_webhook.failed_at is None
    # and when the service answers this time, it is delivered
    webhook_receiver.return_value = httpx.Response(204)
    task_queue.run_all()
    paid_webhook.refresh_from_db()
    assert paid_webhook.delivered_at is not None
    assert paid_webhook.failed_at is None
    assert paid_webhook.attempts.filter(delivery=2).get().status_code == 204


def test_retry_delay_seconds_follows_the_schedule_then_stops(settings: Settings) -> None:
    settings.FAKE_BANK_WEBHOOK_RETRY_SCALE = 1.0
    second, last = retry_delay_seconds(failed_attempt=1), retry_delay_seconds(failed_attempt=9)
    assert second is not None
    assert 5 <= second <= 5.5
    assert last is not None
    assert 86400 <= last <= 86400 * 1.1
    assert retry_delay_seconds(failed_attempt=10) is None


def test_deliver_twice_posts_once(
    paid_webhook: Webhook, task_queue: TaskQueue, webhook_receiver: respx.Route
) -> None:
    # given the first attempt ran
    queued = task_queue.run_next()
    # when the same task message is delivered to a worker again
    deliver_webhook(**queued.kwargs)
    # then the attempt is not repeated
    assert webhook_receiver.call_count == 1
    assert paid_webhook.attempts.count() == 1


def test_deliver_unstarted_delivery_does_nothing(
    paid_webhook: Webhook, webhook_receiver: respx.Route
) -> None:
    assert webhook_deliver(webhook_id=paid_webhook.pk, delivery=2, attempt=1) is None
    assert webhook_receiver.call_count == 0


def test_deliver_signs_with_every_key_during_rotation(
    settings: Settings, paid_webhook: Webhook, task_queue: TaskQueue, webhook_receiver: respx.Route
) -> None:
    # given the bank holds the old and the new key
    (old_secret, old_public), (new_secret, new_public) = keypair_generate(), keypair_generate()
    settings.FAKE_BANK_SIGNING_KEYS = [old_secret, new_secret]
    # when
    task_queue.run_all()
    # then two entries: the first verifies with the old key, the second with the new one
    request = webhook_receiver.calls.last.request
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert verified_signatures(request, old_public) == [True, False]
    assert verified_signatures(request, new_public) == [False, True]


def test_deliver_without_signing_keys_fails_loudly(
    settings: Settings, paid_webhook: Webhook, webhook_receiver: respx.Route
) -> None:
    settings.FAKE_BANK_SIGNING_KEYS = []
    with pytest.raises(ValueError, match="FAKE_BANK_SIGNING_KEYS"):
        webhook_deliver(webhook_id=paid_webhook.pk, delivery=1, attempt=1)
    assert webhook_receiver.call_count == 0


def test_webhook_resend_delivers_same_message_again(
    paid_webhook: Webhook,
    task_queue: TaskQueue,
    webhook_receiver: respx.Route,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    # given a delivered webhook
    task_queue.run_all()
    # when a person resends it
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.webhook_resend(webhook_id=paid_webhook.pk)
    task_queue.run_all()
    # then the same webhook-id, operation_id and body arrive again
    first, second = (call.request for call in webhook_receiver.calls)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.content == second.content
    assert list(paid_webhook.attempts.values_list("delivery", "attempt", "status_code")) == [
        (1, 1, 204),
        (2, 1, 204),
    ]


def test_webhook_send_tampered_sends_a_body_that_does_not_verify(
    paid_webhook: Webhook,
    task_queue: TaskQueue,
    webhook_receiver: respx.Route,
    signing_keypair: tuple[str, str],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    # given a delivered webhook, and a receiver that refuses what does not verify
    task_queue.run_all()
    webhook_receiver.return_value = httpx.Response(400, json={"error": {"code": "invalid_signature"}})
    # when a person sends a tampered copy
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.webhook_send_tampered(webhook_id=paid_webhook.pk)
    task_queue.run_all()
    # then the copy carries the same id, a signature over the original bytes, and an inflated amount
    request = webhook_receiver.calls.last.request
    assert request.headers["webhook-id"] == paid_webhook.message_id
    assert request.content != paid_webhook.body.encode()
    assert json.loads(request.content)["data"]["amount"] == 100 * paid_webhook.payload["data"]["amount"]
    assert verified_signatures(request, signing_keypair[1]) == [False]
    original = httpx.Request("POST", request.url, headers=request.headers, content=paid_webhook.body.encode())
    assert verified_signatures(original, signing_keypair[1]) == [True]
    # and it is recorded, never retried, and leaves the webhook delivered
    tampered = paid_webhook.attempts.get(tampered=True)
    assert (tampered.delivery, tampered.attempt, tampered.status_code) == (2, 1, 400)
    assert task_queue.queued == []
    paid_webhook.refresh_from_db()
    assert paid_webhook.delivered_at is not None
    assert paid_webhook.failed_at is None


def test_drop_next_webhook_loses_one_webhook(
    task_queue: TaskQueue,
    webhook_receiver: respx.Route,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    # given a payout whose next webhook is to be lost
    payout = BankPayoutFactory.create()
    bank_payouts.bank_payout_drop_next_webhook(payout_id=payout.id)
    bank_payouts.bank_payout_drop_next_webhook(payout_id=payout.id)
    # when it is executed
    with django_capture_on_commit_callbacks(execute=True):
        bank_payouts.bank_payout_execute(payout_id=payout.id)
    task_queue.run_all()
    # then paid, the webhook recorded as dropped and never sent, the flag consumed
    payout.refresh_from_db()
    assert payout.status == BankPayoutStatus.PAID
    assert payout.drop_next_webhook is False
    webhook = Webhook.objects.get(payout=payout)
    assert webhook.dropped is True
    assert webhook_receiver.call_count == 0


@pytest.mark.parametrize(
    ("status", "failure_code"), [("paid", None), ("failed", "declined"), ("canceled", None)]
)
def test_drop_next_webhook_is_refused_once_the_payout_sends_no_more(
    status: str, failure_code: str | None
) -> None:
    payout = BankPayoutFactory.create(status=status, failure_code=failure_code)
    with pytest.raises(PayoutStateError, match=f"is already {status}"):
        bank_payouts.bank_payout_drop_next_webhook(payout_id=payout.id)
    payout.refresh_from_db()
    assert payout.drop_next_webhook is False


def test_drop_next_webhook_applies_to_that_payout_only(
    task_queue: TaskQueue,
    webhook_receiver: respx.Route,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    # given one payout flagged, another not
    flagged, other = BankPayoutFactory.create(), BankPayoutFactory.create()
    bank_payouts.bank_payout_drop_next_webhook(payout_id=flagged.id)
    # when both are canceled
    with django_capture_on_commit_callbacks(execute=True):
        bank_payouts.bank_payout_cancel(payout_id=flagged.id)
        bank_payouts.bank_payout_cancel(payout_id=other.id)
    task_queue.run_all()
    # then only the other payout's webhook went out
    assert Webhook.objects.get(payout=flagged).dropped is True
    assert Webhook.objects.get(payout=other).dropped is False
    assert webhook_receiver.call_count == 1
    assert json.loads(webhook_receiver.calls.last.request.content)["data"]["id"] == other.id


def test_webhook_resend_of_a_dropped_webhook_delivers_it_late(
    bank: BankApi,
    task_queue: TaskQueue,
    webhook_receiver: respx.Route,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    # given a payout to an account ending 0005: paid, webhook lost
    bank.submit(account=ACCOUNTS["0005"])
    task_queue.run_all()
    webhook = Webhook.objects.get()
    assert webhook_receiver.call_count == 0
    # when a person resends it
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.webhook_resend(webhook_id=webhook.pk)
    task_queue.run_all()
    # then it arrives
    assert webhook_receiver.call_count == 1
    assert webhook_receiver.calls.last.request.content == webhook.body.encode()
    webhook.refresh_from_db()
    assert webhook.delivered_at is not None
