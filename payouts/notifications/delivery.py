"""Where client webhooks go out: events fanned out to the endpoints subscribed to them, each
message signed (Standard Webhooks, `v1` HMAC-SHA256) and POSTed, every attempt recorded, failures
retried on the schedule, an endpoint that only fails disabled.

At least once: a message is sent, then its attempt recorded; a worker lost in between sends it
again, under the same `webhook-id` (the event's id), by which clients deduplicate. Nothing here
runs on the money path: the events are already committed; the deliveries are written and sent by
the webhook workers (`payouts.tasks.deliver_webhooks` every `WEBHOOK_POLL_SECONDS`).

One worker at a time per endpoint (a lease on its row): a slow or dead endpoint holds one worker
and its own messages, nobody else's; and an endpoint gets its messages in the order of their events,
retries of earlier ones first.
"""

import json
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from uuid import UUID

import httpx
import structlog
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from payouts.metrics import (
    CLIENT_WEBHOOK_DELIVERIES,
    CLIENT_WEBHOOK_ENDPOINTS_DISABLED,
    CLIENT_WEBHOOK_SECONDS,
    count_on_commit,
)
from payouts.models import (
    RESPONSE_BODY_MAX_CHARS,
    DeliveryStatus,
    Event,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from payouts.notifications.addresses import AddressRefused, delivery_target
from payouts.notifications.events import render_event

logger = structlog.get_logger(__name__)

# At most this much of an answer is read (the rest is never downloaded).
RESPONSE_READ_MAX_BYTES = 4096
# How long past its last possible attempt a worker's hold on an endpoint lasts if the worker dies.
LEASE_MARGIN_SECONDS = 30
# Due messages read, and their attempts recorded, together.
DELIVERY_BATCH = 50
USER_AGENT = "payout-service-webhooks/1"

_FAN_OUT_SQL = """
WITH claimed AS (
  SELECT id, organization_id, type, created_at FROM payouts_event
  WHERE fanned_out_at IS NULL ORDER BY created_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), deliveries AS (
  INSERT INTO payouts_webhookdelivery (endpoint_id, event_id, status, attempts, next_attempt_at, created_at)
  SELECT endpoint.id, claimed.id, 'pending', 0, %(now)s, %(now)s
  FROM claimed JOIN payouts_webhookendpoint endpoint
    ON endpoint.organization_id = claimed.organization_id AND NOT endpoint.disabled
   AND (endpoint.enabled_events @> ARRAY['*']::varchar[]
        OR endpoint.enabled_events @> ARRAY[claimed.type]::varchar[])
  ORDER BY claimed.created_at, claimed.id  -- delivery ids in the events' order
  ON CONFLICT DO NOTHING
)
UPDATE payouts_event SET fanned_out_at = %(now)s FROM claimed WHERE payouts_event.id = claimed.id
"""


def events_fan_out(*, limit: int = 1000) -> int:
    """Write one pending delivery per (event not yet fanned out, enabled endpoint of its
    organisation subscribed to its type) and mark the events, in one statement. The events are
    claimed with SKIP LOCKED, so two pollers share the work. Returns the number of events."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_FAN_OUT_SQL, {"limit": limit, "now": timezone.now()})
        fanned_out: int = cursor.rowcount
    return fanned_out


def endpoints_to_deliver(*, now: datetime | None = None) -> list[UUID]:
    """Enabled endpoints with a message due and no worker on them, those that answer first."""
    now = now or timezone.now()
    due = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    return list(
        WebhookEndpoint.objects.filter(disabled=False, pk__in=due.values("endpoint_id"))
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .order_by("-failing_since", "id")  # nulls first: endpoints that are not failing
        .values_list("pk", flat=True)
    )


def endpoint_lease(*, endpoint_id: UUID, held: datetime | None = None) -> datetime | None:
    """Take the endpoint for one worker (or keep it: HELD is the lease the caller already has);
    the lease's end, or None when someone else holds it or it is disabled."""
    now = timezone.now()
    until = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS)
    free = Q(leased_until__isnull=True) | Q(leased_until__lt=now)
    if held is not None:
        free |= Q(leased_until=held)
    taken = WebhookEndpoint.objects.filter(free, pk=endpoint_id, disabled=False).update(leased_until=until)
    return until if taken else None


def endpoint_deliver(*, endpoint_id: UUID, lease: datetime | None = None) -> int:
    """Send the endpoint's due messages, oldest first, one at a time, up to
    `WEBHOOK_DELIVERIES_PER_TASK`; nothing when another worker holds the endpoint. They are read
    `DELIVERY_BATCH` at a time and each batch's attempts recorded together (a worker lost in between
    sends them again: at least once). Returns the number of attempts made."""
    held = endpoint_lease(endpoint_id=endpoint_id, held=lease)
    if held is None:
        return 0
    sent = 0
    try:
        while sent < settings.WEBHOOK_DELIVERIES_PER_TASK:
            endpoint = WebhookEndpoint.objects.select_related("organization").get(pk=endpoint_id)
            batch = list(
                WebhookDelivery.objects.select_related("event")
                .filter(endpoint=endpoint, status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now())
                .order_by("next_attempt_at", "id")[
                    : min(DELIVERY_BATCH, settings.WEBHOOK_DELIVERIES_PER_TASK - sent)
                ]
            )
            if endpoint.disabled or not batch:
                break
            unrecorded: list[tuple[WebhookDelivery, datetime, Answer]] = []
            for delivery in batch:
                if held - timezone.now() < timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + 5):
                    held = endpoint_lease(endpoint_id=endpoint_id, held=held)  # long enough for one more
                    if held is None:
                        break
                attempted_at = timezone.now()
                answer = _send(endpoint, delivery.event, at=attempted_at)
                unrecorded.append((delivery, attempted_at, answer))
                sent += 1
                # Successes are recorded together; a failure at once, so that an endpoint that times
                # out shows its attempts as they happen, not a batch later.
                if not answer.succeeded:
                    _record(endpoint, unrecorded)
                    unrecorded = []
            _record(endpoint, unrecorded)
            if held is None or delivery is not batch[-1]:
                break
    finally:
        if held is not None:
            WebhookEndpoint.objects.filter(pk=endpoint_id, leased_until=held).update(leased_until=None)
    return sent


@dataclass(frozen=True)
class Answer:
    """What one POST came to: a status code and the start of the body, or an error."""

    status_code: int | None
    body: str
    error: str
    duration_ms: int
    outcome: str  # `payouts_client_webhook_deliveries_total`'s label

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300 and not self.error


def _send(endpoint: WebhookEndpoint, event: Event, *, at: datetime) -> Answer:
    body = json.dumps(render_event(event, inn=endpoint.organization.inn), separators=(",", ":"))
    answer = _post(endpoint, msg_id=event.public_id, body=body, at=at)
    CLIENT_WEBHOOK_SECONDS.observe(answer.duration_ms / 1000)
    logger.info(
        "webhook.attempt",
        endpoint_id=str(endpoint.pk),
        event_id=event.public_id,
        status_code=answer.status_code,
        error=answer.error or None,
        duration_ms=answer.duration_ms,
    )
    return answer


@transaction.atomic
def _record(endpoint: WebhookEndpoint, sent: list[tuple[WebhookDelivery, datetime, Answer]]) -> None:
    """Record attempts, in one transaction: each attempt's row; each delivery succeeded on a 2xx
    within `WEBHOOK_TIMEOUT_SECONDS`, otherwise its next attempt scheduled, or after the last of the
    schedule failed; the endpoint's failing streak (since its last success), and the endpoint
    disabled once every attempt has failed for `WEBHOOK_DISABLE_AFTER_DAYS`."""
    if not sent:
        return
    WebhookAttempt.objects.bulk_create(
        WebhookAttempt(
            delivery=delivery,
            attempted_at=attempted_at,
            status_code=answer.status_code,
            duration_ms=answer.duration_ms,
            error=answer.error[:300],
            response_body=answer.body[:RESPONSE_BODY_MAX_CHARS],
        )
        for delivery, attempted_at, answer in sent
    )
    failing_since = endpoint.failing_since
    for delivery, attempted_at, answer in sent:
        count_on_commit(CLIENT_WEBHOOK_DELIVERIES, outcome=answer.outcome)
        delivery.attempts += 1
        delivery.last_attempt_at = attempted_at
        if answer.succeeded:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, None
            failing_since = None
            continue
        delay = _retry_delay(delivery.attempts)
        if delay is None:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        else:
            delivery.next_attempt_at = attempted_at + delay
        failing_since = failing_since or attempted_at
    WebhookDelivery.objects.bulk_update(
        [delivery for delivery, _, _ in sent], ["attempts", "last_attempt_at", "status", "next_attempt_at"]
    )
    last_attempt = sent[-1][1]
    if failing_since != endpoint.failing_since:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=failing_since)
        endpoint.failing_since = failing_since
    if failing_since is not None and last_attempt - failing_since >= timedelta(
        days=settings.WEBHOOK_DISABLE_AFTER_DAYS
    ):
        reason = (
            f"Disabled at {last_attempt.isoformat()}: every delivery failed since "
            f"{failing_since.isoformat()}."
        )
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(disabled=True, disabled_reason=reason)
        count_on_commit(CLIENT_WEBHOOK_ENDPOINTS_DISABLED)
        logger.error("webhook.endpoint_disabled", endpoint_id=str(endpoint.pk), reason=reason)


def _retry_delay(attempts: int) -> timedelta | None:
    """The wait before attempt number ATTEMPTS + 1, or None after the schedule's last; with up to
    10 % jitter, so that an endpoint coming back is not hit by every message at once."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE_SECONDS
    if attempts >= len(schedule):
        return None
    seconds = schedule[attempts] * settings.WEBHOOK_RETRY_SCALE
    return timedelta(seconds=seconds * (1 + random.random() / 10))  # noqa: S311 (jitter, not secrecy)


def signatures(endpoint: WebhookEndpoint, *, msg_id: str, at: datetime, body: str) -> str:
    """`webhook-signature`: `v1,<base64>` by the endpoint's secret, and by its previous one while
    the rotation's overlap lasts."""
    secrets = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and at < endpoint.previous_secret_expires_at
    ):
        secrets.append(endpoint.previous_secret)
    return " ".join(Webhook(secret).sign(msg_id=msg_id, timestamp=at, data=body) for secret in secrets)


@lru_cache(maxsize=1)
def _http() -> httpx.Client:
    """One client per process, shared by its threads (httpx's is thread-safe): building one, with its
    TLS context, costs more than a delivery (25 ms here)."""
    return httpx.Client(follow_redirects=False, headers={"user-agent": USER_AGENT})


def _post(endpoint: WebhookEndpoint, *, msg_id: str, body: str, at: datetime) -> Answer:
    started = time.monotonic()

    def answer(outcome: str, status_code: int | None = None, text: str = "", error: str = "") -> Answer:
        return Answer(status_code, text, error, round((time.monotonic() - started) * 1000), outcome)

    try:
        target = delivery_target(endpoint.url)
    except AddressRefused as exc:
        return answer("address_refused", error=f"refused: {exc}")
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures(endpoint, msg_id=msg_id, at=at, body=body),
    }
    if target.host_header:
        headers["host"] = target.host_header
        # Pinned to an address: a kept-alive connection there could later carry another name's
        # messages (its TLS made for the first name), so none is kept.
        headers["connection"] = "close"
    extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}
    deadline = settings.WEBHOOK_TIMEOUT_SECONDS
    try:
        with _http().stream(
            "POST",
            target.url,
            content=body,
            headers=headers,
            extensions=extensions,
            timeout=httpx.Timeout(deadline),
        ) as response:
            received = b""
            for chunk in response.iter_bytes():
                received += chunk
                if len(received) >= RESPONSE_READ_MAX_BYTES or time.monotonic() - started > deadline:
                    break
    except httpx.TimeoutException:
        return answer("timeout", error=f"timed out after {deadline:g} s")
    except httpx.HTTPError as exc:
        return answer("network_error", error=f"{type(exc).__name__}: {exc}"[:300])
    text = received[:RESPONSE_READ_MAX_BYTES].decode("utf-8", "replace")
    if time.monotonic() - started > deadline:
        return answer("timeout", response.status_code, text, error=f"answered after more than {deadline:g} s")
    return answer("delivered" if response.is_success else "http_error", response.status_code, text)


def delivery_retry(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again at the next poll, whatever came of it before (an operator's or a
    client's request): pending and due now. A delivery that then fails again goes on with the rest
    of its schedule, or fails at once when the schedule is spent."""
    delivery.status, delivery.next_attempt_at = DeliveryStatus.PENDING, timezone.now()
    delivery.save(update_fields=["status", "next_attempt_at"])
    return delivery


_PRUNE_SQL = (
    (
        "DELETE FROM payouts_webhookattempt a USING payouts_webhookdelivery d, payouts_event e"
        " WHERE a.delivery_id = d.id AND d.event_id = e.id AND e.created_at < %s"
    ),
    (
        "DELETE FROM payouts_webhookdelivery d USING payouts_event e"
        " WHERE d.event_id = e.id AND e.created_at < %s"
    ),
    "DELETE FROM payouts_event WHERE created_at < %s",
)


def events_prune(*, now: datetime | None = None) -> int:
    """Delete events older than `EVENT_RETENTION_DAYS`, their deliveries and attempts with them.
    Returns the number of events deleted."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.EVENT_RETENTION_DAYS)
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in _PRUNE_SQL:
            cursor.execute(statement, [cutoff])
        pruned: int = cursor.rowcount  # the last statement's: the events
    return pruned
