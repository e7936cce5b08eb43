"""Parsing and rendering of payouts: JSON shapes and types only (a decimal-string amount, a recipient
given as an IBAN or as an account with its BIC, no unknown or immutable fields). The business rules
(the allowed currencies, the amount's limits and places, who may ask for which status) live in
`payouts.services`."""

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from payouts.models import Payout, PayoutEvent, PayoutStatus
from payouts.money import AMOUNT_DECIMAL_PLACES
from payouts.recipients import normalize_iban, validate_bic, validate_ru_account
from payouts.rendering import EVENT_FIELDS, PAYOUT_FIELDS
from payouts.services import PayoutRequest

# ASCII digits only (`\d` would take Arabic-Indic digits for 10), the whole string (`$` would
# allow a trailing newline).
_DECIMAL_STRING = re.compile(r"[0-9]+(\.[0-9]+)?")
IMMUTABLE_FIELDS = ("amount", "currency", "recipient")


@extend_schema_field(OpenApiTypes.STR)
class AmountField(serializers.Field[Decimal, Any, str, Any]):
    """A decimal string ("100.50") or a JSON integer (100). Fractional JSON numbers are refused:
    they arrive as binary floats and may already have lost a cent."""

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool | float):
            raise serializers.ValidationError(
                'Send the amount as a decimal string ("100.50") or an integer, never a fractional number.'
            )
        if isinstance(data, int):
            data = str(data)
        if not isinstance(data, str) or not _DECIMAL_STRING.fullmatch(data):
            raise serializers.ValidationError('Enter the amount as a decimal string such as "100.50".')
        try:
            return Decimal(data)
        except InvalidOperation:
            raise serializers.ValidationError("Enter a valid amount.") from None

    def to_representation(self, value: Decimal) -> str:
        return str(value)


class TextField(serializers.CharField):
    """A JSON string, and nothing DRF's CharField would coerce into one (a number, a boolean), of
    printable characters only (no NUL, no control or escape characters, no line breaks)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("Send a JSON string.")
        if not data.isprintable():
            raise serializers.ValidationError(
                "Only printable characters are allowed (no control characters)."
            )
        value: str = super().to_internal_value(data)
        return value


class StrictSerializer(serializers.Serializer[Any]):
    """Refuses fields it does not know: a typo must not be silently ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({field: ["Unknown field."] for field in unknown})
        return super().to_internal_value(data)


class RecipientSerializer(StrictSerializer):
    name = TextField(min_length=1, max_length=140, trim_whitespace=True)
    account_number = TextField(required=False, help_text="20 digits; requires `bic`.")
    bic = TextField(required=False, help_text="9-digit Bank of Russia BIC.")
    iban = TextField(required=False, help_text="An IBAN, instead of account_number + bic.")

    def validate_name(self, value: str) -> str:
        if not value.isprintable():
            raise serializers.ValidationError("The name must contain printable characters only.")
        return value

    def validate(self, attrs: dict[str, str]) -> dict[str, str]:
        has_iban = "iban" in attrs
        has_account = "account_number" in attrs or "bic" in attrs
        if has_iban and has_account:
            raise serializers.ValidationError(
                {"iban": ["Give either iban, or account_number with bic; not both."]}
            )
        if has_iban:
            try:
                return {"name": attrs["name"], "iban": normalize_iban(attrs["iban"])}
            except ValueError as exc:
                raise serializers.ValidationError({"iban": [str(exc)]}) from None
        if "account_number" not in attrs or "bic" not in attrs:
            missing = "bic" if "account_number" in attrs else "account_number"
            raise serializers.ValidationError({missing: ["Give iban, or account_number together with bic."]})
        try:
            validate_bic(attrs["bic"])
        except ValueError as exc:
            raise serializers.ValidationError({"bic": [str(exc)]}) from None
        try:
            validate_ru_account(attrs["account_number"], attrs["bic"])
        except ValueError as exc:
            raise serializers.ValidationError({"account_number": [str(exc)]}) from None
        return {"name": attrs["name"], "account_number": attrs["account_number"], "bic": attrs["bic"]}


class PayoutCreateSerializer(StrictSerializer):
    amount = AmountField(help_text='Decimal string, e.g. "100.50" (or a JSON integer).')
    currency = TextField(help_text="ISO 4217 code from the configured set.")
    recipient = RecipientSerializer()
    description = TextField(required=False, allow_blank=True, max_length=500, default="")

    def to_request(self) -> PayoutRequest:
        data = self.validated_data
        return PayoutRequest(
            amount=data["amount"],
            currency=data["currency"],
            recipient=dict(data["recipient"]),
            description=data.get("description", ""),
        )


class PayoutUpdateSerializer(StrictSerializer):
    status = serializers.ChoiceField(
        choices=[PayoutStatus.CANCELED, PayoutStatus.PAID, PayoutStatus.FAILED],
        required=False,
        help_text="Clients may ask for `canceled`; operators also for `paid` or `failed`.",
    )
    description = TextField(required=False, allow_blank=True, max_length=500)
    reason = TextField(required=False, allow_blank=True, max_length=500, default="")
    failure_code = TextField(required=False, max_length=64, help_text="Operators, with `failed`.")
    force = serializers.BooleanField(
        required=False,
        default=False,
        help_text=(
            "Operators, with `failed` on a payout in flight that the bank does not report failed: "
            "release its funds anyway. Needs a `reason`, which the event records."
        ),
    )

    def to_internal_value(self, data: Any) -> Any:
        immutable = [field for field in IMMUTABLE_FIELDS if isinstance(data, Mapping) and field in data]
        if immutable:
            raise serializers.ValidationError(
                {field: ["This field cannot be changed after the payout is created."] for field in immutable}
            )
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "status" not in attrs and "description" not in attrs:
            raise serializers.ValidationError({"non_field_errors": ["Send `status` and/or `description`."]})
        return attrs


def _timestamp(value: datetime | None) -> str | None:
    """As DRF renders a datetime with USE_TZ in UTC: ISO 8601, `Z` for UTC."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class PayoutEventSerializer(serializers.ModelSerializer[PayoutEvent]):
    class Meta:
        model = PayoutEvent
        fields = list(EVENT_FIELDS)


class PayoutListItemSerializer(serializers.ModelSerializer[Payout]):
    """A payout in a list page: everything but its event history (that is the detail's)."""

    amount = AmountField()
    recipient = serializers.DictField(child=serializers.CharField())

    class Meta:
        model = Payout
        fields = list(PAYOUT_FIELDS)
        read_only_fields = fields


class PayoutSerializer(PayoutListItemSerializer):
    """A payout with its event history, oldest first: the detail, the create and the PATCH answer."""

    events = PayoutEventSerializer(many=True, read_only=True)

    class Meta(PayoutListItemSerializer.Meta):
        fields = [*PAYOUT_FIELDS, "events"]
        read_only_fields = fields

    def to_representation(self, instance: Payout) -> dict[str, Any]:
        """The same JSON as the declared fields render (a test holds the two equal), built directly:
        DRF's field-by-field rendering was most of a list page's time."""
        return render_payout(
            {name: getattr(instance, name) for name in PAYOUT_FIELDS},
            [{name: getattr(event, name) for name in EVENT_FIELDS} for event in instance.events.all()],
        )


AMOUNT_QUANTUM = Decimal(1).scaleb(-AMOUNT_DECIMAL_PLACES)


def render_payout(
    payout: Mapping[str, Any], events: Iterable[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """A payout as the API shows it, from its `PAYOUT_FIELDS` and, for the detail, its events'
    `EVENT_FIELDS` (model attributes or rows of a `values()` query alike). Without EVENTS (a list
    page) there is no `events` key."""
    rendered = {
        "id": str(payout["id"]),
        # As the column holds it (two places), whether read back or still in hand after a create.
        "amount": str(payout["amount"].quantize(AMOUNT_QUANTUM)),
        "currency": payout["currency"],
        "recipient": {key: str(value) for key, value in payout["recipient"].items()},
        "description": payout["description"],
        "status": payout["status"],
        "failure_code": payout["failure_code"],
        "failure_reason": payout["failure_reason"],
        "bank_reference": payout["bank_reference"],
        "created_at": _timestamp(payout["created_at"]),
        "updated_at": _timestamp(payout["updated_at"]),
        "processing_at": _timestamp(payout["processing_at"]),
        "submitted_at": _timestamp(payout["submitted_at"]),
        "paid_at": _timestamp(payout["paid_at"]),
        "failed_at": _timestamp(payout["failed_at"]),
        "canceled_at": _timestamp(payout["canceled_at"]),
    }
    if events is not None:
        rendered["events"] = [
            {
                "from_status": event["from_status"],
                "to_status": event["to_status"],
                "actor": event["actor"],
                "reason": event["reason"],
                "created_at": _timestamp(event["created_at"]),
            }
            for event in events
        ]
    return rendered
