"""Parsing the bank's webhook bodies into typed events."""

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from provider.events import (
    IncomingTransfer,
    MalformedWebhookError,
    UnreadableData,
    WebhookEvent,
    parse_webhook_event,
)
from provider.types import BankPayout, BankPayoutStatus

PAYOUT = {
    "id": "bp_1",
    "reference": "7d0f0a4e-2f53-4c55-9a52-2a1f1bb0b6f3",
    "status": "paid",
    "amount": 10050,
    "currency": "RUB",
    "recipient": {"name": "Ivan", "iban": "DE89370400440532013000"},
    "description": "",
    "failure_code": None,
    "failure_reason": None,
    "created_at": "2026-11-22T07:30:00+00:00",
    "executed_at": "2026-11-22T07:30:01+00:00",
}
TRANSFER = {
    "amount": 1000000,
    "currency": "RUB",
    "payer_inn": "7707083893",
    "document_number": "123",
    "document_date": "2026-11-22",
}


def body(type_: str, data: Any, **envelope: Any) -> bytes:
    return json.dumps(
        {
            "type": type_,
            "operation_id": "op_1",
            "occurred_at": "2026-11-22T07:30:01.456789+00:00",
            "data": data,
            **envelope,
        }
    ).encode()


def test_payout_event_parses_into_the_banks_payout_object() -> None:
    event = parse_webhook_event(body("payout.paid", PAYOUT))

    assert isinstance(event, WebhookEvent)
    assert (event.type, event.operation_id) == ("payout.paid", "op_1")
    assert event.occurred_at == datetime(2026, 11, 22, 7, 30, 1, 456789, tzinfo=UTC)
    assert event.data == BankPayout(
        id="bp_1",
        reference=PAYOUT["reference"],
        status=BankPayoutStatus.PAID,
        amount_minor=10050,
        currency="RUB",
        failure_code=None,
        failure_reason=None,
    )
    assert event.payload["data"]["recipient"]["name"] == "Ivan"


def test_incoming_transfer_event_parses_into_an_incoming_transfer() -> None:
    event = parse_webhook_event(body("transfer.incoming", TRANSFER))

    assert event.data == IncomingTransfer(
        payer_inn="7707083893",
        amount_minor=1000000,
        currency="RUB",
        document_number="123",
        document_date=date(2026, 11, 22),
    )


@pytest.mark.parametrize("type_", ["account.updated", "payout.processing", "payout.created"])
def test_event_of_a_type_the_service_does_not_act_on_has_no_data(type_: str) -> None:
    assert parse_webhook_event(body(type_, {**PAYOUT, "status": "processing"})).data is None


@pytest.mark.parametrize(
    ("type_", "data", "reason"),
    [
        ("payout.paid", {**PAYOUT, "status": "failed"}, "carries a payout in status 'failed'"),
        ("payout.paid", {k: v for k, v in PAYOUT.items() if k != "reference"}, "'reference' is missing"),
        ("payout.failed", {**PAYOUT, "status": "failed", "amount": "100.50"}, "'amount' is of type str"),
        ("payout.paid", {**PAYOUT, "amount": True}, "'amount' is of type bool"),
        ("transfer.incoming", {**TRANSFER, "amount": 0}, "must be positive"),
        ("transfer.incoming", {**TRANSFER, "amount": 300.0}, "'amount' is of type float"),
        ("transfer.incoming", {**TRANSFER, "payer_inn": 7707083893}, "'payer_inn' is of type int"),
        ("transfer.incoming", {**TRANSFER, "document_number": ""}, "document_number"),
        ("transfer.incoming", {**TRANSFER, "document_date": "2026-13-01"}, "month must be in 1..12"),
        ("transfer.incoming", {**TRANSFER, "document_date": "20261122"}, "not YYYY-MM-DD"),
    ],
)
def test_known_event_with_data_of_the_wrong_shape_is_unreadable_not_refused(
    type_: str, data: dict[str, Any], reason: str
) -> None:
    event = parse_webhook_event(body(type_, data))

    assert isinstance(event.data, UnreadableData)
    assert reason in event.data.reason


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"type": "payout.paid", "data": {}}',
        b'{"type": 1, "operation_id": "o", "data": {}}',
        b'{"type": "", "operation_id": "o", "data": {}}',
        b'{"type": "payout.paid", "operation_id": "o", "data": []}',
        json.dumps({"type": "payout.paid", "operation_id": "o" * 129, "data": {}}).encode(),
    ],
    ids=[
        "not-json",
        "not-utf8",
        "array",
        "no-operation-id",
        "type-not-string",
        "empty-type",
        "data-list",
        "long-id",
    ],
)
def test_broken_envelope_raises_malformed_webhook_error(raw: bytes) -> None:
    with pytest.raises(MalformedWebhookError):
        parse_webhook_event(raw)


@pytest.mark.parametrize(
    "occurred_at", [None, 17, "yesterday", "2026-02-30T10:00:00+00:00", "2026-11-22T07:30:01"]
)
def test_occurred_at_that_is_missing_impossible_or_without_zone_is_none(occurred_at: Any) -> None:
    assert parse_webhook_event(body("payout.paid", PAYOUT, occurred_at=occurred_at)).occurred_at is None
