"""The bank's HTTP API as the payout service calls it; the contract is docs/bank-api.md."""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from provider.errors import (
    ProviderAnswerError,
    ProviderCancelRefusedError,
    ProviderNotFoundError,
    ProviderRejectedError,
    ProviderTransientError,
)
from provider.events import IncomingTransfer
from provider.types import BankPayout, PayoutSubmission, required_field

USER_AGENT = "payout-service-bank-client/1.0"


@dataclass(frozen=True, slots=True)
class ListedTransfer:
    """An incoming transfer as the bank lists it: the operation that announced it, and the money."""

    operation_id: str
    transfer: IncomingTransfer


@dataclass(frozen=True, slots=True)
class IncomingTransferPage:
    transfers: list[ListedTransfer]
    next_cursor: str | None  # where the next page starts (the last transfer listed); None: no change
    has_more: bool


# The bank's definite answers per call: (status, error code or None for any code) -> error. Only an
# answer in the bank's own error envelope counts; anything else (a proxy's 404 page, a 409 we do not
# know) leaves the outcome unknown and is transient.
_Answers = Mapping[tuple[int, str | None], type[ProviderAnswerError]]
_SUBMIT_ANSWERS: _Answers = {(400, None): ProviderRejectedError, (422, None): ProviderRejectedError}
_LOOKUP_ANSWERS: _Answers = {(404, "not_found"): ProviderNotFoundError}
_CANCEL_ANSWERS: _Answers = {**_LOOKUP_ANSWERS, (409, "already_executed"): ProviderCancelRefusedError}


class BankClient:
    """A pooled HTTP client for the bank. Create one per process, after any fork (a Celery prefork
    child must not reuse its parent's connections), and ``close()`` it when done.

    Every method returns the bank's payout object or raises a ``provider.errors.ProviderError``:
    ``ProviderTransientError`` whenever the outcome is unknown, a ``ProviderAnswerError`` subclass
    when the bank gave a definite answer. Writes carry an idempotency key, so any call may be repeated.
    """

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url,
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(
                connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
            ),
            # Retries only failed connection attempts: those requests never reached the bank.
            transport=transport or httpx.HTTPTransport(retries=2),
        )

    def submit_payout(self, submission: PayoutSubmission) -> BankPayout:
        """Submit a payout under its reference as the idempotency key; a repeat returns the first answer.

        Raises ``ProviderRejectedError`` on a permanent refusal (400, 422), ``ProviderTransientError``
        otherwise.
        """
        payout = self._request(
            "POST",
            "/payouts",
            answers=_SUBMIT_ANSWERS,
            idempotency_key=submission.reference,
            body=submission.to_json(),
        )
        return _expect(payout, reference=submission.reference)

    def find_payout_by_reference(self, reference: str) -> BankPayout | None:
        """The payout the bank accepted under our reference, or None when it never accepted one."""
        path = f"/payouts/by-reference/{_segment(reference)}"
        try:
            payout = self._request("GET", path, answers=_LOOKUP_ANSWERS)
        except ProviderNotFoundError:
            return None
        return _expect(payout, reference=reference)

    def list_incoming_transfers(self, *, after: str | None, limit: int = 100) -> IncomingTransferPage:
        """Incoming transfers the bank received after the cursor AFTER (None: from the first),
        oldest first, at most LIMIT, with the cursor to pass next and whether more follow."""
        params = f"?limit={limit}" + (f"&after={quote(after, safe='')}" if after else "")
        body = self._send("GET", f"/incoming-transfers{params}", answers={})
        try:
            items = body["data"]
            next_cursor = body.get("next_cursor")
            has_more = body["has_more"]
            if not isinstance(items, list) or not (next_cursor is None or isinstance(next_cursor, str)):
                raise TypeError("data must be a list, next_cursor a string or null")
            if not isinstance(has_more, bool):
                raise TypeError("has_more must be a boolean")
            transfers = [
                ListedTransfer(
                    operation_id=required_field(item, "operation_id", str),
                    transfer=IncomingTransfer.from_json(item),
                )
                for item in items
            ]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProviderTransientError(f"malformed response: GET /incoming-transfers: {exc}") from exc
        return IncomingTransferPage(transfers=transfers, next_cursor=next_cursor, has_more=has_more)

    def cancel_payout(self, bank_id: str) -> BankPayout:
        """Cancel a payout the bank has not executed yet; repeating it is safe.

        Raises ``ProviderCancelRefusedError`` once the payout is executed, ``ProviderNotFoundError``
        for an unknown id.
        """
        payout = self._request(
            "POST",
            f"/payouts/{_segment(bank_id)}/cancel",
            answers=_CANCEL_ANSWERS,
            idempotency_key=f"cancel-{bank_id}",
        )
        return _expect(payout, bank_id=bank_id)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _request(
        self,
        method: str,
        path: str,
        *,
        answers: _Answers,
        idempotency_key: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> BankPayout:
        answer = self._send(method, path, answers=answers, idempotency_key=idempotency_key, body=body)
        try:
            return BankPayout.from_json(answer)
        except ValueError as exc:
            raise ProviderTransientError(f"malformed response: {method} {path}: {exc}") from exc

    def _send(
        self,
        method: str,
        path: str,
        *,
        answers: _Answers,
        idempotency_key: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        """The bank's JSON answer to a successful call; its definite refusals as ANSWERS says, and
        anything else (timeouts, 5xx, 429, a body that is not JSON) as `ProviderTransientError`."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else {}
        try:
            response = self._http.request(method, path, headers=headers, json=body)
        except httpx.TimeoutException as exc:
            raise ProviderTransientError(f"{method} {path}: timed out ({type(exc).__name__})") from exc
        except httpx.RequestError as exc:
            raise ProviderTransientError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc

        where = f"{method} {path} -> {response.status_code}"
        if response.is_success:
            try:
                return response.json()
            except ValueError as exc:  # a body that is not JSON (JSONDecodeError, UnicodeDecodeError)
                raise ProviderTransientError(f"malformed response: {where}: {exc}") from exc

        error = _error_envelope(response)
        if error is not None:
            code, message = error
            answer = answers.get((response.status_code, code)) or answers.get((response.status_code, None))
            if answer is not None:
                raise answer(code, message)
        throttled = response.status_code == 429 or response.status_code >= 500
        raise ProviderTransientError(
            f"{where}: {error or response.text[:200]!r}",
            retry_after=_retry_after(response) if throttled else None,
        )


def _segment(value: str) -> str:
    # "/" is quoted too; "." and ".." would be resolved away by URL normalisation and hit another path.
    if value in ("", ".", ".."):
        raise ValueError(f"not a usable path segment: {value!r}")
    return quote(value, safe="")


def _expect(payout: BankPayout, *, bank_id: str | None = None, reference: str | None = None) -> BankPayout:
    # Storing another payout's id would be worse than not knowing: treat a mismatch as a bad answer.
    if (bank_id is not None and payout.id != bank_id) or (
        reference is not None and payout.reference != reference
    ):
        raise ProviderTransientError(
            f"malformed response: expected payout {bank_id or reference!r}, "
            f"got id={payout.id!r} reference={payout.reference!r}"
        )
    return payout


def _error_envelope(response: httpx.Response) -> tuple[str, str] | None:
    """The bank's ``{"error": {"code", "message"}}``, or None when the body is something else."""
    try:
        error = response.json()["error"]
        code, message = error["code"], error["message"]
    except (ValueError, TypeError, KeyError):
        return None
    return (code, message) if isinstance(code, str) and isinstance(message, str) else None


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds; an HTTP date or garbage is ignored."""
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
