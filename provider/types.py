"""What goes to the bank and what comes back, as frozen dataclasses (see docs/bank-api.md)."""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self, TypeVar

_T = TypeVar("_T")


class BankPayoutStatus(StrEnum):
    PROCESSING = "processing"
    PAID = "paid"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_final(self) -> bool:
        return self is not BankPayoutStatus.PROCESSING


@dataclass(frozen=True, slots=True)
class Recipient:
    """Either a Russian account (``account_number`` + ``bic``) or an ``iban``.

    Empty strings count as absent, so a model's blank ``CharField`` can be passed as it is.
    """

    name: str
    account_number: str | None = None
    bic: str | None = None
    iban: str | None = None

    def __post_init__(self) -> None:
        iban_only = bool(self.iban) and not (self.account_number or self.bic)
        account_only = bool(self.account_number and self.bic) and not self.iban
        if not (iban_only or account_only):
            raise ValueError("a recipient has either account_number and bic, or an iban")

    def to_json(self) -> dict[str, str]:
        if self.iban:
            return {"name": self.name, "iban": self.iban}
        # Both are set: __post_init__ guarantees it.
        assert self.account_number
        assert self.bic
        return {"name": self.name, "account_number": self.account_number, "bic": self.bic}


@dataclass(frozen=True, slots=True)
class PayoutSubmission:
    """One payout as sent to the bank; ``reference`` (our payout id) is also the idempotency key."""

    reference: str
    amount_minor: int
    currency: str
    recipient: Recipient
    description: str
    # The sender's batch the payout came in (ISO 20022's payment information id), when it did.
    batch_reference: str = ""

    def to_json(self) -> dict[str, Any]:
        body = {
            "reference": self.reference,
            "amount": self.amount_minor,
            "currency": self.currency,
            "recipient": self.recipient.to_json(),
            "description": self.description,
        }
        if self.batch_reference:
            body["batch_reference"] = self.batch_reference
        return body


@dataclass(frozen=True, slots=True)
class BankPayout:
    """The bank's payout object, reduced to what the service acts on."""

    id: str
    reference: str
    status: BankPayoutStatus
    amount_minor: int
    currency: str
    failure_code: str | None
    failure_reason: str | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Parse the bank's payout object strictly; raise ``ValueError`` on a missing or ill-typed field.

        The bank client turns that ``ValueError`` into ``ProviderTransientError`` (the outcome of the
        call is unknown); the webhook receiver can turn it into a 400.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"payout object is not a JSON object: {type(data).__name__}")
        status = required_field(data, "status", str)
        try:
            known_status = BankPayoutStatus(status)
        except ValueError:
            raise ValueError(f"payout object has an unknown status: {status!r}") from None
        return cls(
            id=required_field(data, "id", str),
            reference=required_field(data, "reference", str),
            status=known_status,
            amount_minor=required_field(data, "amount", int),
            currency=required_field(data, "currency", str),
            failure_code=optional_field(data, "failure_code", str),
            failure_reason=optional_field(data, "failure_reason", str),
        )


def required_field(data: Mapping[str, object], key: str, kind: type[_T]) -> _T:
    """``data[key]``, which must be present, not null and of type ``kind``; ``ValueError`` otherwise."""
    value = optional_field(data, key, kind)
    if value is None:
        raise ValueError(f"{key!r} is null")
    return value


def optional_field(data: Mapping[str, object], key: str, kind: type[_T]) -> _T | None:
    """``data[key]``, which must be present and either null or of type ``kind``; ``ValueError`` otherwise."""
    if key not in data:
        raise ValueError(f"{key!r} is missing")
    value = data[key]
    # bool is a subclass of int, and true is not an amount.
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise ValueError(f"{key!r} is of type {type(value).__name__}")
    return value
