"""Recording events. Each is written in the caller's transaction, beside the change it describes:
a transition, a create, a credit. So an event exists if and only if its change committed (the
events table is the outbox the delivery reads)."""

from datetime import datetime
from typing import Any

import structlog
from django.db import transaction
from django.utils import timezone

from payouts.models import EVENT_ID_PREFIX, Event, EventType, IncomingTransfer, Payout, PayoutStatus
from payouts.rendering import amount, payout_fields, render_payout, timestamp

logger = structlog.get_logger(__name__)

PAYOUT_STATUS_EVENTS: dict[PayoutStatus, EventType] = {
    PayoutStatus.NEW: EventType.PAYOUT_CREATED,
    PayoutStatus.PROCESSING: EventType.PAYOUT_PROCESSING,
    PayoutStatus.SUBMITTED: EventType.PAYOUT_SUBMITTED,
    PayoutStatus.PAID: EventType.PAYOUT_PAID,
    PayoutStatus.FAILED: EventType.PAYOUT_FAILED,
    PayoutStatus.CANCELED: EventType.PAYOUT_CANCELED,
}


def payout_event(*, payout: Payout, type_: EventType, created_at: datetime | None = None) -> Event:
    """An unsaved event about PAYOUT, carrying it as the API shows it now (the create writes it in
    its own statement)."""
    return Event(
        organization_id=payout.organization_id,
        type=type_,
        created_at=created_at or timezone.now(),
        data={"object": render_payout(payout_fields(payout))},
        payout_id=payout.pk,
    )


def payout_status_event_record(*, payout: Payout) -> Event:
    """Record that PAYOUT reached its (new) status, in the caller's transaction."""
    event = payout_event(payout=payout, type_=PAYOUT_STATUS_EVENTS[PayoutStatus(payout.status)])
    event.save(force_insert=True)
    return event


@transaction.atomic
def payout_stuck_event_record(*, payout: Payout) -> bool:
    """Record that PAYOUT is stuck (in flight past `STUCK_AFTER_HOURS`), once per payout however
    often the reconciler finds it so: the unique index on stuck events refuses a second. True when
    this call recorded it."""
    event = payout_event(payout=payout, type_=EventType.PAYOUT_STUCK)
    written = Event.objects.bulk_create([event], ignore_conflicts=True)
    recorded = Event.objects.filter(pk=written[0].pk).exists()
    if recorded:
        logger.info("event.recorded", event_type=event.type, payout_id=str(payout.pk))
    return recorded


def credit_event_record(*, incoming: IncomingTransfer) -> Event:
    """Record that an incoming transfer was credited to its organisation (by the bank's word, or an
    operator's assignment of a parked one), in the caller's transaction."""
    assert incoming.organization_id is not None  # only a credited transfer is told
    return Event.objects.create(
        organization_id=incoming.organization_id,
        type=EventType.BALANCE_CREDITED,
        data={"object": render_credit(incoming)},
    )


def render_credit(incoming: IncomingTransfer) -> dict[str, Any]:
    """A credit as a client is told of it: the transfer the bank reported, and when it was credited."""
    return {
        "id": incoming.pk,
        "amount": amount(incoming.amount),
        "currency": incoming.currency,
        "payer_inn": incoming.payer_inn,
        "document_number": incoming.document_number,
        "document_date": incoming.document_date.isoformat(),
        "operation_id": incoming.operation_id,
        "received_at": timestamp(incoming.received_at),
        "credited_at": timestamp(incoming.credited_at),
    }


def render_event(event: Event, *, inn: str) -> dict[str, Any]:
    """An event as the events API shows it and a webhook message carries it."""
    return {
        "id": event.public_id,
        "type": event.type,
        "created_at": timestamp(event.created_at),
        "organization": inn,
        "data": event.data,
    }


def event_pk(public_id: str) -> str | None:
    """The primary key of `evt_<32 hex digits>`, or None when PUBLIC_ID is not of that form."""
    digits = public_id.removeprefix(EVENT_ID_PREFIX)
    if digits == public_id or len(digits) != 32 or not all(c in "0123456789abcdef" for c in digits):
        return None
    return digits
