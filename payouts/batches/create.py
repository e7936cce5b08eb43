"""Creating a batch: every item checked, then all of them written in one transaction, or none."""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from django.db import transaction

from payouts.errors import (
    VALIDATION_MESSAGE,
    DomainError,
    IdempotencyKeyReused,
    InvalidField,
    InvalidTransition,
)
from payouts.ledger import entries
from payouts.metrics import BATCH_ITEMS, BATCHES_CREATED, PAYOUTS_CREATED, count_on_commit
from payouts.models import (
    Actor,
    Event,
    EventType,
    Organization,
    Payout,
    PayoutBatch,
    PayoutEvent,
    PayoutStatus,
)
from payouts.notifications import batches as told
from payouts.notifications import events
from payouts.rows import copy_into
from payouts.services import PayoutRequest, payout_request_checked
from payouts.transitions import payout_transition

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class BatchItem:
    """One item as the API parsed it: a payout request and the client's own reference."""

    request: PayoutRequest
    reference: str = ""


class BatchItemsInvalid(DomainError):
    """Items that break the rules: `details.items` maps each one's index to its field errors."""

    code = "validation_error"
    http_status = 400


def items_checked(items: Sequence[BatchItem | None]) -> list[BatchItem]:
    """ITEMS with their requests held to the single payout's rules (amounts quantised), once every
    one keeps them and no reference is used twice; raises `BatchItemsInvalid` naming every item that
    does not, by index, otherwise. A None is an item the caller could not parse (and reports itself,
    with these errors): it refuses the batch too, and the other items are still checked, so that
    every error is found in one pass."""
    errors: dict[int, dict[str, list[str]]] = {}
    checked: list[BatchItem] = []
    first_use: dict[str, int] = {}
    for index, item in enumerate(items):
        if item is None:
            continue
        try:
            request = payout_request_checked(item.request)
        except InvalidField as exc:
            errors[index] = exc.details
            continue
        if item.reference:
            if item.reference in first_use:
                errors[index] = {"reference": [f"Item {first_use[item.reference]} already has it."]}
                continue
            first_use[item.reference] = index
        checked.append(BatchItem(request=request, reference=item.reference))
    if errors or len(checked) + len(errors) < len(items):
        raise BatchItemsInvalid(VALIDATION_MESSAGE, details={"items": errors})
    return checked


def payout_batch_create(
    *,
    organization: Organization,
    idempotency_key: str,
    fingerprint: str,
    description: str,
    items: Sequence[BatchItem | None],
) -> tuple[PayoutBatch, bool]:
    """Create a batch once per (organisation, idempotency key). Returns (batch, created).

    All or nothing: every item is held to the rules of a single payout first (`BatchItemsInvalid`
    names each item that breaks one); then, in one transaction, the organisation's accounts are
    locked once per currency and must cover the batch's total in each (`InsufficientFunds` names
    every shortfall), and every payout, its event, its client event and its hold are written with
    PostgreSQL's COPY, with the batch and its `payout_batch.created` event. The items are `new` payouts:
    the dispatcher hands them to the workers after the commit, as any payout.

    The same key with the same FINGERPRINT (the CSV's bytes, the JSON in a normal form) returns the
    existing batch; with another, `IdempotencyKeyReused`. Two simultaneous requests with one key
    meet at the unique index: the second waits for the first to commit, then returns its batch."""
    checked = items_checked(items)
    existing = PayoutBatch.objects.filter(organization=organization, idempotency_key=idempotency_key).first()
    if existing is not None:
        return _replay(existing, fingerprint), False
    with transaction.atomic():
        batch = PayoutBatch(
            organization=organization,
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint,
            description=description,
            item_count=len(checked),
        )
        PayoutBatch.objects.bulk_create([batch], ignore_conflicts=True)
        if not PayoutBatch.objects.filter(pk=batch.pk).exists():
            winner = None  # another request with this key committed first
        else:
            winner = batch
            _write_items(batch, organization, checked)
    if winner is None:
        found = PayoutBatch.objects.get(organization=organization, idempotency_key=idempotency_key)
        return _replay(found, fingerprint), False
    count_on_commit(BATCHES_CREATED)
    for currency, count in Counter(item.request.currency for item in checked).items():
        count_on_commit(BATCH_ITEMS, count, currency=currency)
        count_on_commit(PAYOUTS_CREATED, count, currency=currency, source="batch")
    logger.info("payout_batch.created", batch_id=str(batch.pk), items=len(checked))
    return batch, True


def _write_items(batch: PayoutBatch, organization: Organization, items: list[BatchItem]) -> None:
    payouts = [
        Payout(
            organization=organization,
            amount=item.request.amount,
            currency=item.request.currency,
            recipient=item.request.recipient,
            description=item.request.description,
            idempotency_key=f"batch:{batch.pk}:{index}",
            request_fingerprint=item.request.fingerprint(),
            batch=batch,
            reference=item.reference,
        )
        for index, item in enumerate(items)
    ]
    # The holds first: a batch the balance does not cover is refused before any row is written (the
    # holds' references to the payouts are checked at commit).
    entries.holds_place_for_batch(organization=organization, payouts=payouts)
    copy_into(Payout, payouts)
    copy_into(
        PayoutEvent,
        (
            PayoutEvent(
                payout=payout,
                from_status="",
                to_status=PayoutStatus.NEW,
                actor=Actor.CLIENT,
                reason="created in a batch",
            )
            for payout in payouts
        ),
    )
    copy_into(
        Event,
        (
            events.payout_event(payout=payout, type_=EventType.PAYOUT_CREATED, created_at=payout.created_at)
            for payout in payouts
        ),
    )
    told.payout_batch_event_record(batch=batch, type_=EventType.PAYOUT_BATCH_CREATED)


def _replay(existing: PayoutBatch, fingerprint: str) -> PayoutBatch:
    if existing.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different batch.",
            details={"batch_id": str(existing.pk)},
        )
    return existing


def payout_batch_cancel(*, batch: PayoutBatch) -> int:
    """Cancel every item still `new`, each through the transition function (its event, its hold
    released); an item the dispatcher took meanwhile is left to go on. Returns how many were
    canceled."""
    canceled = 0
    for payout_id in batch.items.filter(status=PayoutStatus.NEW).values_list("pk", flat=True).iterator():
        try:
            result = payout_transition(
                payout_id=payout_id,
                to_status=PayoutStatus.CANCELED,
                actor=Actor.CLIENT,
                reason="batch canceled",
                only_from=frozenset({PayoutStatus.NEW}),
            )
        except InvalidTransition:
            continue  # already with the bank (or canceled by a request of its own)
        canceled += result.changed
    logger.info("payout_batch.canceled", batch_id=str(batch.pk), canceled=canceled)
    return canceled
