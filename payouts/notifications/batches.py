"""What a batch looks like to its client, and its completion: a batch is `completed` once every
item is final, which a sweep notices (`payout_batches_complete`) and tells (`payout_batch.completed`)."""

from collections.abc import Iterable
from typing import Any
from uuid import UUID

import structlog
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Sum
from django.utils import timezone

from payouts.models import Event, EventType, Payout, PayoutBatch, PayoutStatus
from payouts.rendering import amount, timestamp

logger = structlog.get_logger(__name__)

OPEN_STATUSES = (PayoutStatus.NEW, PayoutStatus.PROCESSING, PayoutStatus.SUBMITTED)


def batch_totals(batch_ids: Iterable[UUID]) -> dict[UUID, list[dict[str, Any]]]:
    """Per batch, its items counted and summed by status and currency (one grouped query, on the
    batch's items index)."""
    totals: dict[UUID, list[dict[str, Any]]] = {}
    rows = (
        Payout.objects.filter(batch_id__in=list(batch_ids))
        .values("batch_id", "status", "currency")
        .annotate(count=Count("id"), amount=Sum("amount"))
        .order_by("batch_id", "currency", "status")
    )
    for row in rows:
        totals.setdefault(row["batch_id"], []).append(
            {
                "status": row["status"],
                "currency": row["currency"],
                "count": row["count"],
                "amount": amount(row["amount"]),
            }
        )
    return totals


def render_batch(batch: PayoutBatch, totals: list[dict[str, Any]]) -> dict[str, Any]:
    """A batch as the API shows it and its events carry it."""
    counts = {status: 0 for status in PayoutStatus.values}
    for row in totals:
        counts[row["status"]] += row["count"]
    return {
        "id": str(batch.pk),
        "description": batch.description,
        "status": "completed" if batch.completed_at else "processing",
        "item_count": batch.item_count,
        "counts": counts,
        "totals": totals,
        "created_at": timestamp(batch.created_at),
        "completed_at": timestamp(batch.completed_at),
    }


def payout_batch_event_record(*, batch: PayoutBatch, type_: EventType) -> Event:
    """Record an event about BATCH, in the caller's transaction."""
    return Event.objects.create(
        organization_id=batch.organization_id,
        type=type_,
        data={"object": render_batch(batch, batch_totals([batch.pk]).get(batch.pk, []))},
    )


def payout_batches_complete() -> int:
    """Mark the open batches whose every item is final `completed`, each with its
    `payout_batch.completed` event, once (the batch's row is locked and re-checked). Returns how many."""
    still_open = Payout.objects.filter(batch_id=OuterRef("pk"), status__in=OPEN_STATUSES)
    done = list(
        PayoutBatch.objects.filter(completed_at__isnull=True)
        .annotate(open_items=Exists(still_open))
        .filter(open_items=False)
        .values_list("pk", flat=True)
    )
    completed = 0
    for batch_id in done:
        with transaction.atomic():
            batch = PayoutBatch.objects.select_for_update().get(pk=batch_id)
            if batch.completed_at is not None:
                continue
            batch.completed_at = timezone.now()
            batch.save(update_fields=["completed_at"])
            payout_batch_event_record(batch=batch, type_=EventType.PAYOUT_BATCH_COMPLETED)
        logger.info("payout_batch.completed", batch_id=str(batch_id))
        completed += 1
    return completed
