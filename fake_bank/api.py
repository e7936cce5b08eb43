"""The bank's HTTP API (docs/bank-api.md): parse, call one service, render. Plain Django views."""

import functools
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from fake_bank import bank_payouts, incoming_transfers, selectors
from fake_bank.errors import BankError, InvalidRequestError
from fake_bank.idempotency import Answer, idempotent_answer
from fake_bank.representations import error_json, payout_json, transfer_json

View = Callable[..., HttpResponse]

MAX_IDEMPOTENCY_KEY_LENGTH = 255
# The largest amount a BigIntegerField holds.
MAX_AMOUNT = 2**63 - 1
_CURRENCY = re.compile(r"[A-Z]{3}")
_INN = re.compile(r"[0-9]{10}|[0-9]{12}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def bank_endpoint(*methods: str) -> Callable[[View], View]:
    """Bearer auth (401), allowed methods (405), and the error envelope for every ``BankError``."""

    def decorate(view: View) -> View:
        @csrf_exempt
        @functools.wraps(view)
        def endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not _authorized(request):
                response = _error(401, "unauthorized", "missing or wrong bearer token")
                response["WWW-Authenticate"] = "Bearer"
                return response
            if request.method not in methods:
                response = _error(405, "method_not_allowed", f"use {' or '.join(methods)}")
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, *args, **kwargs)
            except BankError as exc:
                return _error(exc.http_status, exc.code, exc.message)

        return endpoint

    return decorate


# --- Views -----------------------------------------------------------------------------------


@bank_endpoint("POST")
def payout_submit(request: HttpRequest) -> HttpResponse:
    key = _idempotency_key(request, required=True)
    assert key is not None
    body = _json_body(request)
    submission = _payout_submission(body)

    def submit() -> Answer:
        payout = bank_payouts.bank_payout_submit(
            reference=submission.reference,
            amount=submission.amount,
            currency=submission.currency,
            recipient=submission.recipient,
            description=submission.description,
            batch_reference=submission.batch_reference,
        )
        return Answer(202, payout_json(payout))

    return _answer_response(
        idempotent_answer(key=key, request_path="POST /payouts", body=body, handler=submit)
    )


@bank_endpoint("GET")
def payout_detail(request: HttpRequest, payout_id: str) -> HttpResponse:
    return JsonResponse(payout_json(selectors.payout_get(payout_id=payout_id)))


@bank_endpoint("GET")
def payout_by_reference(request: HttpRequest, reference: str) -> HttpResponse:
    return JsonResponse(payout_json(selectors.payout_get_by_reference(reference=reference)))


@bank_endpoint("POST")
def payout_cancel(request: HttpRequest, payout_id: str) -> HttpResponse:
    key = _idempotency_key(request, required=False)

    def cancel() -> Answer:
        return Answer(200, payout_json(bank_payouts.bank_payout_cancel(payout_id=payout_id)))

    if key is None:
        return _answer_response(cancel())
    # The request has no body: its path is what the key stands for.
    path = f"POST /payouts/{payout_id}/cancel"
    return _answer_response(idempotent_answer(key=key, request_path=path, body=None, handler=cancel))


@bank_endpoint("GET", "POST")
def incoming_transfers_endpoint(request: HttpRequest) -> HttpResponse:
    """GET: the incoming transfers received after a cursor (what a webhook may have failed to
    announce). POST (simulator only): a payer sends money; the bank announces it."""
    if request.method == "GET":
        return _incoming_transfer_list(request)
    return _incoming_transfer_create(request)


MAX_LIST_LIMIT = 500


def _incoming_transfer_list(request: HttpRequest) -> HttpResponse:
    try:
        limit = int(request.GET.get("limit", "100"))
    except ValueError:
        raise InvalidRequestError("limit must be an integer") from None
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidRequestError(f"limit must be 1-{MAX_LIST_LIMIT}")
    after = request.GET.get("after") or None
    transfers = selectors.incoming_transfers_after(after=after, limit=limit)
    return JsonResponse(
        {
            "data": [transfer_json(transfer) for transfer in transfers],
            "next_cursor": transfers[-1].id if transfers else after,
            "has_more": len(transfers) == limit,
        }
    )


def _incoming_transfer_create(request: HttpRequest) -> HttpResponse:
    key = _idempotency_key(request, required=False)
    body = _json_body(request)
    transfer = _transfer_request(body)

    def create() -> Answer:
        created = incoming_transfers.incoming_transfer_create(
            payer_inn=transfer.payer_inn,
            amount=transfer.amount,
            currency=transfer.currency,
            document_number=transfer.document_number,
            document_date=transfer.document_date,
        )
        return Answer(201, transfer_json(created))

    if key is None:
        return _answer_response(create())
    return _answer_response(
        idempotent_answer(key=key, request_path="POST /incoming-transfers", body=body, handler=create)
    )


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return _error(404, "not_found", f"no such endpoint: {request.method} {request.path}")


# --- Parsing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PayoutSubmission:
    reference: str
    amount: int
    currency: str
    recipient: dict[str, str]
    description: str
    batch_reference: str


@dataclass(frozen=True, slots=True)
class TransferRequest:
    payer_inn: str
    amount: int
    currency: str
    document_number: str
    document_date: date


def _payout_submission(body: object) -> PayoutSubmission:
    fields = _object(body, "the body")
    description = fields.get("description", "")
    if not isinstance(description, str) or len(description) > 1000 or "\x00" in description:
        raise InvalidRequestError("description must be a string of at most 1000 characters, without NUL")
    return PayoutSubmission(
        reference=_text(fields, "reference", max_length=255),
        amount=_amount(fields),
        currency=_currency(fields),
        recipient=_recipient(fields.get("recipient")),
        description=description,
        batch_reference=_text(fields, "batch_reference", max_length=64)
        if "batch_reference" in fields
        else "",
    )


def _recipient(value: object) -> dict[str, str]:
    if value is None:
        raise InvalidRequestError("recipient is required")
    fields = _object(value, "recipient")
    recipient = {"name": _text(fields, "name", max_length=200, where="recipient.")}
    if "iban" in fields:
        if "account_number" in fields or "bic" in fields:
            raise InvalidRequestError("recipient has either an iban or an account_number and bic, not both")
        recipient["iban"] = _text(fields, "iban", max_length=34, where="recipient.")
        return recipient
    if "account_number" not in fields and "bic" not in fields:
        raise InvalidRequestError("recipient needs an account_number and bic, or an iban")
    recipient["account_number"] = _text(fields, "account_number", max_length=20, where="recipient.")
    recipient["bic"] = _text(fields, "bic", max_length=9, where="recipient.")
    return recipient


def _transfer_request(body: object) -> TransferRequest:
    fields = _object(body, "the body")
    payer_inn = _text(fields, "payer_inn", max_length=12)
    if not _INN.fullmatch(payer_inn):
        raise InvalidRequestError("payer_inn must be 10 or 12 digits")
    raw_date = _text(fields, "document_date", max_length=10)
    try:
        if not _ISO_DATE.fullmatch(raw_date):
            raise ValueError(raw_date)
        document_date = date.fromisoformat(raw_date)
    except ValueError:
        raise InvalidRequestError("document_date must be a date as YYYY-MM-DD") from None
    return TransferRequest(
        payer_inn=payer_inn,
        amount=_amount(fields),
        currency=_currency(fields),
        document_number=_text(fields, "document_number", max_length=64),
        document_date=document_date,
    )


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRequestError(f"{what} must be a JSON object")
    return value


def _text(fields: dict[str, Any], name: str, *, max_length: int, where: str = "") -> str:
    value = fields.get(name)
    if value is None:
        raise InvalidRequestError(f"{where}{name} is required")
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(f"{where}{name} must be a non-empty string")
    if not value.isprintable():
        raise InvalidRequestError(f"{where}{name} must be printable text (no control characters)")
    if len(value) > max_length:
        raise InvalidRequestError(f"{where}{name} must be at most {max_length} characters")
    return value


def _amount(fields: dict[str, Any]) -> int:
    value = fields.get("amount")
    if value is None:
        raise InvalidRequestError("amount is required")
    # bool is an int in Python; 100.5 or "100" are not integer minor units.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_AMOUNT:
        raise InvalidRequestError("amount must be an integer number of minor units greater than 0")
    return value


def _currency(fields: dict[str, Any]) -> str:
    value = fields.get("currency")
    if value is None:
        raise InvalidRequestError("currency is required")
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise InvalidRequestError("currency must be an ISO 4217 code such as RUB")
    return value


def _json_body(request: HttpRequest) -> object:
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequestError("the body must be JSON") from None


def _idempotency_key(request: HttpRequest, *, required: bool) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None or key == "":
        if required:
            raise InvalidRequestError("the Idempotency-Key header is required")
        return None
    if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise InvalidRequestError(f"Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY_LENGTH} characters")
    return key


def _authorized(request: HttpRequest) -> bool:
    expected: str = settings.FAKE_BANK_API_TOKEN
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


# --- Rendering -------------------------------------------------------------------------------


def _answer_response(answer: Answer) -> HttpResponse:
    response = JsonResponse(answer.body, status=answer.status)
    if answer.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def _error(status: int, code: str, message: str) -> HttpResponse:
    return JsonResponse(error_json(code, message), status=status)
