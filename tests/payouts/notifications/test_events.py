"""Client events: written in the transaction of the change they describe, carrying the object as
the API shows it then; never changed."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from payouts.bank.reconciliation import payout_reconcile
from payouts.ledger.incoming import incoming_transfer_assign, incoming_transfer_receive
from payouts.models import Actor, Event, EventType, Organization, PayoutStatus
from payouts.services import PayoutRequest, payout_create
from payouts.transitions import payout_apply_bank_status, payout_transition
from tests.payouts.factories import VALID_ACCOUNT, PayoutFactory, fund

S = PayoutStatus


def _types(organization: Organization) -> list[str]:
    return list(
        Event.objects.filter(organization=organization)
        .order_by("created_at", "id")
        .values_list("type", flat=True)
    )


@pytest.mark.django_db
def test_a_payouts_life_produces_exactly_its_events_in_order(organization: Organization) -> None:
    # given the organisation's funding events already told
    before = Event.objects.filter(organization=organization).count()
    payout, _ = payout_create(
        organization=organization,
        idempotency_key="life-1",
        request=PayoutRequest(
            amount=Decimal("10.00"), currency="RUB", recipient=dict(VALID_ACCOUNT), description=""
        ),
    )

    # when it goes the whole way
    payout_transition(payout_id=payout.pk, to_status=S.PROCESSING, actor=Actor.WORKER)
    payout_transition(payout_id=payout.pk, to_status=S.SUBMITTED, actor=Actor.WORKER)
    payout_apply_bank_status(
        payout_id=payout.pk, to_status=S.PAID, actor=Actor.BANK, bank_reference="bp_1", reason="paid"
    )
    payout_transition(payout_id=payout.pk, to_status=S.PAID, actor=Actor.BANK)  # a repeat: no-op

    # then one event per change, in order, each carrying the payout as it was then
    events = list(Event.objects.filter(organization=organization).order_by("created_at", "id"))[before:]
    assert [e.type for e in events] == [
        "payout.created",
        "payout.processing",
        "payout.submitted",
        "payout.paid",
    ]
    assert [e.data["object"]["status"] for e in events] == ["new", "processing", "submitted", "paid"]
    assert {e.payout_id for e in events} == {payout.pk}
    assert events[-1].data["object"]["bank_reference"] == "bp_1"


@pytest.mark.django_db
def test_the_created_event_carries_the_payout_as_the_create_answered(api: APIClient) -> None:
    body = {"amount": "12.50", "currency": "RUB", "recipient": VALID_ACCOUNT, "description": "fee"}
    answer = api.post("/api/payouts/", body, format="json", HTTP_IDEMPOTENCY_KEY="created-1").json()

    event = Event.objects.get(type=EventType.PAYOUT_CREATED, payout_id=answer["id"])

    assert event.data["object"] == {key: value for key, value in answer.items() if key != "events"}
    assert event.created_at.isoformat().replace("+00:00", "Z") == answer["created_at"]


@pytest.mark.django_db
def test_a_replayed_create_writes_no_second_event(api: APIClient) -> None:
    body = {"amount": "1.00", "currency": "RUB", "recipient": VALID_ACCOUNT}
    for _ in range(2):
        api.post("/api/payouts/", body, format="json", HTTP_IDEMPOTENCY_KEY="replay-1")

    assert Event.objects.filter(type=EventType.PAYOUT_CREATED).count() == 1


@pytest.mark.django_db
def test_a_refused_create_writes_no_event(api: APIClient, organization: Organization) -> None:
    before = Event.objects.count()
    body = {"amount": "9999999.00", "currency": "USD", "recipient": VALID_ACCOUNT}

    response = api.post("/api/payouts/", body, format="json", HTTP_IDEMPOTENCY_KEY="poor-1")

    assert response.status_code == 422
    assert Event.objects.count() == before


@pytest.mark.django_db
def test_an_event_exists_only_if_its_change_committed() -> None:
    payout = PayoutFactory(status=S.SUBMITTED)

    # when the transaction of the transition is rolled back after it ran
    with transaction.atomic():
        payout_transition(payout_id=payout.pk, to_status=S.PAID, actor=Actor.BANK)
        written_inside = Event.objects.filter(type=EventType.PAYOUT_PAID).exists()
        transaction.set_rollback(True)

    # then neither the change nor its event is there (though the event was written beside it)
    assert written_inside
    payout.refresh_from_db()
    assert payout.status == S.SUBMITTED
    assert not Event.objects.filter(type=EventType.PAYOUT_PAID).exists()


@pytest.mark.django_db
def test_an_incoming_credit_is_told_as_balance_credited_and_a_parked_one_when_assigned(
    organization: Organization,
) -> None:
    credited = fund(organization, "300.00")
    parked, _ = incoming_transfer_receive(
        operation_id="op_parked",
        payer_inn="7736207543",  # nobody's yet
        amount=Decimal("70.00"),
        currency="RUB",
        document_number="P-1",
        document_date=timezone.localdate(),
    )
    assert not Event.objects.filter(data__object__id=parked.pk).exists()

    incoming_transfer_assign(incoming_transfer_id=parked.pk, organization=organization)

    told = {e.data["object"]["id"]: e for e in Event.objects.filter(type=EventType.BALANCE_CREDITED)}
    assert told[credited.pk].data["object"]["amount"] == "300.00"
    assert told[parked.pk].organization_id == organization.pk
    assert told[parked.pk].data["object"]["document_number"] == "P-1"
    assert told[parked.pk].data["object"]["credited_at"] is not None


@pytest.mark.django_db
def test_a_stuck_payout_is_told_once_however_often_the_reconciler_finds_it(
    settings: Any, bank_api: Any
) -> None:
    settings.STUCK_AFTER_HOURS = 1
    payout = PayoutFactory(status=S.SUBMITTED, processing_at=timezone.now() - timedelta(hours=2))
    bank_api.get(url__regex=r".*/payouts/by-reference/.*").respond(404, json={"error": "not_found"})

    payout_reconcile(payout_id=payout.pk)
    payout_reconcile(payout_id=payout.pk)

    stuck = Event.objects.filter(type=EventType.PAYOUT_STUCK, payout_id=payout.pk)
    assert stuck.count() == 1
    assert stuck.get().data["object"]["status"] == "submitted"


@pytest.mark.django_db
def test_an_event_cannot_be_changed() -> None:
    payout = PayoutFactory(status=S.SUBMITTED)
    payout_transition(payout_id=payout.pk, to_status=S.PAID, actor=Actor.BANK)
    event = Event.objects.get(type=EventType.PAYOUT_PAID)

    with pytest.raises(DatabaseError), transaction.atomic():
        Event.objects.filter(pk=event.pk).update(data={"object": {"status": "failed"}})

    Event.objects.filter(pk=event.pk).update(fanned_out_at=timezone.now())  # the delivery's mark may
    event.refresh_from_db()
    assert event.data["object"]["status"] == "paid"
    assert event.fanned_out_at is not None
