"""Executing accepted payouts: the outcome table end to end, the policy, and a person's decisions."""

import json
from typing import Any

import pytest
import respx
from django.db import transaction
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from fake_bank import bank_payouts, bank_policy
from fake_bank.errors import InvalidRequestError, NotFoundError, PayoutAlreadyExecutedError, PayoutStateError
from fake_bank.models import BankPayout, BankPayoutStatus, BankPolicy, Webhook
from fake_bank.selectors import policy_get
from fake_bank.tasks import execute_payout
from tests.fake_bank.conftest import ACCOUNTS, BankApi, TaskQueue
from tests.fake_bank.factories import BankPayoutFactory

pytestmark = pytest.mark.django_db


def _deliveries(webhook_receiver: respx.Route) -> list[dict[str, Any]]:
    return [json.loads(call.request.content) for call in webhook_receiver.calls]


def test_execute_normal_account_pays_and_delivers_payout_paid(
    bank: BankApi, task_queue: TaskQueue, webhook_receiver: respx.Route
) -> None:
    # given an accepted payout
    submitted = bank.submit().json()
    # when the bank executes it and sends what it queued
    task_queue.run_all()
    # then it is paid, and the service got one payout.paid webhook carrying the payout object
    payout = BankPayout.objects.get()
    assert payout.status == BankPayoutStatus.PAID
    assert payout.executed_at is not None
    [event] = _deliveries(webhook_receiver)
    assert event["type"] == "payout.paid"
    assert event["operation_id"].startswith("op_")
    assert event["occurred_at"].endswith("+00:00")
    assert event["data"] == {
        **submitted,
        "status": "paid",
        "executed_at": event["data"]["executed_at"],
    }
    assert event["data"]["executed_at"] is not None
    assert bank.get(f"/payouts/{payout.id}").json()["status"] == "paid"


@pytest.mark.parametrize(
    ("account", "code", "reason"),
    [
        (ACCOUNTS["0003"], "account_closed", "The recipient's account is closed."),
        (ACCOUNTS["0004"], "insufficient_funds", "The payer's account has insufficient funds."),
    ],
)
def test_execute_failing_account_fails_with_its_code(
    bank: BankApi, task_queue: TaskQueue, webhook_receiver: respx.Route, account: str, code: str, reason: str
) -> None:
    # given
    bank.submit(account=account)
    # when
    task_queue.run_all()
    # then
    payout = BankPayout.objects.get()
    assert (payout.status, payout.failure_code, payout.failure_reason) == ("failed", code, reason)
    [event] = _deliveries(webhook_receiver)
    assert event["type"] == "payout.failed"
    assert event["data"]["failure_code"] == code
    assert event["data"]["failure_reason"] == reason


def test_execute_account_0005_pays_but_loses_the_webhook(
    bank: BankApi, task_queue: TaskQueue, webhook_receiver: respx.Route
) -> None:
    # given
    bank.submit(account=ACCOUNTS["0005"])
    # when
    task_queue.run_all()
    # then paid, the webhook recorded as dropped, nothing sent
    assert BankPayout.objects.get().status == BankPayoutStatus.PAID
    webhook = Webhook.objects.get()
    assert (webhook.type, webhook.dropped, webhook.delivery_count) == ("payout.paid", True, 0)
    assert webhook_receiver.call_count == 0
    assert webhook.attempts.count() == 0


def test_execute_account_0006_delivers_the_webhook_twice(
    bank: BankApi, task_queue: TaskQueue, webhook_receiver: respx.Route
) -> None:
    # given
    bank.submit(account=ACCOUNTS["0006"])
    # when
    task_queue.run_all()
    # then one webhook, two identical deliveries
    assert BankPayout.objects.get().status == BankPayoutStatus.PAID
    webhook = Webhook.objects.get()
    first, second = (call.request for call in webhook_receiver.calls)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == webhook.message_id
    assert first.content == second.content == webhook.body.encode()
    assert json.loads(first.content)["operation_id"] == webhook.operation_id
    assert list(webhook.attempts.values_list("delivery", "status_code")) == [(1, 204), (2, 204)]


def test_execute_account_0007_stays_processing(
    bank: BankApi, task_queue: TaskQueue, webhook_receiver: respx.Route
) -> None:
    # given
    bank.submit(account=ACCOUNTS["0007"])
    # when
    task_queue.run_all()
    # then
    payout = BankPayout.objects.get()
    assert (payout.status, payout.executed_at) == ("processing", None)
    assert Webhook.objects.count() == 0


def test_execute_manual_policy_waits_for_a_person(
    bank: BankApi,
    task_queue: TaskQueue,
    webhook_receiver: respx.Route,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    # given
    bank_policy.policy_update(outcome="manual")
    bank.submit()
    # when the execution task runs
    task_queue.run_all()
    # then the payout waits
    payout = BankPayout.objects.get()
    assert payout.status == BankPayoutStatus.PROCESSING
    # when a person pays it
    with django_capture_on_commit_callbacks(execute=True):
        bank_payouts.bank_payout_pay(payout_id=payout.id)
    task_queue.run_all()
    # then
    payout.refresh_from_db()
    assert payout.status == BankPayoutStatus.PAID
    assert [event["type"] for event in _deliveries(webhook_receiver)] == ["payout.paid"]


def test_execute_failed_policy_fails_with_its_code(
    bank: BankApi, task_queue: TaskQueue, webhook_receiver: respx.Route
) -> None:
    # given
    bank_policy.policy_update(outcome="failed", failure_code="account_frozen")
    bank.submit()
    # when
    task_queue.run_all()
    # then
    assert BankPayout.objects.get().failure_code == "account_frozen"
    assert _deliveries(webhook_receiver)[0]["data"]["failure_code"] == "account_frozen"


def test_execute_uses_policy_delay_as_countdown(bank: BankApi, task_queue: TaskQueue) -> None:
    # given
    bank_policy.policy_update(outcome="paid", execution_delay_seconds=2.5)
    # when
    bank.submit()
    # then
    assert task_queue.queued[0].countdown == 2.5


def test_execute_twice_is_a_no_op(
    task_queue: TaskQueue, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    # given an executed payout
    payout = BankPayoutFactory.create()
    with django_capture_on_commit_callbacks(execute=True):
        bank_payouts.bank_payout_execute(payout_id=payout.id)
    # when the task runs again (a redelivered message)
    with django_capture_on_commit_callbacks(execute=True):
        bank_payouts.bank_payout_execute(payout_id=payout.id)
    # then one webhook, one delivery queued
    assert Webhook.objects.filter(payout=payout).count() == 1
    assert task_queue.names() == ["fake_bank.tasks.deliver_webhook"]


def test_execute_queues_nothing_before_commit(
    task_queue: TaskQueue, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    # given
    payout = BankPayoutFactory.create()

    def execute_then_crash() -> None:
        with transaction.atomic():
            bank_payouts.bank_payout_execute(payout_id=payout.id)
            raise RuntimeError("crash before commit")

    # when the execution is rolled back
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        execute_then_crash()
    # then nothing was queued and the payout is untouched
    assert callbacks == []
    assert task_queue.queued == []
    payout.refresh_from_db()
    assert payout.status == BankPayoutStatus.PROCESSING


def test_execute_task_for_unknown_payout_does_nothing(task_queue: TaskQueue) -> None:
    execute_payout(payout_id="bp_missing")
    assert task_queue.queued == []


# --- A person's decisions --------------------------------------------------------------------


def _act(action: str, payout_id: str) -> BankPayout:
    if action == "pay":
        return bank_payouts.bank_payout_pay(payout_id=payout_id)
    if action == "fail":
        return bank_payouts.bank_payout_fail(payout_id=payout_id, failure_code="account_closed")
    if action == "cancel-from-page":
        return bank_payouts.bank_payout_cancel(payout_id=payout_id, repeat_ok=False)
    return bank_payouts.bank_payout_cancel(payout_id=payout_id)


def test_bank_payout_fail_sets_code_and_reason(task_queue: TaskQueue) -> None:
    payout = BankPayoutFactory.create()
    result = bank_payouts.bank_payout_fail(payout_id=payout.id, failure_code="declined")
    assert (result.status, result.failure_code, result.failure_reason) == (
        "failed",
        "declined",
        "The bank declined the payout.",
    )
    assert Webhook.objects.get(payout=payout).type == "payout.failed"


def test_bank_payout_fail_unknown_code_is_refused() -> None:
    payout = BankPayoutFactory.create()
    with pytest.raises(InvalidRequestError):
        bank_payouts.bank_payout_fail(payout_id=payout.id, failure_code="bad_luck")
    payout.refresh_from_db()
    assert payout.status == BankPayoutStatus.PROCESSING


@pytest.mark.parametrize(
    ("status", "failure_code", "action"),
    [
        ("paid", None, "pay"),
        ("failed", "declined", "fail"),
        ("canceled", None, "cancel-from-page"),
    ],
)
def test_person_action_repeated_is_refused_so_the_person_hears_nothing_was_done(
    status: str, failure_code: str | None, action: str
) -> None:
    # given a payout already where the person wants it (a second click, or the bank was first)
    payout = BankPayoutFactory.create(status=status, failure_code=failure_code)
    # when / then
    with pytest.raises(PayoutStateError, match=f"is already {status}; nothing was done"):
        _act(action, payout.id)
    # and nothing changed and nothing is announced
    payout.refresh_from_db()
    assert (payout.status, payout.failure_code) == (status, failure_code)
    assert Webhook.objects.count() == 0


def test_cancel_repeated_through_the_api_is_a_no_op() -> None:
    # given
    payout = BankPayoutFactory.create(status="canceled")
    # when the service's cancel request is repeated
    result = bank_payouts.bank_payout_cancel(payout_id=payout.id)
    # then the same answer, and no second webhook
    assert result.status == "canceled"
    assert Webhook.objects.count() == 0


@pytest.mark.parametrize(
    ("status", "failure_code", "action", "error"),
    [
        ("failed", "declined", "pay", PayoutStateError),
        ("canceled", None, "pay", PayoutStateError),
        ("paid", None, "fail", PayoutStateError),
        ("canceled", None, "fail", PayoutStateError),
        ("paid", None, "cancel", PayoutAlreadyExecutedError),
        ("failed", "declined", "cancel", PayoutAlreadyExecutedError),
    ],
)
def test_person_action_on_final_payout_is_refused(
    status: str, failure_code: str | None, action: str, error: type[Exception]
) -> None:
    # given
    payout = BankPayoutFactory.create(status=status, failure_code=failure_code)
    # when / then
    with pytest.raises(error):
        _act(action, payout.id)
    payout.refresh_from_db()
    assert payout.status == status


@pytest.mark.parametrize("payout_id", ["bp_missing", f"bp_{'0' * 32}", "bp_\x00", ""])
def test_person_action_on_unknown_payout_is_not_found(payout_id: str) -> None:
    with pytest.raises(NotFoundError):
        bank_payouts.bank_payout_pay(payout_id=payout_id)


# --- The policy ------------------------------------------------------------------------------


def test_policy_get_defaults_from_settings(settings: Settings) -> None:
    # given
    settings.FAKE_BANK_DEFAULT_OUTCOME = "failed:insufficient_funds"
    settings.FAKE_BANK_EXECUTION_DELAY_SECONDS = 1.5
    # when
    policy = policy_get()
    # then
    assert (policy.outcome, policy.failure_code, policy.execution_delay_seconds) == (
        "failed",
        "insufficient_funds",
        1.5,
    )
    assert BankPolicy.objects.count() == 1


def test_policy_update_keeps_the_delay_when_not_given() -> None:
    bank_policy.policy_update(outcome="paid", execution_delay_seconds=3.0)
    policy = bank_policy.policy_update(outcome="failed")
    assert (policy.outcome, policy.failure_code, policy.execution_delay_seconds) == (
        "failed",
        "declined",
        3.0,
    )
    policy = bank_policy.policy_update(outcome="manual")
    assert (policy.outcome, policy.failure_code) == ("manual", None)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"outcome": "stuck"},
        {"outcome": "failed", "failure_code": "bad_luck"},
        {"outcome": "paid", "failure_code": "declined"},
        {"outcome": "paid", "execution_delay_seconds": -1.0},
        {"outcome": "paid", "execution_delay_seconds": float("nan")},
    ],
)
def test_policy_update_refuses_bad_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError):
        bank_policy.policy_update(**kwargs)
