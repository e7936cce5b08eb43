"""Recovery of payouts that nobody is moving: the lost webhook, the lost task, the bank that was down.

The beat task `reconcile_payouts` claims the in-flight payouts whose next check is due (each has its
own time, pushed out with backoff at every look-up) and fans out one `reconcile_payout` task each.
A payout's truth is the bank's: we ask, and apply the answer through the transition function with
actor `reconciler`. Nothing here fails a payout blindly.
"""

from datetime import timedelta
from typing import Any
from uuid import UUID

import structlog
from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from payouts.bank.adapter import BankPayoutMismatch, bank_client, bank_payout_apply
from payouts.bank.submission import payout_submit
from payouts.errors import InvalidTransition
from payouts.metrics import RECONCILER_ACTIONS, RECONCILER_CLAIMED
from payouts.models import Actor, Payout, PayoutStatus
from payouts.notifications import events
from payouts.transitions import IN_FLIGHT_STATUSES
from provider.errors import ProviderError
from provider.types import BankPayout

logger = structlog.get_logger(__name__)

# The reconciler's claim, in one statement: up to LIMIT in-flight payouts whose next check is due,
# the longest overdue first, each pushed out by the next step of the backoff (the last step repeats).
# A payout the bank keeps for days is looked at hourly and never crowds out a newer one whose
# webhook was lost: each is claimed by its own time, on the partial index of in-flight payouts by
# `next_check_at`. SKIP LOCKED keeps two sweeps (or a transition in progress) from meeting.
_CLAIM_DUE_SQL = """
WITH claimed AS (
  UPDATE payouts_payout SET
    checks = checks + 1,
    next_check_at = %(now)s + make_interval(
      secs => (%(backoff)s::float8[])[LEAST(checks + 2, cardinality(%(backoff)s::float8[]))]
    )
  WHERE id IN (
    SELECT id FROM payouts_payout
    WHERE status IN ('processing', 'submitted') AND next_check_at <= %(now)s
    ORDER BY next_check_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
  )
  RETURNING id, next_check_at
)
SELECT id FROM claimed ORDER BY next_check_at, id
"""


def payouts_claim_due(*, limit: int) -> list[UUID]:
    """Claim up to LIMIT in-flight payouts whose next check is due, and set each one's next check
    after the following step of `RECONCILE_BACKOFF_SECONDS`. Commits by itself (autocommit)."""
    params: dict[str, Any] = {
        "now": timezone.now(),
        "backoff": [float(step) for step in settings.RECONCILE_BACKOFF_SECONDS],
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_DUE_SQL, params)
        return [row[0] for row in cursor.fetchall()]


def _stuck_age() -> timedelta:
    return timedelta(hours=settings.STUCK_AFTER_HOURS)


def stuck_payouts() -> QuerySet[Payout]:
    """In flight for longer than `STUCK_AFTER_HOURS` since they left `new`: flagged (an error at
    each of the reconciler's look-ups, an admin filter, a count on `/health/ready`), never failed
    blindly: only the bank knows whether the money left. On the in-flight age index."""
    cutoff = timezone.now() - _stuck_age()
    return Payout.objects.filter(status__in=IN_FLIGHT_STATUSES, processing_at__lt=cutoff)


def payout_reconcile(*, payout_id: UUID | str) -> None:
    """Ask the bank about one in-flight payout and apply its answer.

    Unknown to the bank and still `processing`: submit again under the same idempotency key (the
    bank deduplicates). Known: move to the bank's state. A bank that cannot be reached, or an answer
    the table refuses, is logged and left for the next sweep. Safe to run twice.
    """
    structlog.contextvars.bind_contextvars(payout_id=str(payout_id))
    payout = Payout.objects.get(pk=payout_id)
    if payout.status not in IN_FLIGHT_STATUSES:
        return
    in_flight = timezone.now() - (payout.processing_at or payout.created_at)
    if in_flight > _stuck_age():
        logger.error(
            "payout.stuck", status=payout.status, in_flight_hours=round(in_flight.total_seconds() / 3600, 1)
        )
        events.payout_stuck_event_record(payout=payout)  # the client is told once
        RECONCILER_ACTIONS.labels("stuck").inc()
    try:
        bank_payout = bank_client().find_payout_by_reference(str(payout.pk))
    except ProviderError as exc:
        logger.warning("reconcile.bank_unavailable", error=str(exc))
        RECONCILER_ACTIONS.labels("bank_unavailable").inc()
        return
    if bank_payout is None:
        if payout.status == PayoutStatus.PROCESSING:
            logger.info("reconcile.resubmit")
            try:
                payout_submit(payout_id=payout.pk, actor=Actor.RECONCILER)
            except ProviderError as exc:
                logger.warning("reconcile.resubmit_failed", error=str(exc))
                RECONCILER_ACTIONS.labels("resubmit_failed").inc()
            else:
                RECONCILER_ACTIONS.labels("resubmitted").inc()
        else:
            logger.error("reconcile.submitted_payout_unknown_to_bank", status=payout.status)
            RECONCILER_ACTIONS.labels("unknown_to_bank").inc()
        return
    _apply_bank_state(payout, bank_payout)


def _apply_bank_state(payout: Payout, bank_payout: BankPayout) -> None:
    try:
        result = bank_payout_apply(
            payout=payout,
            bank_payout=bank_payout,
            actor=Actor.RECONCILER,
            reason=f"bank reports {bank_payout.status}",
        )
    except BankPayoutMismatch as exc:
        logger.error("reconcile.bank_disagrees", anomaly=str(exc), bank_status=bank_payout.status)
        RECONCILER_ACTIONS.labels("mismatch").inc()
    except InvalidTransition as exc:
        logger.error("reconcile.bank_state_refused", current=exc.current, bank_status=bank_payout.status)
        RECONCILER_ACTIONS.labels("refused").inc()
    else:
        RECONCILER_ACTIONS.labels("applied" if result.changed else "unchanged").inc()


def payouts_claim_for_sweep() -> list[UUID]:
    """The in-flight payouts to look up at the bank this sweep."""
    claimed = payouts_claim_due(limit=settings.RECONCILE_BATCH_SIZE)
    RECONCILER_CLAIMED.inc(len(claimed))
    return claimed
