"""Recovery of payouts that nobody is moving: the lost webhook, the lost task, the bank that was down.

The beat task `reconcile_payouts` claims stale payouts (skipping rows another sweep holds) and fans
out one `reconcile_payout` task each. A payout's truth is the bank's: we ask, and apply the answer
through the transition function with actor `reconciler`. Nothing here fails a payout blindly.
"""

from datetime import timedelta
from uuid import UUID

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from payouts.bank.adapter import bank_client, bank_payout_apply
from payouts.bank.submission import payout_submit
from payouts.errors import InvalidTransition
from payouts.models import BANK_REFERENCE_MAX_LENGTH, Actor, Payout, PayoutStatus
from payouts.transitions import IN_FLIGHT_STATUSES
from provider.errors import ProviderError
from provider.types import BankPayout

logger = structlog.get_logger(__name__)

SWEEP_BATCH_SIZE = 100


@transaction.atomic
def payouts_claim_stale(*, statuses: frozenset[PayoutStatus], older_than_seconds: int) -> list[UUID]:
    """Claim up to a batch of payouts in `statuses` untouched for `older_than_seconds` and not
    claimed within that time. `SKIP LOCKED` keeps two sweeps from taking the same payout; the claim
    (`checked_at`) keeps the next sweep away until the threshold passes again."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=older_than_seconds)
    ids = list(
        Payout.objects.select_for_update(skip_locked=True)
        .filter(status__in=statuses, updated_at__lte=cutoff)
        .exclude(checked_at__gt=cutoff)
        .order_by("updated_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH_SIZE]
    )
    Payout.objects.filter(pk__in=ids).update(checked_at=now)
    return ids


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
    try:
        bank_payout = bank_client().find_payout_by_reference(str(payout.pk))
    except ProviderError as exc:
        logger.warning("reconcile.bank_unavailable", error=str(exc))
        return
    if bank_payout is None:
        if payout.status == PayoutStatus.PROCESSING:
            logger.info("reconcile.resubmit")
            try:
                payout_submit(payout_id=payout.pk, actor=Actor.RECONCILER)
            except ProviderError as exc:
                logger.warning("reconcile.resubmit_failed", error=str(exc))
        else:
            logger.error("reconcile.submitted_payout_unknown_to_bank", status=payout.status)
        return
    _apply_bank_state(payout, bank_payout)


def _apply_bank_state(payout: Payout, bank_payout: BankPayout) -> None:
    if len(bank_payout.id) > BANK_REFERENCE_MAX_LENGTH:
        logger.error("reconcile.bank_reference_too_long", bank_reference=bank_payout.id[:200])
        return
    try:
        bank_payout_apply(
            payout=payout,
            bank_payout=bank_payout,
            actor=Actor.RECONCILER,
            reason=f"bank reports {bank_payout.status}",
        )
    except InvalidTransition as exc:
        logger.error("reconcile.bank_state_refused", current=exc.current, bank_status=bank_payout.status)


def payouts_claim_for_sweep() -> list[UUID]:
    """The in-flight payouts to look up at the bank."""
    return payouts_claim_stale(
        statuses=IN_FLIGHT_STATUSES, older_than_seconds=settings.RECONCILE_AFTER_SECONDS
    )
