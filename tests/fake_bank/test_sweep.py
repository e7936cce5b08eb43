"""The simulated bank is as durable as a bank: what it must do next (each accepted payout's
execution, each queued delivery attempt) is in its tables, and its sweep runs what a lost task left
behind: here the broker "loses" every task the bank queued."""

from datetime import timedelta
from typing import Any

import pytest
import respx
import time_machine
from celery import current_app
from django.utils import timezone
from kombu.exceptions import OperationalError

from fake_bank.models import BankPayout, BankPayoutStatus, Webhook, WebhookDeliveryDue
from fake_bank.tasks import sweep
from tests.fake_bank.conftest import ACCOUNTS, BankApi, TaskQueue

pytestmark = pytest.mark.django_db


def run_sweep_after(seconds: float, task_queue: TaskQueue) -> None:
    later = timezone.now() + timedelta(seconds=seconds)
    with time_machine.travel(later, tick=False), task_queue.capture(execute=True):
        sweep.apply(throw=True)


def test_an_accepted_payout_whose_execution_task_was_lost_is_executed_by_the_sweep(
    bank: BankApi, task_queue: TaskQueue, settings: Any
) -> None:
    # given an accepted payout, and its execution task lost with the broker
    settings.FAKE_BANK_SWEEP_GRACE_SECONDS = 30
    bank.submit()
    task_queue.queued.clear()
    payout = BankPayout.objects.get()
    assert payout.execute_at is not None

    # when the sweep runs before and after the grace period
    run_sweep_after(10, task_queue)
    assert BankPayout.objects.get().status == BankPayoutStatus.PROCESSING
    run_sweep_after(31, task_queue)

    # then it is executed (once), nothing left to run, and its webhook queued and due
    payout.refresh_from_db()
    assert payout.status == BankPayoutStatus.PAID
    assert payout.execute_at is None
    webhook = Webhook.objects.get(payout=payout)
    assert WebhookDeliveryDue.objects.filter(webhook=webhook, delivery=1, attempt=1).exists()
    assert task_queue.names() == ["fake_bank.tasks.deliver_webhook"]


def test_a_delivery_attempt_whose_task_was_lost_is_queued_again_then_made_and_forgotten(
    bank: BankApi, task_queue: TaskQueue, webhook_receiver: respx.Route, settings: Any
) -> None:
    # given an executed payout whose webhook delivery task was lost
    settings.FAKE_BANK_SWEEP_GRACE_SECONDS = 30
    bank.submit()
    task_queue.run_next()  # the execution
    task_queue.queued.clear()  # the delivery: lost
    assert WebhookDeliveryDue.objects.count() == 1

    # when the sweep runs after the grace period, and the worker runs what it queued
    run_sweep_after(31, task_queue)
    assert task_queue.names() == ["fake_bank.tasks.deliver_webhook"]
    task_queue.run_all()

    # then the webhook is delivered, and nothing is due any more
    assert webhook_receiver.call_count == 1
    assert Webhook.objects.get().delivered_at is not None
    assert not WebhookDeliveryDue.objects.exists()


def test_a_payout_held_for_a_person_is_not_run_again_by_every_sweep(
    bank: BankApi, task_queue: TaskQueue, settings: Any
) -> None:
    settings.FAKE_BANK_SWEEP_GRACE_SECONDS = 30
    bank.submit(account=ACCOUNTS["0007"])  # the bank keeps it waiting
    task_queue.run_all()

    assert BankPayout.objects.get().execute_at is None
    run_sweep_after(31, task_queue)
    assert task_queue.queued == []


def test_with_the_broker_down_the_banks_api_still_accepts_and_the_sweep_executes_later(
    bank: BankApi, task_queue: TaskQueue, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    # given a broker that refuses every publish
    settings.FAKE_BANK_SWEEP_GRACE_SECONDS = 30

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(current_app, "send_task", broker_down)

    # when a payout is submitted: accepted all the same, its execution stored
    response = bank.submit()
    assert response.status_code == 202
    assert BankPayout.objects.get().execute_at is not None

    # then once the broker is back, the sweep runs it
    monkeypatch.setattr(current_app, "send_task", task_queue.record)
    run_sweep_after(31, task_queue)
    assert BankPayout.objects.get().status == BankPayoutStatus.PAID
