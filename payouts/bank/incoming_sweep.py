"""Incoming money is never lost: the bank's list of incoming transfers, read from where we left it,
credits any transfer whose `transfer.incoming` webhook never reached us (the webhook and the sweep
meet at the transfer's unique operation id, so each credits once)."""

import structlog
from django.conf import settings

from payouts.bank.adapter import bank_client
from payouts.bank.webhooks import incoming_transfer_apply
from payouts.models import BankFeedCursor, WebhookOutcome
from provider.errors import ProviderError

logger = structlog.get_logger(__name__)

FEED = "incoming_transfers"


def incoming_transfers_sweep() -> int:
    """Read the bank's incoming transfers after our cursor, up to `INCOMING_SWEEP_MAX_PAGES` pages,
    and record each one not yet recorded (credited, or parked for an operator when no organisation
    has the payer's INN); the cursor moves past a page only once all of it is handled. Returns how
    many were recorded here (their webhooks had not come). A bank that cannot
    be reached is logged and asked again at the next sweep."""
    feed, _ = BankFeedCursor.objects.get_or_create(name=FEED)
    recovered = 0
    for _page in range(settings.INCOMING_SWEEP_MAX_PAGES):
        try:
            page = bank_client().list_incoming_transfers(after=feed.cursor or None)
        except ProviderError as exc:
            logger.warning("incoming_sweep.bank_unavailable", error=str(exc))
            break
        for listed in page.transfers:
            handled = incoming_transfer_apply(operation_id=listed.operation_id, transfer=listed.transfer)
            if handled.outcome == WebhookOutcome.APPLIED:
                recovered += 1
                logger.warning("incoming_transfer.recovered_by_sweep", operation_id=listed.operation_id)
            elif handled.outcome == WebhookOutcome.ANOMALY:
                logger.error(
                    "incoming_sweep.anomaly", operation_id=listed.operation_id, anomaly=handled.anomaly
                )
        if page.next_cursor:
            feed.cursor = page.next_cursor
            feed.save(update_fields=["cursor", "updated_at"])
        if not page.has_more:
            break
    return recovered
