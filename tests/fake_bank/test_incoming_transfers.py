"""The simulator-only endpoint that makes a payer send money to the service's account."""

import json
from typing import Any

import pytest
import respx
from django.test import Client

from fake_bank.models import IdempotencyRecord, IncomingTransfer, Webhook
from tests.fake_bank.conftest import BankApi, TaskQueue, verified_signatures

pytestmark = pytest.mark.django_db

TRANSFER = {
    "payer_inn": "7707083893",
    "amount": 1000000,
    "currency": "RUB",
    "document_number": "123",
    "document_date": "2026-11-22",
}


def test_incoming_transfer_is_201_and_announced_by_signed_webhook(
    bank: BankApi, task_queue: TaskQueue, webhook_receiver: respx.Route, signing_keypair: tuple[str, str]
) -> None:
    # when
    response = bank.post("/incoming-transfers", TRANSFER)
    # then the transfer comes back
    assert response.status_code == 201
    answer = response.json()
    transfer = IncomingTransfer.objects.get()
    assert answer == {
        "id": transfer.id,
        **TRANSFER,
        "operation_id": transfer.webhook.operation_id,
        "created_at": answer["created_at"],
    }
    assert answer["id"].startswith("it_")
    # and a transfer.incoming webhook is queued
    assert task_queue.names() == ["fake_bank.tasks.deliver_webhook"]
    # when it is delivered
    task_queue.run_all()
    # then the service receives it signed, with the documented data
    request = webhook_receiver.calls.last.request
    assert verified_signatures(request, signing_keypair[1]) == [True]
    event = json.loads(request.content)
    assert event["type"] == "transfer.incoming"
    assert event["operation_id"] == answer["operation_id"]
    assert event["data"] == TRANSFER
    assert Webhook.objects.get().payout is None


def _with(**fields: object) -> dict[str, Any]:
    return {**TRANSFER, **fields}


def _without(field: str) -> dict[str, Any]:
    return {name: value for name, value in TRANSFER.items() if name != field}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_without("payer_inn"), "payer_inn"),
        (_without("amount"), "amount"),
        (_without("currency"), "currency"),
        (_without("document_number"), "document_number"),
        (_without("document_date"), "document_date"),
        (_with(payer_inn="77070838"), "payer_inn"),
        (_with(payer_inn=7707083893), "payer_inn"),
        (_with(amount=0), "amount"),
        (_with(amount=-5), "amount"),
        (_with(amount=10.5), "amount"),
        (_with(currency="rub"), "currency"),
        (_with(currency="XXX"), "currency"),
        (_with(document_number=""), "document_number"),
        (_with(document_date="22.11.2026"), "document_date"),
        (_with(document_date="2026-02-30"), "document_date"),
        (_with(document_date="2026-11-22T10:00:00"), "document_date"),
        ([TRANSFER], "body"),
    ],
)
def test_incoming_transfer_invalid_body_is_400(
    bank: BankApi, task_queue: TaskQueue, body: Any, field: str
) -> None:
    # when
    response = bank.post("/incoming-transfers", body)
    # then
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in error["message"]
    assert IncomingTransfer.objects.count() == 0
    assert task_queue.queued == []


def test_incoming_transfer_requires_auth(client: Client) -> None:
    response = client.post(
        "/fake-bank/api/incoming-transfers", data=TRANSFER, content_type="application/json"
    )
    assert response.status_code == 401


def test_incoming_transfer_with_idempotency_key_is_created_once(bank: BankApi, task_queue: TaskQueue) -> None:
    # given
    first = bank.post("/incoming-transfers", TRANSFER, key="transfer-1")
    # when the request is repeated under the same key, then with another body
    replay = bank.post("/incoming-transfers", TRANSFER, key="transfer-1")
    reused = bank.post("/incoming-transfers", {**TRANSFER, "amount": 5}, key="transfer-1")
    # then one transfer, one webhook
    assert (first.status_code, replay.status_code, reused.status_code) == (201, 201, 409)
    assert replay.json() == first.json()
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert IncomingTransfer.objects.count() == 1
    assert len(task_queue.queued) == 1


def test_idempotency_key_is_bound_to_its_endpoint(bank: BankApi) -> None:
    # given a key used for a transfer
    bank.post("/incoming-transfers", TRANSFER, key="shared-key")
    # when the same key is used to submit a payout
    response = bank.submit(key="shared-key")
    # then
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert IdempotencyRecord.objects.count() == 1


def test_incoming_transfers_without_key_are_distinct(bank: BankApi) -> None:
    bank.post("/incoming-transfers", TRANSFER)
    bank.post("/incoming-transfers", TRANSFER)
    assert IncomingTransfer.objects.count() == 2
    assert Webhook.objects.values("operation_id").distinct().count() == 2


def test_the_bank_lists_incoming_transfers_after_a_cursor_oldest_first(bank: BankApi) -> None:
    # given three transfers received one after another
    ids = [
        bank.post("/incoming-transfers", TRANSFER | {"document_number": f"D-{n}"}).json()["id"]
        for n in range(3)
    ]

    first = bank.get("/incoming-transfers?limit=2").json()
    rest = bank.get(f"/incoming-transfers?limit=2&after={first['next_cursor']}").json()
    none_after = bank.get(f"/incoming-transfers?after={rest['next_cursor']}").json()

    # then pages of two, oldest first, each transfer with the operation that announced it
    assert [t["id"] for t in first["data"]] == ids[:2] and first["has_more"] is True
    assert [t["id"] for t in rest["data"]] == ids[2:] and rest["has_more"] is False
    assert rest["data"][0]["operation_id"] == IncomingTransfer.objects.get(pk=ids[2]).webhook.operation_id
    assert none_after == {"data": [], "next_cursor": ids[2], "has_more": False}


def test_listing_after_an_unknown_cursor_or_with_a_bad_limit_is_refused(bank: BankApi) -> None:
    assert bank.get("/incoming-transfers?after=it_nope").status_code == 404
    assert bank.get("/incoming-transfers?limit=0").status_code == 400
    assert bank.get("/incoming-transfers?limit=x").status_code == 400
