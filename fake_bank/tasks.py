"""The simulated bank's Celery tasks (routed to the ``fake_bank`` queue). Thin: ids in, one service."""

import logging

from celery import shared_task
from django.db import OperationalError

from fake_bank import services
from fake_bank.delivery import webhook_deliver
from fake_bank.errors import NotFoundError
from fake_bank.models import Webhook

logger = logging.getLogger(__name__)


@shared_task(
    name="fake_bank.tasks.execute_payout",
    autoretry_for=(OperationalError,),
    max_retries=5,
    retry_backoff=True,
)
def execute_payout(payout_id: str) -> None:
    """Execute an accepted payout; a no-op once it is no longer ``processing``."""
    try:
        services.bank_payout_execute(payout_id=payout_id)
    except NotFoundError:
        logger.warning("fake bank: no payout %s to execute", payout_id)


@shared_task(
    name="fake_bank.tasks.deliver_webhook",
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
