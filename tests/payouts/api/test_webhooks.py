"""The bank's webhook receiver: signature, body, deduplication, routing, anomalies."""

import json
import time
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from payouts.ledger.check import ledger_check
from payouts.models import (
    BankWebhookEvent,
    IncomingTransfer,
    LedgerEntry,
    Payout,
    PayoutEvent,
    PayoutStatus,
    WebhookOutcome,
)
from provider.signatures import generate_keypair
from tests.concurrency import run_at_once
from tests.payouts.bank_doubles import bank_payout_json, signed_webhook
from tests.payouts.factories import PayoutFactory

URL = "/api/webhooks/bank/"
S = PayoutStatus


def event(
    payout: Payout, type_: str = "payout.paid", operation_id: str = "op_1", **data: Any
) -> dict[str, Any]:
    status = type_.split(".")[1]
    return {
        "type": type_,
        "operation_id": operation_id,
        "occurred_at": "2026-11-22T07:30:01+00:00",
        "data": bank_payout_json(payout, status=status, **data),
    }


def deliver(body: dict[str, Any] | bytes, keys: list[str], client: Client | None = None, **kw: Any) -> Any:
    raw, headers = signed_webhook(body, secret_keys=keys, **kw)
    return (client or Client()).post(URL, raw, content_type="application/json", **headers)


@pytest.mark.django_db
def test_webhook_paid_settles_a_submitted_payout(bank_keys: list[str]) -> None:
    payout = PayoutFactory(status=S.SUBMITTED, bank_reference="bp_1")

    response = deliver(event(payout), bank_keys)

    assert response.status_code == 200
    assert response.json() == {"received": True, "outcome": "applied", "duplicate": False}
    payout.refresh_from_db()
    assert payout.status == S.PAID
    last = PayoutEvent.objects.filter(payout=payout).last()
    assert last is not None and last.actor == "bank" and "op_1" in last.reason
    assert BankWebhookEvent.objects.get().outcome == WebhookOutcome.APPLIED


@pytest.mark.django_db
def test_webhook_failed_carries_the_banks_code(bank_keys: list[str]) -> None:
    payout = PayoutFactory(status=S.SUBMITTED)
    body = event(payout, "payout.failed", failure_code="account_closed", failure_reason="Closed in 2025")

    assert deliver(body, bank_keys).status_code == 200

    payout.refresh_from_db()
    assert (payout.status, payout.failure_code, payout.failure_reason) == (
        S.FAILED,
        "account_closed",
        "Closed in 2025",
    )


@pytest.mark.django_db
def test_webhook_canceled_cancels_a_submitted_payout(bank_keys: list[str]) -> None:
    payout = PayoutFactory(status=S.SUBMITTED)
    assert deliver(event(payout, "payout.canceled"), bank_keys).status_code == 200
    payout.refresh_from_db()
    assert payout.status == S.CANCELED


@pytest.mark.django_db
def test_webhook_that_outruns_our_submitted_update_is_applied(bank_keys: list[str]) -> None:
    payout = PayoutFactory(status=S.PROCESSING)

    deliver(event(payout, bank_id="bp_9"), bank_keys)

    payout.refresh_from_db()
    assert payout.status == S.PAID
    assert payout.bank_reference == "bp_9"


@pytest.mark.django_db
def test_webhook_duplicate_operation_gets_200_and_changes_nothing(bank_keys: list[str]) -> None:
    payout = PayoutFactory(status=S.SUBMITTED)
    deliver(event(payout), bank_keys)

    again = deliver(event(payout), bank_keys, msg_id="msg_1")

    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert BankWebhookEvent.objects.count() == 1
    assert PayoutEvent.objects.filter(payout=payout).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("setup", "anomaly"),
    [
        ("paid_then_failed", "refused transition paid -> failed"),
        ("unknown_payout", "unknown payout reference"),
        ("amount_mismatch", "amount/currency mismatch"),
        ("currency_mismatch", "amount/currency mismatch"),
        ("bank_reference_mismatch", "bank reference mismatch"),
    ],
)
def test_webhook_anomaly_is_acknowledged_recorded_and_changes_nothing(
    bank_keys: list[str], setup: str, anomaly: str, caplog: Any
) -> None:
    payout = PayoutFactory(
        status=S.PAID if setup == "paid_then_failed" else S.SUBMITTED, bank_reference="bp_1"
    )
    body = event(payout, "payout.failed" if setup == "paid_then_failed" else "payout.paid")
    if setup == "unknown_payout":
        body["data"]["reference"] = "00000000-0000-0000-0000-000000000000"
    elif setup == "amount_mismatch":
        body["data"]["amount"] += 1
    elif setup == "currency_mismatch":
        body["data"]["currency"] = "USD"
    elif setup == "bank_reference_mismatch":
        body["data"]["id"] = "bp_other"
    before = Payout.objects.get(pk=payout.pk).status

    response = deliver(body, bank_keys)

    assert response.status_code == 200
    assert response.json()["outcome"] == "anomaly"
    record = BankWebhookEvent.objects.get()
    assert record.outcome == WebhookOutcome.ANOMALY
    assert anomaly in record.anomaly
    assert Payout.objects.get(pk=payout.pk).status == before
    assert any(r.levelname == "ERROR" and "anomaly" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_webhook_unknown_type_is_acknowledged_and_ignored(bank_keys: list[str]) -> None:
    body = {"type": "account.updated", "operation_id": "op_x", "occurred_at": None, "data": {}}
    response = deliver(body, bank_keys)
    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"


@pytest.mark.django_db
def test_webhook_signed_by_either_rotated_key_is_accepted(settings: Any) -> None:
    old_secret, old_public = generate_keypair()
    new_secret, new_public = generate_keypair()
    settings.BANK_WEBHOOK_PUBLIC_KEYS = [old_public, new_public]
    first, second = PayoutFactory(status=S.SUBMITTED), PayoutFactory(status=S.SUBMITTED)

    assert deliver(event(first, operation_id="op_a"), [old_secret]).status_code == 200
    assert deliver(event(second, operation_id="op_b"), [new_secret, old_secret]).status_code == 200
    assert Payout.objects.filter(status=S.PAID).count() == 2


def _refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert not BankWebhookEvent.objects.exists()


@pytest.mark.django_db
def test_webhook_with_tampered_body_is_401(bank_keys: list[str]) -> None:
    payout = PayoutFactory(status=S.SUBMITTED)
    raw, headers = signed_webhook(event(payout), secret_keys=bank_keys)
    tampered = raw.replace(b'"payout.paid"', b'"payout.failed"')
    _refused(
        Client().post(URL, tampered, content_type="application/json", **headers), 401, "invalid_signature"
    )
    assert Payout.objects.get(pk=payout.pk).status == S.SUBMITTED


@pytest.mark.django_db
def test_webhook_signed_with_wrong_key_is_401(bank_keys: list[str]) -> None:
    stranger, _ = generate_keypair()
    _refused(deliver(event(PayoutFactory(status=S.SUBMITTED)), [stranger]), 401, "invalid_signature")


@pytest.mark.django_db
@pytest.mark.parametrize("skew", [-301, 301], ids=["stale", "future"])
def test_webhook_outside_the_timestamp_window_is_401(bank_keys: list[str], skew: int) -> None:
    body = event(PayoutFactory(status=S.SUBMITTED))
    response = deliver(body, bank_keys, timestamp=int(time.time()) + skew)
    _refused(response, 401, "timestamp_out_of_tolerance")


@pytest.mark.django_db
def test_webhook_without_signature_headers_is_400(bank_keys: list[str]) -> None:
    response = Client().post(URL, b"{}", content_type="application/json")
    _refused(response, 400, "missing_headers")


@pytest.mark.django_db
def test_webhook_oversized_body_is_413(bank_keys: list[str], settings: Any) -> None:
    settings.WEBHOOK_MAX_BODY_BYTES = 1024
    body = {"type": "payout.paid", "operation_id": "op_big", "data": {"pad": "x" * 2000}}
    _refused(deliver(body, bank_keys), 413, "payload_too_large")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"[]",
        b'{"type": "payout.paid", "data": {}}',
        b'{"type": 1, "operation_id": "o", "data": {}}',
    ],
    ids=["not-json", "array", "no-operation-id", "type-not-string"],
)
def test_webhook_malformed_but_signed_body_is_400(bank_keys: list[str], raw: bytes) -> None:
    _refused(deliver(raw, bank_keys), 400, "malformed_webhook")


@pytest.mark.django_db(transaction=True)
def test_fifty_identical_webhooks_at_once_have_exactly_one_effect(bank_keys: list[str]) -> None:
    # given one signed paid event, delivered fifty times at the same instant on fifty connections
    payout = PayoutFactory(status=S.SUBMITTED)
    raw, headers = signed_webhook(event(payout, operation_id="op_storm"), secret_keys=bank_keys)
    count = 50

    def send(_: int) -> dict[str, Any]:
        response = Client().post(URL, raw, content_type="application/json", **headers)
        return {"status": response.status_code, **json.loads(response.content)}

    results = run_at_once(send, count)

    # then every delivery is acknowledged, exactly one applied, one event row, one status change
    assert [r["status"] for r in results] == [200] * count
    assert sum(1 for r in results if not r["duplicate"]) == 1
    assert BankWebhookEvent.objects.filter(operation_id="op_storm").count() == 1
    assert PayoutEvent.objects.filter(payout=payout, to_status=S.PAID).count() == 1
    assert Payout.objects.get(pk=payout.pk).status == S.PAID


@pytest.mark.django_db
def test_webhook_without_configured_public_keys_is_503_and_writes_nothing(settings: Any) -> None:
    secret, _ = generate_keypair()
    settings.BANK_WEBHOOK_PUBLIC_KEYS = []
    response = deliver(event(PayoutFactory(status=S.SUBMITTED)), [secret])
    _refused(response, 503, "webhooks_not_configured")


@pytest.mark.django_db
def test_webhook_canceled_while_we_are_still_processing_releases_the_payout(bank_keys: list[str]) -> None:
    payout = PayoutFactory(status=S.PROCESSING)

    response = deliver(event(payout, "payout.canceled", bank_id="bp_c"), bank_keys)

    assert response.json()["outcome"] == "applied"
    payout.refresh_from_db()
    assert (payout.status, payout.bank_reference) == (S.CANCELED, "bp_c")
    assert [e.to_status for e in PayoutEvent.objects.filter(payout=payout)] == ["submitted", "canceled"]


@pytest.mark.django_db
def test_webhook_with_overlong_bank_fields_is_applied_or_an_anomaly_never_a_500(bank_keys: list[str]) -> None:
    failed = PayoutFactory(status=S.SUBMITTED)
    long_id = PayoutFactory(status=S.SUBMITTED)

    r1 = deliver(event(failed, "payout.failed", operation_id="op_f", failure_code="x" * 100), bank_keys)
    r2 = deliver(event(long_id, operation_id="op_l", bank_id="bp_" + "y" * 100), bank_keys)

    assert (r1.status_code, r1.json()["outcome"]) == (200, "applied")
    failed.refresh_from_db()
    assert failed.failure_code == "x" * 64
    assert (r2.status_code, r2.json()["outcome"]) == (200, "anomaly")


@pytest.mark.django_db
def test_webhook_with_an_impossible_occurred_at_is_still_applied(bank_keys: list[str]) -> None:
    payout = PayoutFactory(status=S.SUBMITTED)
    body = {**event(payout), "occurred_at": "2026-02-30T10:00:00+00:00"}
    assert deliver(body, bank_keys).json()["outcome"] == "applied"


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_webhook_wrong_method_is_405_in_the_envelope(method: str) -> None:
    response = getattr(Client(), method)(URL)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response["Allow"] == "POST"


@pytest.mark.django_db
def test_webhook_with_a_malformed_configured_key_is_503_and_writes_nothing(settings: Any) -> None:
    # given our configuration holds a key that is not a key (the bank's message is fine)
    secret, public = generate_keypair()
    settings.BANK_WEBHOOK_PUBLIC_KEYS = [public, "whpk_not-base64!"]
    payout = PayoutFactory(status=S.SUBMITTED)

    response = deliver(event(payout), [secret])

    _refused(response, 503, "webhook_keys_misconfigured")
    assert Payout.objects.get(pk=payout.pk).status == S.SUBMITTED


@pytest.mark.django_db
def test_webhook_anomaly_about_an_overlong_reference_is_recorded_cut_to_the_column(
    bank_keys: list[str],
) -> None:
    payout = PayoutFactory(status=S.SUBMITTED)
    body = event(payout)
    body["data"]["reference"] = "r" * 1000

    response = deliver(body, bank_keys)

    assert (response.status_code, response.json()["outcome"]) == (200, "anomaly")
    assert BankWebhookEvent.objects.get().anomaly.startswith("unknown payout reference 'rrr")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"type": "payout." + "x" * 60}, (400, "malformed_webhook")),
        ({"operation_id": "op\u0000nul"}, (400, "malformed_webhook")),
        ({"data": {"note": "\ud800"}}, (400, "malformed_webhook")),
        ({"occurred_at": "0001-01-01T00:00:00+01:00"}, (200, "applied")),
    ],
    ids=["long-type", "nul", "lone-surrogate", "year-one"],
)
def test_signed_but_hostile_webhook_is_refused_or_applied_never_a_500(
    bank_keys: list[str], change: dict[str, Any], expected: tuple[int, str]
) -> None:
    payout = PayoutFactory(status=S.SUBMITTED)
    body = event(payout)
    for key, value in change.items():
        body[key] = {**body["data"], **value} if key == "data" else value

    first = deliver(body, bank_keys)
    again = deliver(body, bank_keys)

    for response in (first, again):
        assert response.status_code == expected[0], response.content
        answer = response.json()
        assert (answer.get("outcome") or answer["error"]["code"]) == expected[1] or answer.get("duplicate")


@pytest.mark.django_db
def test_webhook_with_an_overlong_webhook_id_is_400_and_writes_nothing(bank_keys: list[str]) -> None:
    response = deliver(event(PayoutFactory(status=S.SUBMITTED)), bank_keys, msg_id="m" * 129)
    _refused(response, 400, "malformed_webhook")


@pytest.mark.django_db
def test_incoming_transfer_beyond_what_an_amount_holds_is_an_anomaly(bank_keys: list[str]) -> None:
    body = {
        "type": "transfer.incoming",
        "operation_id": "op_huge",
        "occurred_at": None,
        "data": {
            "amount": 10**30,
            "currency": "RUB",
            "payer_inn": "7707083893",
            "document_number": "1",
            "document_date": "2026-11-22",
        },
    }
    response = deliver(body, bank_keys)
    assert (response.status_code, response.json()["outcome"]) == (200, "anomaly")
    assert "beyond what an amount holds" in BankWebhookEvent.objects.get().anomaly


def _transfer(amount: Any) -> dict[str, Any]:
    return {
        "type": "transfer.incoming",
        "operation_id": "op_transfer",
        "occurred_at": "2026-11-22T07:30:01+00:00",
        "data": {
            "amount": amount,
            "currency": "RUB",
            "payer_inn": "7707083893",
            "document_number": "1",
            "document_date": "2026-11-22",
        },
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw",
    [
        # NaN, Infinity: not JSON, though Python's parser takes them
        b'{"type": "payout.paid", "operation_id": "op_nan", "occurred_at": null, "data": {"x": NaN}}',
        b'{"type": "payout.paid", "operation_id": "op_inf", "occurred_at": null, "data": {"x": -Infinity}}',
    ],
    ids=["nan", "infinity"],
)
def test_signed_webhook_with_nan_or_infinity_is_400_and_writes_nothing(
    bank_keys: list[str], raw: bytes
) -> None:
    response = deliver(raw, bank_keys)

    _refused(response, 400, "malformed_webhook")
    assert not BankWebhookEvent.objects.exists()


@pytest.mark.django_db
def test_webhook_occurred_at_with_an_offset_postgresql_cannot_hold_is_applied(bank_keys: list[str]) -> None:
    payout = PayoutFactory(status=S.SUBMITTED)
    body = {**event(payout), "occurred_at": "2026-11-22T07:30:01+23:59"}

    response = deliver(body, bank_keys)

    assert (response.status_code, response.json()["outcome"]) == (200, "applied")
    assert Payout.objects.get(pk=payout.pk).status == S.PAID


@pytest.mark.django_db
@pytest.mark.parametrize("amount", [300.0, "300", True], ids=["float", "string", "bool"])
def test_incoming_transfer_amount_that_is_not_a_json_integer_is_an_anomaly_and_credits_nothing(
    bank_keys: list[str], amount: Any
) -> None:
    response = deliver(_transfer(amount), bank_keys)

    assert (response.status_code, response.json()["outcome"]) == (200, "anomaly")
    assert "'amount' is of type" in BankWebhookEvent.objects.get().anomaly
    assert not IncomingTransfer.objects.exists()
    assert not LedgerEntry.objects.exists()


@pytest.mark.django_db
def test_incoming_transfer_of_ten_to_the_sixteen_minor_units_is_recorded_exactly(
    bank_keys: list[str],
) -> None:
    response = deliver(_transfer(10**16), bank_keys)

    # no organisation has the payer's INN: recorded and parked for an operator, not a 500
    assert (response.status_code, response.json()["outcome"]) == (200, "applied")
    assert IncomingTransfer.objects.get().amount == Decimal("100000000000000.00")
    assert ledger_check().violations == []
