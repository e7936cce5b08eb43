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


class SettlementNotPermitted(DomainError):
    code = "settlement_not_permitted"
    http_status = 403


class BankDisagrees(DomainError):
    code = "bank_disagrees"
    http_status = 409


class PayoutNotEditable(DomainError):
    code = "payout_not_editable"
    http_status = 409


class CancelPending(DomainError):
    code = "cancel_pending"
    http_status = 409


class BankUnavailable(DomainError):
    code = "bank_unavailable"
    http_status = 503


class InsufficientFunds(DomainError):
    code = "insufficient_funds"
    http_status = 422


# The human message of every `validation_error`, whichever side of the API found it.
VALIDATION_MESSAGE = "The request is not valid; see details."


class InvalidField(DomainError):
    """A request that breaks a business rule about one of its fields (`field`). It renders exactly as a
    field the API could not parse: 400, `validation_error`, details `{field: [reason]}`, so a caller
    cannot tell on which side of the API a rule lives."""

    code = "validation_error"
    http_status = 400
    field = ""

    def __init__(self, reason: str) -> None:
        super().__init__(VALIDATION_MESSAGE, details={self.field: [reason]})
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class ReasonRequired(InvalidField):
    """A forced manual failure without a reason."""

    field = "reason"


class CurrencyNotAllowed(InvalidField):
    """The currency is not one of `settings.PAYOUT_CURRENCIES`."""

    field = "currency"


class AmountNotAllowed(InvalidField):
    """The amount is not positive, finer than its currency allows, or above the maximum."""

    field = "amount"


class StatusNotAllowed(InvalidField):
    """The caller may not ask for this status (a client may only cancel)."""

    field = "status"


class EndpointUrlRefused(InvalidField):
    """A webhook endpoint URL that may not receive webhooks (its shape, or where it points)."""

    field = "url"


class EventTypesNotAllowed(InvalidField):
    """A webhook endpoint's `enabled_events` names a type there is not, or is empty."""

    field = "enabled_events"


class EndpointLimitReached(DomainError):
    code = "endpoint_limit_reached"
    http_status = 409
