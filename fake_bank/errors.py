"""The simulated bank's typed errors. Each carries the machine code and HTTP status the API renders."""


class BankError(Exception):
    """An answer the bank gives instead of doing what was asked."""

    code: str = "bank_error"
    http_status: int = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidRequestError(BankError):
    """The request does not parse or misses a field: nothing was done."""

    code = "invalid_request"
    http_status = 400


class NotFoundError(BankError):
    code = "not_found"
    http_status = 404


class PayoutRefusedError(BankError):
    """A permanent refusal at submission (``invalid_account``, ``invalid_currency``): no payout exists."""

    http_status = 422


class PayoutAlreadyExecutedError(BankError):
    """The payout is ``paid`` or ``failed``: too late to cancel it."""

    code = "already_executed"
    http_status = 409


class PayoutStateError(BankError):
    """A person asked for a move the payout's status does not allow (pay a canceled payout...)."""

    code = "invalid_state"
    http_status = 409


class DuplicateReferenceError(BankError):
    """Another idempotency key already submitted a payout with this reference."""

    code = "duplicate_reference"
    http_status = 409


class IdempotencyKeyReusedError(BankError):
    """The same ``Idempotency-Key`` came with another request."""

    code = "idempotency_key_reused"
    http_status = 409
