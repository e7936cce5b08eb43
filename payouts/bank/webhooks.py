"""The bank's callbacks, once `payouts.api.webhooks` has verified their signature: deduplicated by
`operation_id` and routed by type. A payout's result is applied through the one transition function
with actor `bank`; an incoming transfer is credited through `payouts.ledger.incoming`.

Verify, store, acknowledge: every well-signed event gets a 2xx, including the ones we refuse to act
on (those become anomalies an operator can see), so that the bank stops redelivering them.
"""

import uuid
from dataclasses import dataclass

import structlog
from django.db import IntegrityError, transaction

from payouts.bank.adapter import BankPayoutMismatch, bank_payout_apply
from payouts.errors import InvalidTransition
from payouts.inn import normalize_inn
from payouts.ledger.incoming import incoming_transfer_receive
from payouts.models import (
    ANOMALY_MAX_LENGTH,
    Actor,
    BankWebhookEvent,
    Payout,
    WebhookOutcome,
)
from payouts.money import (
    AMOUNT_LIMIT,
    CURRENCY_EXPONENTS,
    currency_exponent,
    from_minor_units,
)
from provider.events import IncomingTransfer, UnreadableData, WebhookEvent
from provider.types import BankPayout

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Handled:
    outcome: WebhookOutcome
    payout: Payout | None = None
    anomaly: str = ""


def bank_event_receive(*, webhook_id: str, event: WebhookEvent) -> tuple[WebhookOutcome, bool]:
    """Process one verified bank event exactly once. Returns (outcome, duplicate).

    The dedup row and the event's effect commit together: a crash in between leaves neither, and
    the bank's redelivery processes the event afresh. Simultaneous deliveries of one operation meet
    at the unique index on `operation_id`; the losers wait for the winner's commit, then see a
    duplicate and change nothing.
    """
    log = logger.bind(operation_id=event.operation_id, event_type=event.type)
    try:
        with transaction.atomic():
            record = BankWebhookEvent.objects.create(
                operation_id=event.operation_id,
                webhook_id=webhook_id,
                event_type=event.type,
                occurred_at=event.occurred_at,
                payload=event.payload,
                outcome=WebhookOutcome.NOOP,
            )
            handled = _route(event)
            record.outcome, record.payout = handled.outcome, handled.payout
            record.anomaly = handled.anomaly[:ANOMALY_MAX_LENGTH]
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


def _route(event: WebhookEvent) -> Handled:
    data = event.data
    if isinstance(data, UnreadableData):
        return Handled(WebhookOutcome.ANOMALY, anomaly=data.reason)
    if isinstance(data, BankPayout):
        return _payout_event(event, data)
    if isinstance(data, IncomingTransfer):
        return incoming_transfer_apply(operation_id=event.operation_id, transfer=data)
    return Handled(WebhookOutcome.IGNORED)


def incoming_transfer_apply(*, operation_id: str, transfer: IncomingTransfer) -> Handled:
    """Credit a transfer the bank reports (its webhook, or its list swept by
    `payouts.bank.incoming_sweep`), once per operation: one already recorded is a no-op. A transfer
    we cannot take as it is (an invalid INN, an unknown currency, an amount beyond what an amount
    holds) is an anomaly, and nothing is credited."""
    try:
        payer_inn = normalize_inn(transfer.payer_inn)
    except ValueError:
        return Handled(
            WebhookOutcome.ANOMALY, anomaly=f"incoming transfer with invalid payer_inn {transfer.payer_inn!r}"
        )
    if transfer.currency not in CURRENCY_EXPONENTS:
        return Handled(
            WebhookOutcome.ANOMALY, anomaly=f"incoming transfer in an unknown currency {transfer.currency!r}"
        )
    if transfer.amount_minor >= AMOUNT_LIMIT.scaleb(currency_exponent(transfer.currency)):
        return Handled(
            WebhookOutcome.ANOMALY,
            anomaly=f"incoming transfer of {transfer.amount_minor} minor units: beyond what an amount holds",
        )
    amount = from_minor_units(transfer.amount_minor, transfer.currency)
    incoming, created = incoming_transfer_receive(
        operation_id=operation_id,
        payer_inn=payer_inn,
        amount=amount,
        currency=transfer.currency,
        document_number=transfer.document_number,
        document_date=transfer.document_date,
    )
    if not created:
        return Handled(WebhookOutcome.NOOP)
    if incoming.organization is None:
        return Handled(WebhookOutcome.APPLIED, anomaly=f"parked: no organisation with INN {payer_inn}")
    return Handled(WebhookOutcome.APPLIED)


def _payout_event(event: WebhookEvent, bank_payout: BankPayout) -> Handled:
    payout = _payout_for(bank_payout.reference)
    if payout is None:
        return Handled(WebhookOutcome.ANOMALY, anomaly=f"unknown payout reference {bank_payout.reference!r}")
    try:
        result = bank_payout_apply(
            payout=payout,
            bank_payout=bank_payout,
            actor=Actor.BANK,
            reason=f"bank {event.type} ({event.operation_id})",
        )
    except BankPayoutMismatch as exc:
        return Handled(WebhookOutcome.ANOMALY, payout=payout, anomaly=str(exc))
    except InvalidTransition as exc:
        return Handled(
            WebhookOutcome.ANOMALY,
            payout=payout,
            anomaly=f"refused transition {exc.current} -> {exc.requested}",
        )
    return Handled(WebhookOutcome.APPLIED if result.changed else WebhookOutcome.NOOP, payout=result.payout)


def _payout_for(reference: str) -> Payout | None:
    try:
        payout_id = uuid.UUID(reference)
    except ValueError:
        return None
    return Payout.objects.filter(pk=payout_id).first()
