import json
import pickle
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from provider import (
    BankClient,
    BankPayout,
    BankPayoutStatus,
    PayoutSubmission,
    ProviderCancelRefusedError,
    ProviderError,
    ProviderNotFoundError,
    ProviderRejectedError,
    ProviderTransientError,
    Recipient,
)

BASE_URL = "http://bank.test/fake-bank/api"
TOKEN = "test-token"
REFERENCE = "0b7f3c1e-8a2d-4c55-9e61-2f4a7d9b1c33"
BANK_ID = "bp_6f1c0e0a9b6d4b8e9d3f2a1c5e7b9d0f"
RECIPIENT = Recipient(name="Ivan Petrov", account_number="40702810938000000001", bic="044525225")
SUBMISSION = PayoutSubmission(
    reference=REFERENCE, amount_minor=10050, currency="RUB", recipient=RECIPIENT, description="March fee"
)


def payout_json(**overrides: Any) -> dict[str, Any]:
    """The bank's payout object as docs/bank-api.md shows it."""
    return {
        "id": BANK_ID,
        "reference": REFERENCE,
        "status": "processing",
        "amount": 10050,
        "currency": "RUB",
        "recipient": {"name": "Ivan Petrov", "account_number": "40702810938000000001", "bic": "044525225"},
        "description": "March fee",
        "failure_code": None,
        "failure_reason": None,
        "created_at": "2026-11-22T07:30:00.123456+00:00",
        "executed_at": None,
    } | overrides


def error_json(code: str, message: str = "refused") -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


EXPECTED_PAYOUT = BankPayout(
    id=BANK_ID,
    reference=REFERENCE,
    status=BankPayoutStatus.PROCESSING,
    amount_minor=10050,
    currency="RUB",
    failure_code=None,
    failure_reason=None,
)


@pytest.fixture
def bank() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE_URL, assert_all_called=True) as router:
        yield router


@pytest.fixture
def client() -> Iterator[BankClient]:
    with BankClient(base_url=BASE_URL, token=TOKEN) as bank_client:
        yield bank_client


# Recipient and submission JSON


def test_recipient_russian_account_renders_only_account_keys() -> None:
    # given / when
    rendered = RECIPIENT.to_json()

    # then
    assert rendered == {"name": "Ivan Petrov", "account_number": "40702810938000000001", "bic": "044525225"}


def test_recipient_iban_renders_only_iban_keys() -> None:
    # given a recipient built from a model whose unused fields are blank strings
    recipient = Recipient(name="Hans Muster", account_number="", bic="", iban="DE89370400440532013000")

    # when
    rendered = recipient.to_json()

    # then
    assert rendered == {"name": "Hans Muster", "iban": "DE89370400440532013000"}


@pytest.mark.parametrize(
    ("account_number", "bic", "iban"),
    [
        (None, None, None),
        ("40702810938000000001", None, None),
        (None, "044525225", None),
        ("40702810938000000001", "044525225", "DE89370400440532013000"),
        ("40702810938000000001", None, "DE89370400440532013000"),
    ],
)
def test_recipient_without_exactly_one_shape_is_refused(
    account_number: str | None, bic: str | None, iban: str | None
) -> None:
    # given / when / then
    with pytest.raises(ValueError, match="either account_number and bic, or an iban"):
        Recipient(name="Ivan Petrov", account_number=account_number, bic=bic, iban=iban)


# Submit


def test_submit_payout_accepted_sends_contract_request_and_returns_payout(
    bank: respx.MockRouter, client: BankClient
) -> None:
    # given
    route = bank.post("/payouts").respond(202, json=payout_json())

    # when
    payout = client.submit_payout(SUBMISSION)

    # then
    assert payout == EXPECTED_PAYOUT
    request = route.calls.last.request
    assert request.url == f"{BASE_URL}/payouts"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Idempotency-Key"] == REFERENCE
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("payout-service")
    assert json.loads(request.content) == {
        "reference": REFERENCE,
        "amount": 10050,
        "currency": "RUB",
        "recipient": {"name": "Ivan Petrov", "account_number": "40702810938000000001", "bic": "044525225"},
        "description": "March fee",
    }


def test_submit_payout_uses_explicit_timeouts(bank: respx.MockRouter) -> None:
    # given
    route = bank.post("/payouts").respond(202, json=payout_json())
    bank_client = BankClient(base_url=BASE_URL, token=TOKEN, connect_timeout=1.5, read_timeout=4.0)

    # when
    bank_client.submit_payout(SUBMISSION)
    bank_client.close()

    # then
    timeouts = route.calls.last.request.extensions["timeout"]
    assert timeouts == {"connect": 1.5, "read": 4.0, "write": 4.0, "pool": 1.5}


def test_submit_payout_replayed_returns_the_same_payout_twice(
    bank: respx.MockRouter, client: BankClient
) -> None:
    # given a bank that answers a replay with its first answer
    route = bank.post("/payouts").respond(202, json=payout_json())

    # when
    first = client.submit_payout(SUBMISSION)
    second = client.submit_payout(SUBMISSION)

    # then both calls carried the same key and body, and got the same payout
    assert first == second == EXPECTED_PAYOUT
    assert route.call_count == 2
    first_request, second_request = (call.request for call in route.calls)
    assert first_request.headers["Idempotency-Key"] == second_request.headers["Idempotency-Key"] == REFERENCE
    assert first_request.content == second_request.content


@pytest.mark.parametrize("code", ["invalid_account", "invalid_currency"])
def test_submit_payout_refused_with_code_raises_rejected(
    bank: respx.MockRouter, client: BankClient, code: str
) -> None:
    # given
    bank.post("/payouts").respond(422, json=error_json(code, "the bank refused it"))

    # when
    with pytest.raises(ProviderRejectedError) as caught:
        client.submit_payout(SUBMISSION)

    # then
    assert caught.value.code == code
    assert caught.value.message == "the bank refused it"


def test_submit_payout_invalid_request_raises_rejected(bank: respx.MockRouter, client: BankClient) -> None:
    # given
    bank.post("/payouts").respond(400, json=error_json("invalid_request", "amount is missing"))

    # when
    with pytest.raises(ProviderRejectedError) as caught:
        client.submit_payout(SUBMISSION)

    # then
    assert caught.value.code == "invalid_request"


@pytest.mark.parametrize("status", [401, 403])
def test_submit_payout_credentials_refused_is_transient(
    bank: respx.MockRouter, client: BankClient, status: int
) -> None:
    # given
    bank.post("/payouts").respond(status, json=error_json("unauthorized", "bad token"))

    # when
    with pytest.raises(ProviderTransientError) as caught:
        client.submit_payout(SUBMISSION)

    # then the payout is not refused: an operator fixes the token and the retry goes through
    assert f"-> {status}" in caught.value.message
    assert caught.value.retry_after is None


def test_submit_payout_idempotency_key_reused_is_transient(
    bank: respx.MockRouter, client: BankClient
) -> None:
    # given
    bank.post("/payouts").respond(409, json=error_json("idempotency_key_reused", "different body"))

    # when
    with pytest.raises(ProviderTransientError) as caught:
        client.submit_payout(SUBMISSION)

    # then it is left for the reconciler, never a rejection
    assert not isinstance(caught.value, ProviderRejectedError)
    assert "idempotency_key_reused" in caught.value.message


@pytest.mark.parametrize(
    ("status", "retry_after_header", "retry_after"),
    [(500, None, None), (502, None, None), (503, "30", 30.0), (429, "7", 7.0), (429, "1.5", 1.5)],
)
def test_submit_payout_throttled_or_server_error_is_transient_with_retry_after(
    bank: respx.MockRouter,
    client: BankClient,
    status: int,
    retry_after_header: str | None,
    retry_after: float | None,
) -> None:
    # given
    headers = {"Retry-After": retry_after_header} if retry_after_header else {}
    bank.post("/payouts").respond(status, headers=headers, text="<html>busy</html>")

    # when
    with pytest.raises(ProviderTransientError) as caught:
        client.submit_payout(SUBMISSION)

    # then
    assert caught.value.retry_after == retry_after
    assert f"-> {status}" in caught.value.message


@pytest.mark.parametrize("header", ["Wed, 21 Oct 2026 07:28:00 GMT", "soon", "-3", "nan", "inf", ""])
def test_submit_payout_unusable_retry_after_is_ignored(
    bank: respx.MockRouter, client: BankClient, header: str
) -> None:
    # given
    bank.post("/payouts").respond(429, headers={"Retry-After": header}, json=error_json("rate_limited"))

    # when
    with pytest.raises(ProviderTransientError) as caught:
        client.submit_payout(SUBMISSION)

    # then
    assert caught.value.retry_after is None


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectTimeout("connect timed out"),
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectError("connection refused"),
        httpx.RemoteProtocolError("server disconnected"),
    ],
    ids=["connect-timeout", "read-timeout", "connection-error", "disconnected"],
)
def test_submit_payout_network_failure_is_transient(
    bank: respx.MockRouter, client: BankClient, failure: httpx.TransportError
) -> None:
    # given
    bank.post("/payouts").mock(side_effect=failure)

    # when
    with pytest.raises(ProviderTransientError) as caught:
        client.submit_payout(SUBMISSION)

    # then the outcome is unknown, and the cause is kept for the logs
    assert caught.value.__cause__ is failure
    assert caught.value.retry_after is None


@pytest.mark.parametrize(
    "body",
    [b"not json {", b"", b"\xff\xfe garbage", b'{"id": "bp_1", '],
    ids=["garbage", "empty", "not-utf8", "truncated"],
)
def test_submit_payout_malformed_json_is_transient(
    bank: respx.MockRouter, client: BankClient, body: bytes
) -> None:
    # given
    bank.post("/payouts").respond(202, content=body, headers={"Content-Type": "application/json"})

    # when / then
    with pytest.raises(ProviderTransientError, match="malformed response"):
        client.submit_payout(SUBMISSION)


@pytest.mark.parametrize(
    "body",
    [
        {key: value for key, value in payout_json().items() if key != "id"},
        {key: value for key, value in payout_json().items() if key != "failure_code"},
        payout_json(amount="10050"),
        payout_json(amount=True),
        payout_json(status="settled"),
        payout_json(currency=None),
        payout_json(failure_reason=42),
        [payout_json()],
    ],
    ids=[
        "missing-id",
        "missing-failure-code",
        "amount-string",
        "amount-bool",
        "unknown-status",
        "null-currency",
        "failure-reason-int",
        "not-an-object",
    ],
)
def test_submit_payout_accepted_with_incomplete_payout_is_transient(
    bank: respx.MockRouter, client: BankClient, body: Any
) -> None:
    # given
    bank.post("/payouts").respond(202, json=body)

    # when
    with pytest.raises(ProviderTransientError, match="malformed response") as caught:
        client.submit_payout(SUBMISSION)

    # then the outcome is unknown: never a rejection
    assert not isinstance(caught.value, ProviderRejectedError)


def test_submit_payout_answer_for_another_reference_is_transient(
    bank: respx.MockRouter, client: BankClient
) -> None:
    # given
    bank.post("/payouts").respond(202, json=payout_json(reference="someone-else"))

    # when / then
    with pytest.raises(ProviderTransientError, match=r"malformed response.*someone-else"):
        client.submit_payout(SUBMISSION)


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(404, text="<html>Not Found</html>"),
        httpx.Response(302, headers={"Location": "/login"}),
        httpx.Response(422, text="Unprocessable"),
    ],
    ids=["proxy-404", "redirect", "422-without-envelope"],
)
def test_submit_payout_answer_outside_the_contract_is_transient(
    bank: respx.MockRouter, client: BankClient, response: httpx.Response
) -> None:
    # given
    bank.post("/payouts").mock(return_value=response)

    # when / then: only the bank's own error envelope is a definite refusal
    with pytest.raises(ProviderTransientError):
        client.submit_payout(SUBMISSION)


# Look-ups


def test_lookup_parses_the_failure_and_sends_no_idempotency_key(
    bank: respx.MockRouter, client: BankClient
) -> None:
    # given
    body = payout_json(status="failed", failure_code="account_closed", failure_reason="closed in March")
    route = bank.get(f"/payouts/by-reference/{REFERENCE}").respond(200, json=body)

    # when
    payout = client.find_payout_by_reference(REFERENCE)

    # then
    assert payout is not None
    assert payout.status is BankPayoutStatus.FAILED
    assert payout.failure_code == "account_closed"
    assert payout.failure_reason == "closed in March"
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Idempotency-Key" not in route.calls.last.request.headers


def test_lookup_404_without_bank_error_body_is_transient_not_unknown(
    bank: respx.MockRouter, client: BankClient
) -> None:
    # given a 404 from something in front of the bank (a wrong base URL, a proxy)
    bank.get(f"/payouts/by-reference/{REFERENCE}").respond(404, text="<html>Not Found</html>")

    # when
    with pytest.raises(ProviderTransientError) as caught:
        client.find_payout_by_reference(REFERENCE)

    # then
    assert not isinstance(caught.value, ProviderNotFoundError)


def test_find_payout_by_reference_accepted_returns_payout(bank: respx.MockRouter, client: BankClient) -> None:
    # given
    bank.get(f"/payouts/by-reference/{REFERENCE}").respond(200, json=payout_json(status="paid"))

    # when
    payout = client.find_payout_by_reference(REFERENCE)

    # then
    assert payout is not None
    assert payout.id == BANK_ID
    assert payout.status is BankPayoutStatus.PAID


def test_find_payout_by_reference_never_accepted_returns_none(
    bank: respx.MockRouter, client: BankClient
) -> None:
    # given
    route = bank.get(f"/payouts/by-reference/{REFERENCE}").respond(404, json=error_json("not_found"))

    # when
    payout = client.find_payout_by_reference(REFERENCE)

    # then
    assert payout is None
    assert route.called


def test_find_payout_by_reference_quotes_the_path_segment(bank: respx.MockRouter, client: BankClient) -> None:
    # given a reference that would otherwise change the path or the query
    route = bank.get(url__startswith=f"{BASE_URL}/payouts/by-reference/").respond(
        404, json=error_json("not_found")
    )

    # when
    client.find_payout_by_reference("a/b?c#d e")

    # then
    assert route.calls.last.request.url.raw_path == b"/fake-bank/api/payouts/by-reference/a%2Fb%3Fc%23d%20e"


@pytest.mark.parametrize("segment", ["", ".", ".."])
def test_dot_or_empty_path_segment_is_refused_before_sending(client: BankClient, segment: str) -> None:
    # given / when / then: refused before sending (a request would end in a transient error instead)
    with pytest.raises(ValueError, match="not a usable path segment"):
        client.find_payout_by_reference(segment)
    with pytest.raises(ValueError, match="not a usable path segment"):
        client.cancel_payout(segment)


# Cancel


def test_cancel_payout_not_executed_returns_canceled_payout(
    bank: respx.MockRouter, client: BankClient
) -> None:
    # given
    route = bank.post(f"/payouts/{BANK_ID}/cancel").respond(200, json=payout_json(status="canceled"))

    # when
    payout = client.cancel_payout(BANK_ID)

    # then
    assert payout.status is BankPayoutStatus.CANCELED
    request = route.calls.last.request
    assert request.headers["Idempotency-Key"] == f"cancel-{BANK_ID}"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.content == b""


def test_cancel_payout_already_executed_raises_cancel_refused(
    bank: respx.MockRouter, client: BankClient
) -> None:
    # given
    bank.post(f"/payouts/{BANK_ID}/cancel").respond(409, json=error_json("already_executed", "too late"))

    # when
    with pytest.raises(ProviderCancelRefusedError) as caught:
        client.cancel_payout(BANK_ID)

    # then
    assert caught.value.code == "already_executed"
    assert caught.value.message == "too late"


def test_cancel_payout_other_conflict_is_transient(bank: respx.MockRouter, client: BankClient) -> None:
    # given
    bank.post(f"/payouts/{BANK_ID}/cancel").respond(409, json=error_json("idempotency_key_reused"))

    # when / then
    with pytest.raises(ProviderTransientError, match="idempotency_key_reused"):
        client.cancel_payout(BANK_ID)


def test_cancel_payout_unknown_id_raises_not_found(bank: respx.MockRouter, client: BankClient) -> None:
    # given
    bank.post("/payouts/bp_missing/cancel").respond(404, json=error_json("not_found", "no such payout"))

    # when
    with pytest.raises(ProviderNotFoundError) as caught:
        client.cancel_payout("bp_missing")

    # then
    assert caught.value.code == "not_found"


# Errors


@pytest.mark.parametrize(
    "error",
    [
        ProviderTransientError("GET /payouts/bp_1 -> 503", retry_after=30.0),
        ProviderRejectedError("invalid_account", "no such account"),
        ProviderNotFoundError("not_found", "no such payout"),
        ProviderCancelRefusedError("already_executed", "too late"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_provider_error_survives_pickling_with_its_fields(error: ProviderError) -> None:
    # given an error a Celery task raises (the parameter)
    # when Celery serialises it
    restored = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)

    # then
    assert type(restored) is type(error)
    assert vars(restored) == vars(error)
    assert str(restored) == str(error)
