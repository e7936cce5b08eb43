"""The simulated bank's Celery tasks (routed to the ``fake_bank`` queue). Thin: ids in, one service.

The services queue these by name (``EXECUTE_PAYOUT_TASK``, ``DELIVER_WEBHOOK_TASK``), so this module
imports the services and nothing in ``fake_bank`` imports it back.
"""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from fake_bank.bank_payouts import EXECUTE_PAYOUT_TASK, bank_payout_execute, executions_overdue
from fake_bank.delivery import DELIVER_WEBHOOK_TASK, deliveries_overdue, webhook_deliver
from fake_bank.errors import NotFoundError
from fake_bank.models import Webhook

logger = logging.getLogger(__name__)

SWEEP_LIMIT = 500


@shared_task(
    name=EXECUTE_PAYOUT_TASK,
    autoretry_for=(OperationalError,),
    max_retries=5,
    retry_backoff=True,
)
def execute_payout(payout_id: str) -> None:
    """Execute an accepted payout; a no-op once it is no longer ``processing``."""
    try:
        bank_payout_execute(payout_id=payout_id)
    except NotFoundError:
        logger.warning("fake bank: no payout %s to execute", payout_id)


@shared_task(
    name=DELIVER_WEBHOOK_TASK,
    autoretry_for=(OperationalError,),
    max_retries=5,
    retry_backoff=True,
)
def deliver_webhook(webhook_id: int, delivery: int = 1, attempt: int = 1, tampered: bool = False) -> None:
    """Make one delivery attempt; the next one, if any, is queued by the service on the schedule."""
    try:
        webhook_deliver(webhook_id=webhook_id, delivery=delivery, attempt=attempt, tampered=tampered)
    except Webhook.DoesNotExist:
        logger.warning("fake bank: no webhook %s to deliver", webhook_id)


@shared_task(name="fake_bank.tasks.sweep")
def sweep() -> None:
    """Beat: run what lost tasks left behind (executions, then delivery attempts), as a bank's own
    scheduler would from its tables."""
    older_than = timedelta(seconds=settings.FAKE_BANK_SWEEP_GRACE_SECONDS)
    executions_overdue(older_than=older_than, limit=SWEEP_LIMIT)
    deliveries_overdue(older_than=older_than, limit=SWEEP_LIMIT)
