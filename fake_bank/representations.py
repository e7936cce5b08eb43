"""The JSON shapes of the bank's objects (docs/bank-api.md), shared by the API and the webhooks."""

import json
from datetime import UTC, datetime
from typing import Any

from fake_bank.models import BankPayout, IncomingTransfer


def timestamp_json(moment: datetime | None) -> str | None:
    """ISO 8601 with a UTC offset (``+00:00``), or None."""
    return None if moment is None else moment.astimezone(UTC).isoformat()


def payout_json(payout: BankPayout) -> dict[str, Any]:
    """The bank's payout object."""
    return {
        "id": payout.id,
        "reference": payout.reference,
        "status": payout.status,
        "amount": payout.amount,
        "currency": payout.currency,
        "recipient": payout.recipient,
        "description": payout.description,
        "failure_code": payout.failure_code,
        "failure_reason": payout.failure_reason,
        "created_at": timestamp_json(payout.created_at),
        "executed_at": timestamp_json(payout.executed_at),
    }


def transfer_event_json(transfer: IncomingTransfer) -> dict[str, Any]:
    """The ``data`` of a ``transfer.incoming`` webhook."""
    return {
        "amount": transfer.amount,
        "currency": transfer.currency,
        "payer_inn": transfer.payer_inn,
        "document_number": transfer.document_number,
        "document_date": transfer.document_date.isoformat(),
    }


def transfer_json(transfer: IncomingTransfer) -> dict[str, Any]:
    """What ``POST /incoming-transfers`` answers: the transfer and the operation that announces it."""
    return {
        "id": transfer.id,
        **transfer_event_json(transfer),
        "operation_id": transfer.webhook.operation_id,
        "created_at": timestamp_json(transfer.created_at),
    }


def error_json(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def webhook_body(*, event_type: str, operation_id: str, occurred_at: datetime, data: dict[str, Any]) -> str:
    """The webhook's JSON text, serialised once and then sent byte for byte on every attempt."""
    return json.dumps(
        {
            "type": event_type,
            "operation_id": operation_id,
            "occurred_at": timestamp_json(occurred_at),
            "data": data,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
