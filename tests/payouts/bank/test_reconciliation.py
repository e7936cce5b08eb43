"""The reconciler: stale payouts are looked up at the bank and brought to the bank's state."""

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from payouts import tasks
from payouts.bank.reconciliation import payout_reconcile, payouts_claim_due
from payouts.models import Actor, EntryKind, LedgerEntry, Organization, Payout, PayoutEvent, PayoutStatus
from payouts.transitions import payout_transition
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
def test_reconcile_skips_a_bank_id_longer_than_we_store(bank_api: Any, caplog: Any) -> None:
    payout = PayoutFactory(status=S.SUBMITTED)
    lookup(bank_api, payout).respond(
        200, json=bank_payout_json(payout, status="paid", bank_id="bp_" + "x" * 80)
    )
    assert reconcile(payout).status == S.SUBMITTED
    assert any("reconcile.bank_disagrees" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_claim_takes_only_due_payouts_and_pushes_each_out_by_its_backoff(settings: Any) -> None:
    # given a backoff of 60 s, then 120 s, then 600 s (the last repeats)
    settings.RECONCILE_BACKOFF_SECONDS = [60, 120, 600]
    start = timezone.now()
    with time_machine.travel(start - timedelta(minutes=5), tick=False):
        due = PayoutFactory(status=S.SUBMITTED)  # first look due four minutes ago
        PayoutFactory(status=S.PAID)  # final: never
    fresh = PayoutFactory(status=S.PROCESSING)  # first look a minute away

    def claim_at(seconds: float) -> list[Any]:
        with time_machine.travel(start + timedelta(seconds=seconds), tick=False):
            return payouts_claim_due(limit=100)

    # then the due one is claimed, and again only after each next step of the backoff (120 s, then
    # 600 s for good); the fresh one at its first look
    assert claim_at(0) == [due.pk]
    assert claim_at(59) == []
    assert claim_at(61) == [fresh.pk]
    assert claim_at(119) == []
    assert claim_at(121) == [due.pk]
    assert claim_at(182) == [fresh.pk]
    assert claim_at(121 + 599) == []
    assert claim_at(121 + 601) == [due.pk]
    assert set(claim_at(121 + 601 + 601)) == {due.pk, fresh.pk}  # 600 s for good, both
    due.refresh_from_db()
    assert due.checks == 4


@pytest.mark.django_db
def test_ten_thousand_long_processing_payouts_do_not_starve_a_newer_one_whose_webhook_was_lost(
    settings: Any, organization: Organization
) -> None:
    settings.RECONCILE_BACKOFF_SECONDS = [10, 30, 60, 300, 1800, 3600]
    settings.RECONCILE_BATCH_SIZE = 100
    start = timezone.now()
    # given 10,000 payouts the bank has kept processing for days, each now asked hourly, their
    # turns spread over the coming hour
    Payout.objects.bulk_create(
        Payout(
            organization=organization,
            amount=1,
            currency="RUB",
            recipient={"name": "Ivan Petrov", "account_number": "40702810938000000001", "bic": "044525225"},
            status=S.SUBMITTED,
            idempotency_key=f"old-{i}",
            request_fingerprint="0" * 64,
            checks=6,
            next_check_at=start + timedelta(seconds=i * 0.36),
        )
        for i in range(10_000)
    )
    # and a newer payout handed to the bank now, whose webhook will never come
    with time_machine.travel(start, tick=False):
        newer = PayoutFactory(organization=organization, status=S.PROCESSING)
        payout_transition(
            payout_id=newer.pk, to_status=S.SUBMITTED, actor=Actor.WORKER, bank_reference="bp_1"
        )

    # when the beat sweeps every 5 seconds
    claimed_at = None
    for tick in range(1, 13):
        with time_machine.travel(start + timedelta(seconds=5 * tick), tick=False):
            if newer.pk in payouts_claim_due(limit=settings.RECONCILE_BATCH_SIZE):
                claimed_at = 5 * tick
                break

    # then it is looked at on the first sweep after its first look falls due (10 s), not behind the
    # old ones (the claim by the oldest update that this replaced never reached it)
    assert claimed_at == 10


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_never_claim_the_same_payout(settings: Any) -> None:
    settings.RECONCILE_BACKOFF_SECONDS = [60]  # a claim's next check is a minute on
    with time_machine.travel(timezone.now() - timedelta(minutes=5), tick=False):
        payouts = [PayoutFactory(status=S.SUBMITTED) for _ in range(30)]
    claimed = run_at_once(lambda _: payouts_claim_due(limit=100), count=2)

    assert set(claimed[0]).isdisjoint(claimed[1])
    assert set(claimed[0]) | set(claimed[1]) == {p.pk for p in payouts}


@pytest.mark.django_db
def test_reconcile_payouts_task_fans_out_due_in_flight_payouts_and_leaves_new_ones(settings: Any) -> None:
    settings.RECONCILE_BACKOFF_SECONDS = [60]
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


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [("amount", 1), ("currency", "USD"), ("id", "bp_other")],
    ids=["amount", "currency", "bank-id"],
)
def test_reconcile_refuses_a_bank_state_that_disagrees_with_the_payout_as_the_webhook_does(
    bank_api: Any, caplog: Any, field: str, value: Any
) -> None:
    # given a submitted payout, and the bank's look-up answering "paid" for another amount,
    # currency or bank id than ours
    payout = PayoutFactory(status=S.SUBMITTED, bank_reference="bp_9")
    answer = bank_payout_json(payout, status="paid", bank_id="bp_9") | {field: value}
    lookup(bank_api, payout).respond(200, json=answer)

    # then nothing is applied: the hold stays, and an operator is told
    assert reconcile(payout).status == S.SUBMITTED
    assert not LedgerEntry.objects.filter(payout=payout, kind=EntryKind.POST_PENDING).exists()
    assert [r.levelname for r in caplog.records if "reconcile.bank_disagrees" in r.getMessage()] == ["ERROR"]


@pytest.mark.django_db
def test_cancel_answered_still_processing_is_409_cancel_pending_and_keeps_the_hold(
    api: APIClient, organization: Organization, bank_api: Any
) -> None:
    # given the bank answers the cancel 200 but with the payout still processing
    payout = PayoutFactory(organization=organization, status=S.SUBMITTED, bank_reference="bp_5")
    bank_api.post("/payouts/bp_5/cancel").respond(
        200, json=bank_payout_json(payout, status="processing", bank_id="bp_5")
    )

    response = api.patch(f"/api/payouts/{payout.pk}/", {"status": "canceled"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "cancel_pending"
    payout.refresh_from_db()
    assert payout.status == S.SUBMITTED
    assert not LedgerEntry.objects.filter(payout=payout, kind=EntryKind.VOID_PENDING).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("bank_status", "settles_as"), [("paid", EntryKind.POST_PENDING), ("failed", EntryKind.VOID_PENDING)]
)
def test_cancel_answered_paid_or_failed_applies_that_status_and_refuses_the_cancel(
    api: APIClient, organization: Organization, bank_api: Any, bank_status: str, settles_as: EntryKind
) -> None:
    payout = PayoutFactory(organization=organization, status=S.SUBMITTED, bank_reference="bp_5")
    extra = {"failure_code": "account_closed", "failure_reason": "closed"} if bank_status == "failed" else {}
    bank_api.post("/payouts/bp_5/cancel").respond(
        200, json=bank_payout_json(payout, status=bank_status, bank_id="bp_5", **extra)
    )

    response = api.patch(f"/api/payouts/{payout.pk}/", {"status": "canceled"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "cancel_refused"
    payout.refresh_from_db()
    assert payout.status == bank_status
    hold = LedgerEntry.objects.get(payout=payout, kind=EntryKind.PENDING)
    assert hold.resolution.kind == settles_as


@pytest.mark.django_db
def test_cancel_answered_canceled_for_another_amount_cancels_nothing(
    api: APIClient, organization: Organization, bank_api: Any
) -> None:
    payout = PayoutFactory(organization=organization, status=S.SUBMITTED, bank_reference="bp_5")
    answer = bank_payout_json(payout, status="canceled", bank_id="bp_5") | {"amount": 1}
    bank_api.post("/payouts/bp_5/cancel").respond(200, json=answer)

    response = api.patch(f"/api/payouts/{payout.pk}/", {"status": "canceled"}, format="json")

    assert response.status_code == 503
    payout.refresh_from_db()
    assert payout.status == S.SUBMITTED


@pytest.mark.django_db
def test_reconcile_flags_a_payout_in_flight_past_the_stuck_age_and_never_fails_it(
    bank_api: Any, caplog: Any, settings: Any
) -> None:
    # given a payout the bank has kept for 30 hours (the stuck age is 24)
    settings.STUCK_AFTER_HOURS = 24
    payout = PayoutFactory(status=S.SUBMITTED, processing_at=timezone.now() - timedelta(hours=30))
    lookup(bank_api, payout).respond(200, json=bank_payout_json(payout, status="processing", bank_id="bp_1"))

    # then the look-up leaves it in flight, its hold kept, with an error for an operator
    assert reconcile(payout).status == S.SUBMITTED
    assert [r.levelname for r in caplog.records if "payout.stuck" in r.getMessage()] == ["ERROR"]


@pytest.mark.django_db
def test_the_admin_lists_the_stuck_payouts(admin_client: Any, settings: Any) -> None:
    settings.STUCK_AFTER_HOURS = 24
    stuck = PayoutFactory(status=S.PROCESSING, processing_at=timezone.now() - timedelta(days=2))
    PayoutFactory(status=S.PROCESSING, processing_at=timezone.now())

    page = admin_client.get("/admin/payouts/payout/?stuck=yes")

    assert page.status_code == 200
    assert [p.pk for p in page.context["cl"].result_list] == [stuck.pk]
