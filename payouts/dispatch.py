"""The dispatcher: hands `new` payouts to the workers, in chunks, after their creation has committed.

A create writes the payout and nothing else (no broker on the request path: the API takes money
while Redis is down). The payout row in `new` is the outbox: the dispatcher claims the new ones
(`payouts_claim_new`) and queues one `process_payouts` task per chunk. A claim that was never worked
(the broker lost the task, or was down when it was published) is claimed again after
`DISPATCH_RECLAIM_SECONDS`; submitting twice is harmless (the bank deduplicates, the transition is a
no-op). `manage.py payouts_dispatch` runs `dispatch_forever` as a process of its own.
"""

import threading

import structlog
from django.conf import settings
from django.db import connection

from payouts.bank.submission import payouts_claim_new
from payouts.tasks import process_payouts

logger = structlog.get_logger(__name__)


def dispatch_new_payouts() -> int:
    """Claim up to `DISPATCH_BATCH_SIZE` payouts and queue them in chunks of `DISPATCH_CHUNK_SIZE`.
    Returns how many were claimed. A chunk the broker refuses stays claimed: it is claimed again
    after the re-claim window."""
    ids = [
        str(payout_id)
        for payout_id in payouts_claim_new(
            limit=settings.DISPATCH_BATCH_SIZE, reclaim_after_seconds=settings.DISPATCH_RECLAIM_SECONDS
        )
    ]
    chunk = settings.DISPATCH_CHUNK_SIZE
    for start in range(0, len(ids), chunk):
        process_payouts.delay(ids[start : start + chunk])
    return len(ids)


def dispatch_forever(stop: threading.Event) -> None:
    """Dispatch until STOP is set: again at once while there is a full batch, else after
    `DISPATCH_POLL_SECONDS`. A failure (the database or the broker away) is logged and retried on the
    next poll."""
    logger.info("dispatcher.started", poll_seconds=settings.DISPATCH_POLL_SECONDS)
    while not stop.is_set():
        claimed = 0
        try:
            claimed = dispatch_new_payouts()
        except Exception:  # a loop that must outlive any one failure
            logger.exception("dispatcher.failed")
            connection.close()  # the next poll connects afresh
        if claimed:
            logger.info("dispatcher.queued", payouts=claimed)
        if claimed < settings.DISPATCH_BATCH_SIZE:
            stop.wait(settings.DISPATCH_POLL_SECONDS)
    logger.info("dispatcher.stopped")
