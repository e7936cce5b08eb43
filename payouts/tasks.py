"""Celery tasks: thin, taking ids, each safe to run twice (late acks redeliver a task whose worker
died). The bodies live in `payouts.bank`, `payouts.notifications` and `payouts.observability`."""

import random
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog
from celery import Task, shared_task
from django.conf import settings

from payouts.bank import incoming_sweep, reconciliation, submission
from payouts.notifications import batches, delivery
from payouts.observability import ledger, snapshots
from provider.errors import ProviderTransientError

logger = structlog.get_logger(__name__)


def retry_delay(*, attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, capped; the bank's Retry-After is a floor."""
    cap = settings.BANK_SUBMIT_RETRY_MAX_SECONDS
    backoff = min(cap, settings.BANK_SUBMIT_RETRY_BASE_SECONDS * (2**attempt))
    delay = random.uniform(backoff / 2, backoff)  # noqa: S311 (jitter, not a secret)
    return min(cap, max(delay, retry_after or 0.0))


@shared_task(bind=True, acks_late=True, max_retries=None)
def process_payout(self: Task[[str], None], payout_id: str) -> None:
    """Submit one payout to the bank. Transient failures retry with backoff under the same
    idempotency key; when retries run out the payout stays `processing` for the reconciler, which
    asks the bank rather than failing it blindly."""
    try:
        submission.payout_submit(payout_id=payout_id)
    except ProviderTransientError as exc:
        attempt = self.request.retries
        if attempt >= settings.BANK_SUBMIT_MAX_RETRIES:
            logger.warning("payout.submit.retries_exhausted", payout_id=payout_id, error=str(exc))
            return
        delay = retry_delay(attempt=attempt, retry_after=exc.retry_after)
        logger.info(
            "payout.submit.retry", payout_id=payout_id, attempt=attempt + 1, delay=delay, error=str(exc)
        )
        raise self.retry(countdown=delay, exc=exc) from exc


@shared_task(acks_late=True)
def process_payouts(payout_ids: list[str]) -> None:
    """Submit a chunk of payouts handed over by the dispatcher, one after another. The first transient
    failure hands that payout and the rest of the chunk to `process_payout` with a backoff, one task
    each: a bank that is down costs one timeout per chunk, not one per payout."""
    for position, payout_id in enumerate(payout_ids):
        try:
            submission.payout_submit(payout_id=payout_id)
        except ProviderTransientError as exc:
            delay = retry_delay(attempt=0, retry_after=exc.retry_after)
            logger.info("payout.submit.retry", payout_id=payout_id, attempt=1, delay=delay, error=str(exc))
            counted_as_first_retry: dict[str, Any] = {"retries": 1}  # Celery's option, not in its stubs
            for later in payout_ids[position:]:
                process_payout.apply_async((later,), countdown=delay, **counted_as_first_retry)
            return


@shared_task(acks_late=True)
def reconcile_payout(payout_id: str) -> None:
    """Look one stale in-flight payout up at the bank and apply what it says."""
    reconciliation.payout_reconcile(payout_id=payout_id)


@shared_task(acks_late=True)
def reconcile_payouts() -> None:
    """Beat: fan out the stale in-flight payouts to `reconcile_payout`. (`new` payouts are the
    dispatcher's: `payouts.dispatch`.)"""
    for payout_id in reconciliation.payouts_claim_for_sweep():
        reconcile_payout.delay(str(payout_id))


@shared_task(acks_late=True)
def sweep_incoming_transfers() -> None:
    """Beat: record the incoming transfers whose webhooks never came, from the bank's list."""
    incoming_sweep.incoming_transfers_sweep()


@shared_task(acks_late=True)
def deliver_webhooks() -> None:
    """Beat (queue `webhooks`): fan the new events out to their endpoints, and hand each endpoint
    with messages due, and no worker on it, to `deliver_to_endpoint` (held for that task)."""
    delivery.events_fan_out()
    for endpoint_id in delivery.endpoints_to_deliver():
        lease = delivery.endpoint_lease(endpoint_id=endpoint_id)
        if lease is not None:
            deliver_to_endpoint.delay(str(endpoint_id), lease.isoformat())


@shared_task(acks_late=True)
def deliver_to_endpoint(endpoint_id: str, lease: str | None = None) -> None:
    """Send one endpoint's due messages (queue `webhooks`); LEASE is the hold taken for this task."""
    delivery.endpoint_deliver(
        endpoint_id=UUID(endpoint_id), lease=datetime.fromisoformat(lease) if lease else None
    )


@shared_task(acks_late=True)
def prune_events() -> None:
    """Beat: delete events past `EVENT_RETENTION_DAYS`, with their deliveries."""
    pruned = delivery.events_prune()
    if pruned:
        logger.info("events.pruned", count=pruned)


@shared_task(acks_late=True)
def complete_payout_batches() -> None:
    """Beat: mark the batches whose every item is final completed, and tell their clients."""
    batches.payout_batches_complete()


@shared_task(acks_late=True)
def check_ledger() -> None:
    """Beat: verify the ledger's invariants and record the result (`/metrics`, `/ops/`, an alert)."""
    ledger.ledger_check_record()


@shared_task(acks_late=True)
def take_metrics_snapshot() -> None:
    """Beat, every minute: record the charted counters for the overview page's rates."""
    snapshots.metrics_snapshot_take()
