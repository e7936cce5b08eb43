"""What the API shows of a payout and of a credit, as plain JSON-ready dicts: the API's answers and
the events' `data.object` (a client's webhook carries the payout as `GET /api/payouts/{id}/` would
have shown it at that moment) come from here."""

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from payouts.money import AMOUNT_DECIMAL_PLACES

AMOUNT_QUANTUM = Decimal(1).scaleb(-AMOUNT_DECIMAL_PLACES)
# What `render_payout` reads of a payout, and of each of its events for the detail.
PAYOUT_FIELDS = (
    "id",
    "amount",
    "currency",
    "recipient",
    "description",
    "status",
    "failure_code",
    "failure_reason",
    "bank_reference",
    "created_at",
    "updated_at",
    "processing_at",
    "submitted_at",
    "paid_at",
    "failed_at",
    "canceled_at",
    "reference",
    "batch_id",
)
EVENT_FIELDS = ("from_status", "to_status", "actor", "reason", "created_at")


def timestamp(value: datetime | None) -> str | None:
    """As DRF renders a datetime with USE_TZ in UTC: ISO 8601, `Z` for UTC."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def amount(value: Decimal) -> str:
    """As the column holds it (two places), whether read back or still in hand after a create."""
    return str(value.quantize(AMOUNT_QUANTUM))


def render_payout(
    payout: Mapping[str, Any], events: Iterable[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """A payout as the API shows it, from its `PAYOUT_FIELDS` and, for the detail, its events'
    `EVENT_FIELDS` (model attributes or rows of a `values()` query alike). Without EVENTS (a list
    page, an event's object) there is no `events` key."""
    rendered = {
        "id": str(payout["id"]),
        "amount": amount(payout["amount"]),
        "currency": payout["currency"],
        "recipient": {key: str(value) for key, value in payout["recipient"].items()},
        "description": payout["description"],
        "status": payout["status"],
        "failure_code": payout["failure_code"],
        "failure_reason": payout["failure_reason"],
        "bank_reference": payout["bank_reference"],
        "created_at": timestamp(payout["created_at"]),
        "updated_at": timestamp(payout["updated_at"]),
        "processing_at": timestamp(payout["processing_at"]),
        "submitted_at": timestamp(payout["submitted_at"]),
        "paid_at": timestamp(payout["paid_at"]),
        "failed_at": timestamp(payout["failed_at"]),
        "canceled_at": timestamp(payout["canceled_at"]),
        "reference": payout["reference"],
        "batch": str(payout["batch_id"]) if payout["batch_id"] else None,
    }
    if events is not None:
        rendered["events"] = [
            {
                "from_status": event["from_status"],
                "to_status": event["to_status"],
                "actor": event["actor"],
                "reason": event["reason"],
                "created_at": timestamp(event["created_at"]),
            }
            for event in events
        ]
    return rendered


def payout_fields(payout: object) -> dict[str, Any]:
    """A payout instance's `PAYOUT_FIELDS`, for `render_payout`."""
    return {name: getattr(payout, name) for name in PAYOUT_FIELDS}
