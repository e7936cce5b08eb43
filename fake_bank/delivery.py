"""Sending the bank's webhooks over HTTP, signed (Standard Webhooks ``v1a``) and retried.

The bank knows the service only by ``FAKE_BANK_WEBHOOK_URL``. Each delivery of a webhook (the
original, a duplicate, a resend, a tampered copy) is a numbered series of attempts; every attempt is
recorded with the receiver's status code or the transport error.
"""

import json
import logging
import random
from collections.abc import Mapping
from datetime import timedelta
from functools import lru_cache

import httpx
from celery import current_app
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from fake_bank.models import Webhook, WebhookAttempt, WebhookDeliveryDue
from fake_bank.signing import signature_header

logger = logging.getLogger(__name__)

# The Celery task that runs webhook_deliver (declared in fake_bank.tasks under this name).
DELIVER_WEBHOOK_TASK = "fake_bank.tasks.deliver_webhook"
USER_AGENT = "fake-bank-webhooks/1.0"
# Standard Webhooks: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h. Entry n is
# the wait before attempt n + 1 (so attempt 1 goes at once); the delays are multiplied by
# FAKE_BANK_WEBHOOK_RETRY_SCALE.
RETRY_SCHEDULE_SECONDS: tuple[int, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
RETRY_JITTER = 0.1  # up to +10 %, so that failed deliveries do not come back in lockstep
_ERROR_TEXT_LIMIT = 500


def retry_delay_seconds(*, failed_attempt: int) -> float | None:
    """How long to wait after attempt ``failed_attempt`` failed, or None when the schedule is over."""
    if failed_attempt >= len(RETRY_SCHEDULE_SECONDS):
        return None
    delay = RETRY_SCHEDULE_SECONDS[failed_attempt] * float(settings.FAKE_BANK_WEBHOOK_RETRY_SCALE)
    return delay * (1 + random.uniform(0, RETRY_JITTER))  # noqa: S311 (jitter, not a secret)


def webhook_delivery_queue(
    *, webhook_id: int, delivery: int, attempt: int = 1, countdown: float = 0.0, tampered: bool = False
) -> None:
    """Queue one delivery attempt after the current transaction commits, and record it as due (in
    that transaction) so that the bank's sweep makes it if the task is lost."""
    WebhookDeliveryDue.objects.get_or_create(
        webhook_id=webhook_id,
        delivery=delivery,
        attempt=attempt,
        defaults={"tampered": tampered, "due_at": timezone.now() + timedelta(seconds=countdown)},
    )
    kwargs = {"webhook_id": webhook_id, "delivery": delivery, "attempt": attempt, "tampered": tampered}
    # Sent by name rather than through the task object: the task runs webhook_deliver, which queues
    # the next attempt from here, so importing fake_bank.tasks would make the two modules cyclic.
    transaction.on_commit(lambda: publish_or_leave_to_sweep(DELIVER_WEBHOOK_TASK, kwargs, countdown))


def publish_or_leave_to_sweep(task_name: str, kwargs: Mapping[str, object], countdown: float = 0.0) -> None:
    """Queue a bank task; a broker that cannot take it is logged, and the bank's sweep runs the task
    from its tables instead (so a Redis outage never fails the bank's API)."""
    try:
        current_app.send_task(task_name, kwargs=dict(kwargs), countdown=countdown)
    except Exception:  # the broker's errors are kombu's and redis's, several families
        logger.exception("fake bank: could not queue %s %s; the sweep will run it", task_name, kwargs)


def webhook_deliver(
    *, webhook_id: int, delivery: int, attempt: int, tampered: bool = False
) -> WebhookAttempt | None:
    """Make attempt ``attempt`` of delivery ``delivery`` of a webhook and record it.

    POSTs the stored body byte for byte with ``webhook-id`` (the message's, stable), a fresh
    ``webhook-timestamp`` and a ``webhook-signature`` entry per key in FAKE_BANK_SIGNING_KEYS. A
    ``tampered`` attempt sends a body altered after signing. 2xx marks the webhook delivered; any
    other answer or a transport error queues the next attempt on the schedule, or marks the webhook
    failed when the schedule is over (a tampered copy is never retried and changes neither).

    No lock or transaction is held while the receiver answers. Safe to run twice: an attempt
    already recorded is not made again (two runs racing may both post; the receiver deduplicates
    on ``operation_id``). Returns None when nothing was attempted (already recorded, or a delivery
    that was never started, such as one of a dropped webhook). Raises ``ValueError`` when the
    signing keys are missing or malformed, ``Webhook.DoesNotExist``.
    """
    webhook = Webhook.objects.get(pk=webhook_id)
    if delivery > webhook.delivery_count or _attempt_recorded(webhook, delivery, attempt):
        return None
    body = webhook.body.encode()
    timestamp = int(timezone.now().timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": webhook.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            secret_keys=settings.FAKE_BANK_SIGNING_KEYS,
            msg_id=webhook.message_id,
            timestamp=timestamp,
            body=body,
        ),
    }
    status_code, error = _post(_tamper(body) if tampered else body, headers)
    return _attempt_record(
        webhook, delivery=delivery, attempt=attempt, tampered=tampered, status_code=status_code, error=error
    )


def _attempt_recorded(webhook: Webhook, delivery: int, attempt: int) -> bool:
    return WebhookAttempt.objects.filter(webhook=webhook, delivery=delivery, attempt=attempt).exists()


@lru_cache(maxsize=4)
def _client(timeout: float) -> httpx.Client:
    """One pooled client per worker process (built lazily, so after the prefork): a new client per
    delivery cost about 50 ms of CPU, mostly loading the TLS trust store."""
    return httpx.Client(timeout=timeout, follow_redirects=False)


def _post(body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    try:
        client = _client(float(settings.FAKE_BANK_WEBHOOK_TIMEOUT_SECONDS))
        response = client.post(settings.FAKE_BANK_WEBHOOK_URL, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:_ERROR_TEXT_LIMIT]
    if response.is_success:
        return response.status_code, ""
    return response.status_code, response.text[:_ERROR_TEXT_LIMIT]


def _tamper(body: bytes) -> bytes:
    """The body with its amount multiplied by 100 (or a field added): what an attacker would send."""
    payload = json.loads(body)
    data = payload.get("data")
    if isinstance(data, dict) and isinstance(data.get("amount"), int):
        data["amount"] *= 100
    else:
        payload["tampered"] = True
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


@transaction.atomic
def _attempt_record(
    webhook: Webhook, *, delivery: int, attempt: int, tampered: bool, status_code: int | None, error: str
) -> WebhookAttempt | None:
    try:
        with transaction.atomic():
            recorded = WebhookAttempt.objects.create(
                webhook=webhook,
                delivery=delivery,
                attempt=attempt,
                tampered=tampered,
                status_code=status_code,
                error=error,
            )
    except IntegrityError:
        return None  # a parallel run of the same attempt recorded it first
    WebhookDeliveryDue.objects.filter(webhook=webhook, delivery=delivery, attempt=attempt).delete()
    if tampered:
        return recorded
    if recorded.succeeded:
        Webhook.objects.filter(pk=webhook.pk, delivered_at__isnull=True).update(delivered_at=recorded.at)
        return recorded
    delay = retry_delay_seconds(failed_attempt=attempt)
    if delay is None:
        Webhook.objects.filter(pk=webhook.pk).update(failed_at=recorded.at)
        logger.warning("fake bank webhook %s: delivery %s gave up", webhook.operation_id, delivery)
    else:
        webhook_delivery_queue(webhook_id=webhook.pk, delivery=delivery, attempt=attempt + 1, countdown=delay)
    return recorded


def deliveries_overdue(*, older_than: timedelta, limit: int) -> int:
    """Queue again the delivery attempts a lost task left behind: due more than OLDER_THAN ago and
    never made. Each is due again OLDER_THAN from now, so that a sweep does not queue it twice while
    its task waits in the queue. Returns how many were queued."""
    now = timezone.now()
    overdue = list(WebhookDeliveryDue.objects.filter(due_at__lte=now - older_than).order_by("due_at")[:limit])
    for due in overdue:
        logger.warning(
            "fake bank webhook %s: attempt %s.%s was lost; queued again",
            due.webhook_id,
            due.delivery,
            due.attempt,
        )
        WebhookDeliveryDue.objects.filter(pk=due.pk).update(due_at=now)
        kwargs = {
            "webhook_id": due.webhook_id,
            "delivery": due.delivery,
            "attempt": due.attempt,
            "tampered": due.tampered,
        }
        publish_or_leave_to_sweep(DELIVER_WEBHOOK_TASK, kwargs)
    return len(overdue)
