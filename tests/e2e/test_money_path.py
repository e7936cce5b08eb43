"""The whole money path with no mocks: API -> Celery worker -> bank over HTTP -> signed webhook back."""

import httpx
import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from fake_bank import webhooks as fake_bank_webhooks
from fake_bank.models import BankPayout
from payouts import tasks
from payouts.bank.adapter import bank_client
from payouts.models import (
    BankWebhookEvent,
    IncomingTransfer,
    LedgerEntry,
    Payout,
    PayoutEvent,
    WebhookOutcome,
)
from tests.e2e.conftest import (
    DEMO_INN,
    PLAIN_ACCOUNT,
    acknowledged_twice,
    create,
    rub,
    status_becomes,
    wait_for,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("ledger_is_consistent"),
]

# The simulator's magic accounts (docs/simulator.md: "Magic values"), each passing the BIC control-key check.
PAID = PLAIN_ACCOUNT  # the default policy pays
REFUSED = "40702810238000000002"
FAILS_CLOSED = "40702810538000000003"
WEBHOOK_LOST = "40702810138000000005"
WEBHOOK_TWICE = "40702810438000000006"
STUCK = "40702810738000000007"


def actors(payout_id: str) -> list[tuple[str, str]]:
    return [(e.to_status, e.actor) for e in PayoutEvent.objects.filter(payout_id=payout_id)]


def test_payout_is_paid_through_worker_bank_and_signed_webhook(e2e_api: APIClient) -> None:
    assert rub(e2e_api) == {
        "currency": "RUB",
        "available": "10000.00",
        "pending": "0.00",
        "posted": "10000.00",
    }
    payout = create(e2e_api, PAID, "paid-1")

    body = status_becomes(e2e_api, payout["id"], "paid")

    assert rub(e2e_api) == {"currency": "RUB", "available": "9899.50", "pending": "0.00", "posted": "9899.50"}
    assert body["bank_reference"].startswith("bp_")
    assert ("paid", "bank") in actors(payout["id"])
    assert BankWebhookEvent.objects.get(payout_id=payout["id"]).outcome == WebhookOutcome.APPLIED


def test_payout_refused_at_submission_fails_with_the_banks_code(e2e_api: APIClient) -> None:
    payout = create(e2e_api, REFUSED, "refused-1")

    body = status_becomes(e2e_api, payout["id"], "failed")

    assert body["failure_code"] == "invalid_account"
    assert ("failed", "worker") in actors(payout["id"])


def test_payout_failed_later_by_the_bank_carries_its_code(e2e_api: APIClient) -> None:
    payout = create(e2e_api, FAILS_CLOSED, "closed-1")

    body = status_becomes(e2e_api, payout["id"], "failed")

    assert body["failure_code"] == "account_closed"
    assert rub(e2e_api)["available"] == "10000.00"  # the hold was released
    assert ("failed", "bank") in actors(payout["id"])


def test_duplicate_webhook_is_acknowledged_and_changes_nothing(e2e_api: APIClient) -> None:
    payout = create(e2e_api, WEBHOOK_TWICE, "twice-1")
    status_becomes(e2e_api, payout["id"], "paid")

    # the bank delivers the same operation twice; both deliveries get a 2xx
    acknowledged_twice(payout["id"])
    assert BankWebhookEvent.objects.filter(payout_id=payout["id"]).count() == 1
    assert [e.to_status for e in PayoutEvent.objects.filter(payout_id=payout["id"], to_status="paid")] == [
        "paid"
    ]


def test_lost_webhook_is_recovered_by_the_reconciler(e2e_api: APIClient) -> None:
    payout = create(e2e_api, WEBHOOK_LOST, "lost-1")
    status_becomes(e2e_api, payout["id"], "submitted")
    wait_for(
        lambda: BankPayout.objects.filter(reference=payout["id"], status="paid").exists(), what="bank to pay"
    )

    tasks.reconcile_payouts.delay()  # what beat does every few seconds

    status_becomes(e2e_api, payout["id"], "paid")
    assert ("paid", "reconciler") in actors(payout["id"])
    assert rub(e2e_api)["posted"] == "9899.50"


def test_bank_down_for_a_while_then_back_still_pays(e2e_api: APIClient, money_path: str) -> None:
    # given the bank cannot be reached when the payout is created
    with override_settings(BANK_API_URL="http://127.0.0.1:9/fake-bank/api", BANK_SUBMIT_MAX_RETRIES=2):
        bank_client.cache_clear()
        payout = create(e2e_api, PAID, "down-1")
        status_becomes(e2e_api, payout["id"], "processing")
        # the task retries with backoff and gives up, leaving the payout in processing
        wait_for(
            lambda: (
                Payout.objects.get(pk=payout["id"]).status == "processing"
                and not BankPayout.objects.filter(reference=payout["id"]).exists()
            ),
            what="the payout to stay processing while the bank is down",
        )
    # when the bank is back, the reconciler finds it unknown there and submits it again
    bank_client.cache_clear()
    tasks.reconcile_payouts.delay()

    status_becomes(e2e_api, payout["id"], "paid")
    assert BankPayout.objects.filter(reference=payout["id"]).count() == 1


def test_cancel_before_the_bank_executes_cancels_at_the_bank(e2e_api: APIClient) -> None:
    payout = create(e2e_api, STUCK, "stuck-1")
    status_becomes(e2e_api, payout["id"], "submitted")
    assert rub(e2e_api)["pending"] == "100.50"

    response = e2e_api.patch(f"/api/payouts/{payout['id']}/", {"status": "canceled"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "canceled"
    assert BankPayout.objects.get(reference=payout["id"]).status == "canceled"
    assert rub(e2e_api) == {
        "currency": "RUB",
        "available": "10000.00",
        "pending": "0.00",
        "posted": "10000.00",
    }
    # the bank's payout.canceled webhook arrives too, before or after our own answer was applied
    # (both orders happen): whichever comes second changes nothing, so the payout is canceled once
    # and its hold released once
    wait_for(
        lambda: BankWebhookEvent.objects.filter(
            payout_id=payout["id"], event_type="payout.canceled"
        ).exists(),
        what="the bank's payout.canceled webhook",
    )
    assert BankWebhookEvent.objects.get(payout_id=payout["id"]).outcome in {
        WebhookOutcome.NOOP,
        WebhookOutcome.APPLIED,
    }
    assert PayoutEvent.objects.filter(payout_id=payout["id"], to_status="canceled").count() == 1
    assert LedgerEntry.objects.filter(payout_id=payout["id"], kind="void_pending").count() == 1


def test_cancel_after_the_bank_executed_is_409_and_the_payout_continues(e2e_api: APIClient) -> None:
    # given a payout the bank has paid but whose webhook was lost: we still think it is submitted
    payout = create(e2e_api, WEBHOOK_LOST, "late-cancel-1")
    status_becomes(e2e_api, payout["id"], "submitted")
    wait_for(
        lambda: BankPayout.objects.filter(reference=payout["id"], status="paid").exists(), what="bank to pay"
    )

    response = e2e_api.patch(f"/api/payouts/{payout['id']}/", {"status": "canceled"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "cancel_refused"
    tasks.reconcile_payouts.delay()
    status_becomes(e2e_api, payout["id"], "paid")


def test_an_incoming_transfer_whose_webhook_never_came_is_credited_by_the_sweep(
    e2e_api: APIClient, money_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the bank receives money for the organisation, and its transfer.incoming webhook is lost
    monkeypatch.setattr(fake_bank_webhooks, "webhook_delivery_queue", lambda **kwargs: None)
    response = httpx.post(
        f"{money_path}/fake-bank/api/incoming-transfers",
        headers={"Authorization": f"Bearer {settings.FAKE_BANK_API_TOKEN}"},
        json={
            "payer_inn": DEMO_INN,
            "amount": 25_000,
            "currency": "RUB",
            "document_number": "E2E-LOST",
            "document_date": "2026-11-23",
        },
    )
    assert response.status_code == 201, response.text
    operation_id = response.json()["operation_id"]
    assert not IncomingTransfer.objects.filter(operation_id=operation_id).exists()

    # when the beat's sweep runs, twice
    tasks.sweep_incoming_transfers.delay()
    wait_for(
        lambda: IncomingTransfer.objects.filter(operation_id=operation_id, status="credited").exists(),
        what="the sweep to credit the transfer",
    )
    tasks.sweep_incoming_transfers.apply(throw=True)

    # then it is credited once: 250.00 more than the funding
    assert IncomingTransfer.objects.filter(operation_id=operation_id).count() == 1
    assert rub(e2e_api)["posted"] == "10250.00"
