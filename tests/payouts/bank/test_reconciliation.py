"""The reconciler: stale payouts are looked up at the bank and brought to the bank's state."""

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from payouts import tasks
from payouts.bank.reconciliation import payout_reconcile, payouts_claim_stale
from payouts.models import EntryKind, LedgerEntry, Organization, Payout, PayoutEvent, PayoutStatus
from payouts.transitions import IN_FLIGHT_STATUSES
from tests.concurrency import run_at_once
from tests.payouts.bank_doubles import bank_payout_json
from tests.payouts.factories import PayoutFactory

S = PayoutStatus


def reconcile(payout: Payout) -> Payout:
    payout_reconcile(payout_id=payout.pk)
    payout.refresh_from_db()
    return payout


def lookup(bank_api: Any, payout: Payout) -> Any:
    return bank_api.get(f"/payouts/by-reference/{payout.pk}")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("ours", "banks", "expected"),
    [
        (S.SUBMITTED, "paid", S.PAID),
        (S.PROCESSING, "paid", S.PAID),
        (S.SUBMITTED, "failed", S.FAILED),
        (S.SUBMITTED, "canceled", S.CANCELED),
        (S.PROCESSING, "processing", S.SUBMITTED),
        (S.SUBMITTED, "processing", S.SUBMITTED),
    ],
)
def test_reconcile_applies_the_banks_state(bank_api: Any, ours: S, banks: str, expected: S) -> None:
    payout = PayoutFactory(status=ours)
    extra = {"failure_code": "account_closed", "failure_reason": "closed"} if banks == "failed" else {}
    lookup(bank_api, payout).respond(
        200, json=bank_payout_json(payout, status=banks, bank_id="bp_7", **extra)
    )

    payout = reconcile(payout)

    assert payout.status == expected
    assert payout.bank_reference == "bp_7"
    if ours != expected:
        assert PayoutEvent.objects.filter(payout=payout).last().actor == "reconciler"  # type: ignore[union-attr]
    if banks == "failed":
        assert payout.failure_code == "account_closed"


@pytest.mark.django_db
def test_reconcile_resubmits_what_the_bank_never_received(bank_api: Any) -> None:
    payout = PayoutFactory(status=S.PROCESSING)
    lookup(bank_api, payout).respond(404, json={"error": {"code": "not_found", "message": "no"}})
    submit = bank_api.post("/payouts").respond(202, json=bank_payout_json(payout))

    payout = reconcile(payout)

    assert payout.status == S.SUBMITTED
    assert submit.calls.last.request.headers["Idempotency-Key"] == str(payout.pk)


@pytest.mark.django_db
def test_reconcile_leaves_the_payout_when_the_bank_is_down(bank_api: Any) -> None:
    payout = PayoutFactory(status=S.SUBMITTED)
    lookup(bank_api, payout).respond(503)
    assert reconcile(payout).status == S.SUBMITTED


@pytest.mark.django_db
def test_reconcile_releases_a_processing_payout_the_bank_canceled(bank_api: Any) -> None:
    # given our submit call's answer was lost (still processing), and the bank canceled the payout
    payout = PayoutFactory(status=S.PROCESSING)
    lookup(bank_api, payout).respond(200, json=bank_payout_json(payout, status="canceled", bank_id="bp_3"))

    payout = reconcile(payout)

    # then it is recorded as submitted (the bank had it), then canceled, and its hold released
    assert payout.status == S.CANCELED
    assert [(e.to_status, e.actor) for e in PayoutEvent.objects.filter(payout=payout)] == [
        ("submitted", "reconciler"),
        ("canceled", "reconciler"),
    ]
    hold = LedgerEntry.objects.get(payout=payout, kind=EntryKind.PENDING)
    assert hold.resolution.kind == EntryKind.VOID_PENDING


@pytest.mark.django_db
def test_reconcile_skips_a_bank_id_longer_than_we_store(bank_api: Any) -> None:
    payout = PayoutFactory(status=S.SUBMITTED)
    lookup(bank_api, payout).respond(
        200, json=bank_payout_json(payout, status="paid", bank_id="bp_" + "x" * 80)
    )
    assert reconcile(payout).status == S.SUBMITTED


@pytest.mark.django_db
def test_claim_takes_only_stale_payouts_and_not_twice_within_the_threshold() -> None:
    now = timezone.now()
    with time_machine.travel(now - timedelta(minutes=5), tick=False):
        stale = PayoutFactory(status=S.SUBMITTED)
        done = PayoutFactory(status=S.PAID)
    fresh = PayoutFactory(status=S.PROCESSING)

    first = payouts_claim_stale(statuses=IN_FLIGHT_STATUSES, older_than_seconds=60)
    second = payouts_claim_stale(statuses=IN_FLIGHT_STATUSES, older_than_seconds=60)

    assert first == [stale.pk]
    assert second == []
    assert done.pk not in first and fresh.pk not in first


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_never_claim_the_same_payout() -> None:
    with time_machine.travel(timezone.now() - timedelta(minutes=5), tick=False):
        payouts = [PayoutFactory(status=S.SUBMITTED) for _ in range(30)]
    claimed = run_at_once(
        lambda _: payouts_claim_stale(statuses=IN_FLIGHT_STATUSES, older_than_seconds=60), count=2
    )

    assert set(claimed[0]).isdisjoint(claimed[1])
    assert set(claimed[0]) | set(claimed[1]) == {p.pk for p in payouts}


@pytest.mark.django_db
def test_reconcile_payouts_task_fans_out_stale_in_flight_payouts_and_leaves_new_ones(settings: Any) -> None:
    settings.RECONCILE_AFTER_SECONDS = 60
    with time_machine.travel(timezone.now() - timedelta(minutes=5), tick=False):
        in_flight = PayoutFactory(status=S.PROCESSING)
        PayoutFactory(status=S.NEW)  # the dispatcher's, however old
    PayoutFactory(status=S.SUBMITTED)  # recent: the webhook is on its way

    with (
        mock.patch.object(tasks.reconcile_payout, "delay") as reconcile_delay,
        mock.patch.object(tasks.process_payout, "delay") as process_delay,
    ):
        tasks.reconcile_payouts.apply(throw=True)

    reconcile_delay.assert_called_once_with(str(in_flight.pk))
    process_delay.assert_not_called()


@pytest.mark.django_db
def test_cancel_of_a_submitted_payout_asks_the_bank(
    api: APIClient, organization: Organization, bank_api: Any
) -> None:
    payout = PayoutFactory(organization=organization, status=S.SUBMITTED, bank_reference="bp_5")
    cancel = bank_api.post("/payouts/bp_5/cancel").respond(
        200, json=bank_payout_json(payout, status="canceled", bank_id="bp_5")
    )

    response = api.patch(f"/api/payouts/{payout.pk}/", {"status": "canceled"}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    assert cancel.calls.last.request.headers["Idempotency-Key"] == "cancel-bp_5"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        (
            {"status_code": 409, "json": {"error": {"code": "already_executed", "message": "late"}}},
            409,
            "cancel_refused",
        ),
        ({"status_code": 503}, 503, "bank_unavailable"),
    ],
)
def test_cancel_of_a_submitted_payout_refused_or_unreachable_leaves_it_going(
    api: APIClient, organization: Organization, bank_api: Any, answer: dict[str, Any], status: int, code: str
) -> None:
    payout = PayoutFactory(organization=organization, status=S.SUBMITTED, bank_reference="bp_5")
    bank_api.post("/payouts/bp_5/cancel").respond(**answer)

    response = api.patch(f"/api/payouts/{payout.pk}/", {"status": "canceled"}, format="json")

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    payout.refresh_from_db()
    assert payout.status == S.SUBMITTED
