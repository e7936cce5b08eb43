"""Domain errors. Each carries the stable `code` and HTTP status the API renders it with, through
the one exception handler in `payouts.api.errors`."""

from typing import Any


class DomainError(Exception):
    code = "domain_error"
    http_status = 400

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class InvalidTransition(DomainError):
    code = "invalid_transition"
    http_status = 409

    def __init__(self, *, current: str, requested: str) -> None:
        super().__init__(
            f"A payout in status '{current}' cannot move to '{requested}'.",
            details={"current_status": current, "requested_status": requested},
        )
        self.current = current
        self.requested = requested


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    http_status = 409


class PayoutInFlight(DomainError):
    code = "payout_in_flight"
    http_status = 409


class CancelRefusedByBank(DomainError):
    code = "cancel_refused"
    http_status = 409


class BankUnavailable(DomainError):
    code = "bank_unavailable"
    http_status = 503


class InsufficientFunds(DomainError):
    code = "insufficient_funds"
    http_status = 422
