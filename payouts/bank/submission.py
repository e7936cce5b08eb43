"""The worker's side of the money path: hand a payout to the bank and record its first answer.

`process_payout` (the Celery task) and the reconciler's resubmission call `payout_submit`; every
status change goes through `payouts.transitions`.
"""

from datetime import timedelta
from typing import Any
from uuid import UUID

import structlog
from django.db import connection
from django.utils import timezone

from payouts.bank.adapter import bank_client, submission_for
from payouts.errors import InvalidTransition
from payouts.models import Actor, Payout, PayoutStatus
from payouts.transitions import payout_transition
from provider.errors import ProviderRejectedError

logger = structlog.get_logger(__name__)


# The claim of `new` payouts for the dispatcher, in one statement: up to LIMIT due payouts, oldest
# first (a create makes it due at once; a claim makes it due again after the re-claim window, for
# when its task is lost with the broker or still queued behind others: submitting twice is
# harmless). SKIP LOCKED passes over rows a worker's transition or another dispatcher holds. On the
# partial index of `new` payouts by `next_check_at`.
_CLAIM_NEW_SQL = """
WITH claimed AS (
  UPDATE payouts_payout SET next_check_at = %(reclaim_at)s
  WHERE id IN (
    SELECT id FROM payouts_payout
    WHERE status = 'new' AND next_check_at <= %(now)s
    ORDER BY next_check_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
  )
  RETURNING id, created_at
)
SELECT id FROM claimed ORDER BY created_at
"""


def payouts_claim_new(*, limit: int, reclaim_after_seconds: float) -> list[UUID]:
    """Claim the due `new` payouts to hand to the workers (never claimed, or claimed more than
    `reclaim_after_seconds` ago and still `new`), oldest first, and make each due again that much
    later. Commits by itself (autocommit)."""
    now = timezone.now()
    params: dict[str, Any] = {
        "now": now,
        "reclaim_at": now + timedelta(seconds=reclaim_after_seconds),
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_NEW_SQL, params)
        return [row[0] for row in cursor.fetchall()]


def payout_submit(*, payout_id: UUID | str, actor: Actor = Actor.WORKER) -> None:
    """Hand a payout to the bank: `new -> processing`, submit, then `processing -> submitted` (with the
    bank's reference) or `processing -> failed` (the bank refused it outright).

    Safe to run any number of times, concurrently too: the bank deduplicates on our payout id (its
    Idempotency-Key), and every status change is a no-op when already made. A payout that is no
    longer `new` or `processing` is left alone. Raises `ProviderTransientError` when the outcome is
    unknown; the payout then stays `processing` (the caller retries; the reconciler looks it up).
    """
    structlog.contextvars.bind_contextvars(payout_id=str(payout_id))
    payout = Payout.objects.get(pk=payout_id)
    if payout.status not in {PayoutStatus.NEW, PayoutStatus.PROCESSING}:
        logger.info("payout.submit.skipped", status=payout.status)
        return
    try:
        payout = payout_transition(
            payout_id=payout.pk, to_status=PayoutStatus.PROCESSING, actor=actor, reason="picked up"
        ).payout  # the row as locked and written: no need to read it again
    except InvalidTransition:
        # Canceled (or moved on) between our read and the lock: nothing to submit.
        logger.info("payout.submit.skipped_after_lock")
        return
    try:
        bank_payout = bank_client().submit_payout(submission_for(payout))
    except ProviderRejectedError as exc:
        _apply_bank_outcome(
            payout_id=payout.pk,
            to_status=PayoutStatus.FAILED,
            actor=actor,
            reason="refused by the bank at submission",
            failure_code=exc.code,
            failure_reason=exc.message,
            # Only what we moved to `processing` ourselves: a refusal arriving after the reconciler
            # (or the bank's webhook) moved the payout on must not fail it.
            only_from=frozenset({PayoutStatus.PROCESSING}),
        )
        return
    _apply_bank_outcome(
        payout_id=payout.pk,
        to_status=PayoutStatus.SUBMITTED,
        actor=actor,
        reason="accepted by the bank",
        bank_reference=bank_payout.id,
    )


def _apply_bank_outcome(
    *,
    payout_id: UUID,
    to_status: PayoutStatus,
    actor: Actor,
    reason: str,
    failure_code: str = "",
    failure_reason: str = "",
    bank_reference: str = "",
    only_from: frozenset[PayoutStatus] | None = None,
) -> None:
    """A late result (the webhook got there first) is no error: the table refuses it, we log it."""
    try:
        payout_transition(
            payout_id=payout_id,
            to_status=to_status,
            actor=actor,
            reason=reason,
            failure_code=failure_code,
            failure_reason=failure_reason,
            bank_reference=bank_reference,
            only_from=only_from,
        )
    except InvalidTransition as exc:
        if to_status == PayoutStatus.SUBMITTED and exc.current in {
            PayoutStatus.FAILED,
            PayoutStatus.CANCELED,
        }:
            # The bank accepted a payout we hold as finished and released: it may pay it.
            logger.error("payout.submit.accepted_after_release", current=exc.current)
            return
        logger.info("payout.submit.result_superseded", current=exc.current, result=to_status)
