"""Parsing and rendering of payouts: JSON shapes and types only (a decimal-string amount, a recipient
given as an IBAN or as an account with its BIC, no unknown or immutable fields). The business rules
(the allowed currencies, the amount's limits and places, who may ask for which status) live in
`payouts.services`; the OpenAPI schema states them too (the extensions at the end of this module),
so that a client, or a fuzzer, can build a request that passes them."""

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import Direction, extend_schema_field
from rest_framework import serializers

from payouts.models import Payout, PayoutEvent, PayoutStatus
from payouts.money import AMOUNT_DECIMAL_PLACES, currency_exponent
from payouts.recipients import normalize_iban, validate_bic, validate_ru_account
from payouts.rendering import EVENT_FIELDS, PAYOUT_FIELDS, payout_fields, render_payout
from payouts.services import PayoutRequest

# ASCII digits only (`\d` would take Arabic-Indic digits for 10), the whole string (`$` would
# allow a trailing newline).
_DECIMAL_STRING = re.compile(r"[0-9]+(\.[0-9]+)?")
IMMUTABLE_FIELDS = ("amount", "currency", "recipient")


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


class CurrencyField(TextField):
    """A currency code: a `TextField` whose schema lists `settings.PAYOUT_CURRENCIES` (the service
    checks the code against them)."""


class StrictSerializer(serializers.Serializer[Any]):
    """Refuses fields it does not know: a typo must not be silently ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({field: ["Unknown field."] for field in unknown})
        return super().to_internal_value(data)


# The recipient's two shapes as the schema states them (the checks are `payouts.recipients`'): the
# name as `TextField` takes it; an account number passes the control-key check against its BIC.
_NO_CONTROL_CHARACTERS = r"^[^\u0000-\u001f\u007f-\u009f]+$"
_RECIPIENT_NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": 140,
    "pattern": _NO_CONTROL_CHARACTERS,
    "description": "Printable characters; surrounding spaces are trimmed.",
}
_ACCOUNT_NUMBER = {
    "type": "string",
    "pattern": "^[0-9]{20}$",
    "description": "20 ASCII digits that pass the Bank of Russia control-key check against `bic`.",
}
_BIC = {"type": "string", "pattern": "^04[0-9]{7}$", "description": "The bank's 9-digit Russian BIC."}
_IBAN = {
    "type": "string",
    "pattern": "^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$",
    "description": "A valid IBAN (its check digits and its country's format), compact.",
}


def _recipient_schema(*, iban_description: str) -> dict[str, Any]:
    return {
        "description": "Who is paid: an account number with its bank's BIC, or an IBAN.",
        "oneOf": [
            {
                "title": "Account and BIC",
                "type": "object",
                "properties": {"name": _RECIPIENT_NAME, "account_number": _ACCOUNT_NUMBER, "bic": _BIC},
                "required": ["name", "account_number", "bic"],
                "additionalProperties": False,
            },
            {
                "title": "IBAN",
                "type": "object",
                "properties": {"name": _RECIPIENT_NAME, "iban": {**_IBAN, "description": iban_description}},
                "required": ["name", "iban"],
                "additionalProperties": False,
            },
        ],
    }


@extend_schema_field(
    _recipient_schema(
        iban_description=f"{_IBAN['description']} Spaces are allowed and removed, lower case is upper-cased.",
    ),
    component_name="RecipientRequest",
)
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
    amount = AmountField(
        help_text='A decimal string ("100.50") or a JSON integer: positive, at most the configured '
        "maximum, no finer than the currency's minor unit."
    )
    currency = CurrencyField(help_text="ISO 4217 code from the configured set.")
    recipient = RecipientSerializer()
    description = TextField(required=False, allow_blank=True, max_length=500, default="")

    def to_request(self) -> PayoutRequest:
        return payout_request_from(self.validated_data)


def payout_request_from(data: Mapping[str, Any]) -> PayoutRequest:
    """The service's request from a `PayoutCreateSerializer`'s validated data."""
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


@extend_schema_field(_recipient_schema(iban_description=_IBAN["description"]), component_name="Recipient")
class RecipientField(serializers.DictField):
    """A payout's recipient as stored (a `DictField` of strings); its schema names the two shapes."""


class PayoutEventSerializer(serializers.ModelSerializer[PayoutEvent]):
    class Meta:
        model = PayoutEvent
        fields = list(EVENT_FIELDS)


class PayoutListItemSerializer(serializers.ModelSerializer[Payout]):
    """A payout in a list page: everything but its event history (that is the detail's)."""

    amount = AmountField()
    recipient = RecipientField(child=serializers.CharField())
    batch = serializers.UUIDField(
        source="batch_id", allow_null=True, help_text="The batch it came in, if any."
    )

    class Meta:
        model = Payout
        fields = [*(name for name in PAYOUT_FIELDS if name != "batch_id"), "batch"]
        read_only_fields = fields


class PayoutSerializer(PayoutListItemSerializer):
    """A payout with its event history, oldest first: the detail, the create and the PATCH answer."""

    events = PayoutEventSerializer(many=True, read_only=True)

    class Meta(PayoutListItemSerializer.Meta):
        fields = [*PayoutListItemSerializer.Meta.fields, "events"]
        read_only_fields = fields

    def to_representation(self, instance: Payout) -> dict[str, Any]:
        """The same JSON as the declared fields render (a test holds the two equal), built directly:
        DRF's field-by-field rendering was most of a list page's time."""
        return render_payout(
            payout_fields(instance),
            [{name: getattr(event, name) for name in EVENT_FIELDS} for event in instance.events.all()],
        )


# --- The schema of the rules -----------------------------------------------------------------
# drf-spectacular extensions, read when the schema is generated (so from the settings of the moment);
# they change no request's handling.


def payout_amount_places() -> int:
    """The most decimal places an amount may have in any configured currency."""
    return max(
        min(currency_exponent(currency), AMOUNT_DECIMAL_PLACES) for currency in settings.PAYOUT_CURRENCIES
    )


def _digits(least: int, most: int) -> str:
    """A regular expression for LEAST to MOST decimal digits."""
    if most == 0:
        return ""
    if least == most:
        return "[0-9]" if most == 1 else f"[0-9]{{{most}}}"
    return "[0-9]?" if (least, most) == (0, 1) else f"[0-9]{{{least},{most}}}"


def _integers_below(limit: int) -> list[str]:
    """Regular expressions that together match the integers from 1 to LIMIT - 1 (no leading zeros)."""
    text = str(limit)
    shorter = [f"[1-9]{_digits(0, len(text) - 2)}"] if len(text) > 1 else []
    same_length = [
        f"{text[:position]}[{low}-{int(digit) - 1}]{_digits(rest, rest)}"
        for position, digit in enumerate(text)
        for low, rest in [("1" if position == 0 else "0", len(text) - position - 1)]
        if int(digit) > int(low)
    ]
    return shorter + same_length


def payout_amount_pattern(*, places: int, maximum: int) -> str:
    """A decimal string that `payout_create` takes: more than zero, at most MAXIMUM, at most PLACES
    decimal places (leading zeros allowed, as `AmountField` reads them)."""
    below = "|".join(_integers_below(maximum))
    if places == 0:
        return f"^0*(?:{below + '|' if below else ''}{maximum})$"
    fraction = f"(?:\\.{_digits(1, places)})?"
    zeros = f"(?:\\.0{{1,{places}}})?"
    # A fraction that is not all zeros: its first non-zero digit at each possible position.
    non_zero_fraction = "|".join(
        f"{'0' * position}[1-9]{_digits(0, places - position - 1)}" for position in range(places)
    )
    options = [f"(?:{below}){fraction}"] if below else []
    options += [f"{maximum}{zeros}", f"0\\.(?:{non_zero_fraction})"]
    return f"^0*(?:{'|'.join(options)})$"


class AmountFieldSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    """A request's amount: a decimal string or a JSON integer, positive, at most `PAYOUT_MAX_AMOUNT`
    (whole units: the schema takes none of the cents above its integer part) and with at most the
    currencies' places. A response's: the stored amount, always with two places."""

    target_class = AmountField

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        if direction == "response":
            return {"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$", "example": "100.50"}
        maximum = int(settings.PAYOUT_MAX_AMOUNT)
        pattern = payout_amount_pattern(places=payout_amount_places(), maximum=maximum)
        return {
            "oneOf": [
                {"type": "string", "pattern": pattern, "example": "100.50"},
                {"type": "integer", "minimum": 1, "maximum": maximum},
            ]
        }


class CurrencyFieldSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    target_class = CurrencyField
    priority = 1  # before TextFieldSchema, which matches it as a subclass

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        return {"type": "string", "enum": list(settings.PAYOUT_CURRENCIES)}


class TextFieldSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    """A `TextField` is a string with no control characters (`TextField` refuses every character
    Python does not print; the C0 and C1 controls are the ones a pattern can name)."""

    target_class = TextField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer_field(  # type: ignore[no-untyped-call]
            self.target, direction, bypass_extensions=True
        )
        return {**schema, "pattern": _NO_CONTROL_CHARACTERS}


class StrictSerializerSchema(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    """A `StrictSerializer` refuses fields it does not know: `additionalProperties: false`."""

    target_class = StrictSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer(  # type: ignore[no-untyped-call]
            self.target, direction, bypass_extensions=True
        )
        return {**schema, "additionalProperties": False}
