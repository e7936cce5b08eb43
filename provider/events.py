"""The bank's webhook bodies, parsed into frozen dataclasses (the contract is docs/bank-api.md).

Two levels of wrong, answered differently by the receiver:

- an envelope that is not the documented shape (not a JSON object, no ``type`` or ``operation_id``,
  ``data`` not an object) raises ``MalformedWebhookError``: the message itself is broken;
- a well-formed envelope of a known type whose ``data`` does not parse becomes ``UnreadableData``:
  the event is stored and acknowledged as an anomaly an operator looks at, so the bank stops
  redelivering something no retry will fix.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Self

from provider.types import BankPayout, BankPayoutStatus, required_field

PAYOUT_EVENT_PREFIX = "payout."
# The bank announces a payout when it reaches a final status: `payout.paid`, `.failed`, `.canceled`.
PAYOUT_EVENT_TYPES = frozenset(
    f"{PAYOUT_EVENT_PREFIX}{status}" for status in BankPayoutStatus if status.is_final
)
INCOMING_TRANSFER_EVENT = "transfer.incoming"
OPERATION_ID_MAX_LENGTH = 128
EVENT_TYPE_MAX_LENGTH = 64

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class MalformedWebhookError(ValueError):
    """The body is signed but its envelope does not have the documented shape."""


@dataclass(frozen=True, slots=True)
class IncomingTransfer:
    """Money a payer sent to the service's account (``transfer.incoming``)."""

    payer_inn: str
    amount_minor: int
    currency: str
    document_number: str
    document_date: date

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Self:
        """Parse strictly; raise ``ValueError`` naming the first wrong field."""
        amount = required_field(data, "amount", int)
        if amount <= 0:
            raise ValueError(f"transfer amount must be positive, not {amount}")
        document_number = required_field(data, "document_number", str)
        if not 1 <= len(document_number) <= 64:
            raise ValueError("document_number must hold 1-64 characters")
        document_date = required_field(data, "document_date", str)
        return cls(
            payer_inn=required_field(data, "payer_inn", str),
            amount_minor=amount,
            currency=required_field(data, "currency", str),
            document_number=document_number,
            document_date=_date(document_date),
        )


@dataclass(frozen=True, slots=True)
class UnreadableData:
    """The ``data`` of a known event type that does not parse; ``reason`` says why."""

    reason: str


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One bank event. ``data`` is ``None`` for a type this service does not know."""

    type: str
    operation_id: str
    occurred_at: datetime | None
    data: BankPayout | IncomingTransfer | UnreadableData | None
    payload: dict[str, Any]  # the whole body as received, kept for audit


def parse_webhook_event(body: bytes) -> WebhookEvent:
    """Parse a verified webhook body. Raises ``MalformedWebhookError`` for a broken envelope (bad
    JSON or UTF-8 included); the ``data`` of a known type that does not parse becomes
    ``UnreadableData``; an unparsable ``occurred_at`` (informational only) becomes ``None``."""
    try:
        payload = json.loads(body, parse_constant=_not_json)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise MalformedWebhookError(f"The body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise MalformedWebhookError("The body must be a JSON object.")
    event_type, operation_id, data = payload.get("type"), payload.get("operation_id"), payload.get("data")
    if not isinstance(event_type, str) or not 1 <= len(event_type) <= EVENT_TYPE_MAX_LENGTH:
        raise MalformedWebhookError(f"`type` must be a string of 1-{EVENT_TYPE_MAX_LENGTH} characters.")
    if not isinstance(operation_id, str) or not 1 <= len(operation_id) <= OPERATION_ID_MAX_LENGTH:
        raise MalformedWebhookError(
            f"`operation_id` must be a string of 1-{OPERATION_ID_MAX_LENGTH} characters."
        )
    if not isinstance(data, dict):
        raise MalformedWebhookError("`data` must be an object.")
    if not _storable(payload):
        raise MalformedWebhookError("The body holds a NUL character or a lone surrogate.")
    return WebhookEvent(
        type=event_type,
        operation_id=operation_id,
        occurred_at=_datetime_or_none(payload.get("occurred_at")),
        data=_data(event_type, data),
        payload=payload,
    )


def _data(event_type: str, data: dict[str, Any]) -> BankPayout | IncomingTransfer | UnreadableData | None:
    try:
        if event_type == INCOMING_TRANSFER_EVENT:
            return IncomingTransfer.from_json(data)
        if event_type in PAYOUT_EVENT_TYPES:
            payout = BankPayout.from_json(data)
            # `payout.<status>` carries the payout object in that status; a disagreement is the
            # bank's inconsistency, never something to guess about.
            if event_type != f"{PAYOUT_EVENT_PREFIX}{payout.status}":
                return UnreadableData(
                    f"event {event_type!r} carries a payout in status {payout.status.value!r}"
                )
            return payout
    except ValueError as exc:
        return UnreadableData(f"{event_type} with malformed data: {exc}; data: {data!r}"[:500])
    return None


def _not_json(constant: str) -> None:
    """Python's parser takes `NaN`, `Infinity` and `-Infinity`; JSON (and PostgreSQL's) does not."""
    raise ValueError(f"{constant} is not a JSON value")


def _storable(value: object) -> bool:
    """No string in the body (keys included) holds what text storage refuses: NUL, or a lone
    surrogate (valid in JSON's escapes, not in UTF-8)."""
    if isinstance(value, str):
        return "\x00" not in value and (value.isascii() or _encodes_as_utf8(value))
    if isinstance(value, dict):
        return all(_storable(key) and _storable(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    return True


def _encodes_as_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _date(value: str) -> date:
    if not _ISO_DATE.fullmatch(value):
        raise ValueError(f"document_date is not YYYY-MM-DD: {value[:20]!r}")
    return date.fromisoformat(value)  # raises ValueError for a day that does not exist


def _datetime_or_none(value: object) -> datetime | None:
    """The event's time is informational: an unparsable or zone-less one must not refuse the event."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None or not 2 <= parsed.year <= 9998:  # beyond: not storable in every zone
        return None
    # In UTC: PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 allows up to ±23:59.
    return parsed.astimezone(UTC)
