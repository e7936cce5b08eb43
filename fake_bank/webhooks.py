"""The simulated bank's webhooks as stored messages: create one (and queue its deliveries), send it
again, send a tampered copy. Sending over HTTP is ``fake_bank.delivery``'s job."""

import logging
from datetime import datetime

from django.db import transaction

from fake_bank.delivery import webhook_delivery_queue
from fake_bank.errors import NotFoundError
from fake_bank.models import BankPayout, Webhook, WebhookType, new_operation_id
from fake_bank.representations import webhook_body

logger = logging.getLogger(__name__)


def webhook_create(
    *,
    event_type: WebhookType,
    data: dict[str, object],
    occurred_at: datetime,
    payout: BankPayout | None,
    copies: int = 1,
) -> Webhook:
    """Store a webhook and queue ``copies`` deliveries after commit (none when it is dropped).

    A payout flagged ``drop_next_webhook`` (locked by the caller) loses this webhook and the flag.
    Writes in the caller's transaction (the one that changed the payout or recorded the transfer).
    """
    dropped = copies == 0
    if payout is not None and payout.drop_next_webhook:
        dropped = True
        payout.drop_next_webhook = False
        payout.save(update_fields=["drop_next_webhook"])
    operation_id = new_operation_id()
    webhook = Webhook.objects.create(
        operation_id=operation_id,
        type=event_type,
        body=webhook_body(
            event_type=event_type, operation_id=operation_id, occurred_at=occurred_at, data=data
        ),
        payout=payout,
        created_at=occurred_at,
        dropped=dropped,
        delivery_count=0 if dropped else copies,
    )
    if dropped:
        logger.info("fake bank webhook %s %s dropped on purpose", event_type, operation_id)
    for delivery in range(1, webhook.delivery_count + 1):
        webhook_delivery_queue(webhook_id=webhook.pk, delivery=delivery)
    return webhook


@transaction.atomic
def webhook_resend(*, webhook_id: int) -> Webhook:
    """Deliver a webhook again: the same message (``webhook-id``, ``operation_id``, body) with a new
    timestamp and signature, retried on the usual schedule; queued after commit.

    Works for a dropped webhook too: that is how a person delivers a "lost" message late, and for
    one that ran out of retries (its ``failed_at`` is cleared). Raises ``NotFoundError``.
    """
    webhook = _webhook_lock(webhook_id)
    webhook.delivery_count += 1
    webhook.failed_at = None  # a new delivery is under way; it sets this again if it runs out too
    webhook.save(update_fields=["delivery_count", "failed_at"])
    webhook_delivery_queue(webhook_id=webhook.pk, delivery=webhook.delivery_count)
    return webhook


@transaction.atomic
def webhook_send_tampered(*, webhook_id: int) -> Webhook:
    """Deliver one copy of a webhook whose body is altered after signing (the amount multiplied by
    100), which the receiver must refuse. One attempt, never retried; it does not change the
    webhook's delivered or failed state. Raises ``NotFoundError``.
    """
    webhook = _webhook_lock(webhook_id)
    webhook.delivery_count += 1
    webhook.save(update_fields=["delivery_count"])
    webhook_delivery_queue(webhook_id=webhook.pk, delivery=webhook.delivery_count, tampered=True)
    return webhook


def _webhook_lock(webhook_id: int) -> Webhook:
    try:
        return Webhook.objects.select_for_update().get(pk=webhook_id)
    except Webhook.DoesNotExist:
        raise NotFoundError(f"no webhook with id {webhook_id!r}") from None
