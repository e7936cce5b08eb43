"""The bank's callbacks: deduplicated by `operation_id`, routed by type, applied through the one
transition function with actor `bank`.

Verify, store, acknowledge: every well-signed event gets a 2xx, including the ones we refuse to act
on (those become anomalies an operator can see), so that the bank stops redelivering them.
"""

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import structlog
from django.db import IntegrityError, transaction
from django.utils.dateparse import parse_date, parse_datetime

from payouts.errors import InvalidTransition
from payouts.inn import normalize_inn
from payouts.models import (
    BANK_REFERENCE_MAX_LENGTH,
    Actor,
    BankWebhookEvent,
    Payout,
    PayoutStatus,
    WebhookOutcome,
)
from payouts.money import CURRENCY_EXPONENTS, from_minor_units, to_minor_units
from payouts.transfers import incoming_transfer_receive
from payouts.transitions import payout_apply_bank_status

logger = structlog.get_logger(__name__)

PAYOUT_EVENT_TARGETS: dict[str, PayoutStatus] = {
    "payout.paid": PayoutStatus.PAID,
    "payout.failed": PayoutStatus.FAILED,
    "payout.canceled": PayoutStatus.CANCELED,
}


class MalformedWebhook(ValueError):
    """The body is signed but does not have the documented shape."""


@dataclass(frozen=True)
class BankEvent:
    webhook_id: str
    event_type: str
    operation_id: str
    occurred_at: datetime | None
    data: dict[str, Any]
    payload: dict[str, Any]

    @classmethod
    def from_payload(cls, *, webhook_id: str, payload: Any) -> "BankEvent":
        if not isinstance(payload, dict):
            raise MalformedWebhook("The body must be a JSON object.")
        event_type, operation_id, data = payload.get("type"), payload.get("operation_id"), payload.get("data")
        if not isinstance(event_type, str) or not event_type:
            raise MalformedWebhook("`type` must be a non-empty string.")
        if not isinstance(operation_id, str) or not 1 <= len(operation_id) <= 128:
            raise MalformedWebhook("`operation_id` must be a string of 1-128 characters.")
        if not isinstance(data, dict):
            raise MalformedWebhook("`data` must be an object.")
        occurred_at = _datetime_or_none(payload.get("occurred_at"))
        return cls(
            webhook_id=webhook_id,
            event_type=event_type,
            operation_id=operation_id,
            occurred_at=occurred_at,
            data=data,
            payload=payload,
        )


@dataclass(frozen=True)
class Handled:
    outcome: WebhookOutcome
    payout: Payout | None = None
    anomaly: str = ""


def bank_event_receive(*, event: BankEvent) -> tuple[WebhookOutcome, bool]:
    """Process one verified bank event exactly once. Returns (outcome, duplicate).

    The dedup row and the event's effect commit together: a crash in between leaves neither, and
    the bank's redelivery processes the event afresh. Simultaneous deliveries of one operation meet
    at the unique index on `operation_id`; the losers wait for the winner's commit, then see a
    duplicate and change nothing.
    """
    log = logger.bind(operation_id=event.operation_id, event_type=event.event_type)
    try:
        with transaction.atomic():
            record = BankWebhookEvent.objects.create(
                operation_id=event.operation_id,
                webhook_id=event.webhook_id,
                event_type=event.event_type,
                occurred_at=event.occurred_at,
                payload=event.payload,
                outcome=WebhookOutcome.NOOP,
            )
            handled = _route(event)
            record.outcome, record.payout, record.anomaly = handled.outcome, handled.payout, handled.anomaly
            record.save(update_fields=["outcome", "payout", "anomaly"])
    except IntegrityError:
        if not BankWebhookEvent.objects.filter(operation_id=event.operation_id).exists():
            raise
        log.info("bank_webhook.duplicate")
        existing = BankWebhookEvent.objects.get(operation_id=event.operation_id)
        return WebhookOutcome(existing.outcome), True
    if handled.outcome == WebhookOutcome.ANOMALY:
        log.error(
            "bank_webhook.anomaly",
            anomaly=handled.anomaly,
            payout_id=str(handled.payout and handled.payout.pk),
        )
    elif handled.outcome == WebhookOutcome.IGNORED:
        log.warning("bank_webhook.ignored_type")
    else:
        log.info("bank_webhook.processed", outcome=handled.outcome)
    return handled.outcome, False


def _route(event: BankEvent) -> Handled:
    if event.event_type in PAYOUT_EVENT_TARGETS:
        return _payout_event(event, PAYOUT_EVENT_TARGETS[event.event_type])
    if event.event_type == "transfer.incoming":
        return _incoming_transfer(event)
    return Handled(WebhookOutcome.IGNORED)


def _incoming_transfer(event: BankEvent) -> Handled:
    data = event.data
    amount, currency = data.get("amount"), data.get("currency")
    document_number = data.get("document_number")
    document_date = _date_or_none(data.get("document_date"))
    try:
        payer_inn = normalize_inn(str(data.get("payer_inn", "")))
    except ValueError:
        return Handled(
            WebhookOutcome.ANOMALY,
            anomaly=f"incoming transfer with invalid payer_inn {data.get('payer_inn')!r}",
        )
    if (
        not isinstance(amount, int)
        or isinstance(amount, bool)
        or amount <= 0
        or currency not in CURRENCY_EXPONENTS
        or not isinstance(document_number, str)
        or not 1 <= len(document_number) <= 64
        or document_date is None
    ):
        return Handled(
            WebhookOutcome.ANOMALY, anomaly=f"incoming transfer with malformed data: {data!r}"[:500]
        )
    incoming = incoming_transfer_receive(
        operation_id=event.operation_id,
        payer_inn=payer_inn,
        amount=from_minor_units(amount, currency),
        currency=currency,
        document_number=document_number,
        document_date=document_date,
    )
    if incoming.organization is None:
        return Handled(WebhookOutcome.APPLIED, anomaly=f"parked: no organisation with INN {payer_inn}")
    return Handled(WebhookOutcome.APPLIED)


def _payout_event(event: BankEvent, target: PayoutStatus) -> Handled:
    data = event.data
    payout = _payout_for(data.get("reference"))
    if payout is None:
        return Handled(WebhookOutcome.ANOMALY, anomaly=f"unknown payout reference {data.get('reference')!r}")
    mismatch = _mismatch(payout, data)
    if mismatch:
        return Handled(WebhookOutcome.ANOMALY, payout=payout, anomaly=mismatch)
    try:
        result = payout_apply_bank_status(
            payout_id=payout.pk,
            to_status=target,
            actor=Actor.BANK,
            reason=f"bank {event.event_type} ({event.operation_id})",
            failure_code=str(data.get("failure_code") or ""),
            failure_reason=str(data.get("failure_reason") or ""),
            bank_reference=str(data.get("id") or ""),
        )
    except InvalidTransition as exc:
        return Handled(
            WebhookOutcome.ANOMALY,
            payout=payout,
            anomaly=f"refused transition {exc.current} -> {exc.requested}",
        )
    return Handled(WebhookOutcome.APPLIED if result.changed else WebhookOutcome.NOOP, payout=result.payout)


def _payout_for(reference: Any) -> Payout | None:
    try:
        payout_id = uuid.UUID(str(reference))
    except ValueError:
        return None
    return Payout.objects.filter(pk=payout_id).first()


def _mismatch(payout: Payout, data: dict[str, Any]) -> str:
    expected_minor = to_minor_units(payout.amount, payout.currency)
    if data.get("currency") != payout.currency or data.get("amount") != expected_minor:
        return (
            f"amount/currency mismatch: bank says {data.get('amount')!r} {data.get('currency')!r}, "
            f"payout is {expected_minor} {payout.currency}"
        )
    bank_id = data.get("id")
    if not isinstance(bank_id, str) or not 1 <= len(bank_id) <= BANK_REFERENCE_MAX_LENGTH:
        return f"bank payout id {bank_id!r} is missing or longer than {BANK_REFERENCE_MAX_LENGTH} characters"
    if payout.bank_reference and bank_id and bank_id != payout.bank_reference:
        return f"bank reference mismatch: bank says {bank_id!r}, payout has {payout.bank_reference!r}"
    return ""


def _date_or_none(value: Any) -> date | None:
    try:
        return parse_date(value) if isinstance(value, str) else None
    except ValueError:  # well formed but not a real date
        return None


def _datetime_or_none(value: Any) -> datetime | None:
    """The event's time is informational: an unparsable one must not refuse a signed event."""
    try:
        return parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        return None
