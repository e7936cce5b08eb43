"""Property tests of money parsing: the API's `AmountField`, the payout rules of `payout_create`
(currencies, sign, places per currency, maximum) and the conversions of `payouts.money`.

What any input must do: an amount the API accepts is exactly `Decimal(text)` (never rounded, never
a float); anything else is a `ValidationError` (never another exception); the service refuses what
its rules forbid before it reads or writes anything, and stores what it accepts to the cent."""

import itertools
import unicodedata
from decimal import Decimal, DecimalTuple
from typing import Any

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from payouts.api.serializers import AmountField
from payouts.errors import AmountNotAllowed, CurrencyNotAllowed
from payouts.models import EntryKind, LedgerEntry, Organization, Payout
from payouts.money import (
    AMOUNT_DECIMAL_PLACES,
    AMOUNT_LIMIT,
    CURRENCY_EXPONENTS,
    currency_exponent,
    format_amount,
    from_minor_units,
    to_minor_units,
)
from payouts.services import PayoutRequest, organization_create, payout_create
from tests.payouts.factories import VALID_ACCOUNT, fund

PROPERTIES = settings(max_examples=200, deadline=None, database=None)
# The rules the service tests run under: JPY (no minor unit) next to two-place currencies.
CURRENCIES = ["RUB", "USD", "JPY"]
MAX_AMOUNT = Decimal("10000000")
RULES = override_settings(PAYOUT_CURRENCIES=CURRENCIES, PAYOUT_MAX_AMOUNT=MAX_AMOUNT)
# JSON's integers as Python's parser reads them: it refuses more than 4300 digits (`int` limit).
JSON_INT_DIGITS = 4300
KEYS = itertools.count()

currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))
configured_currencies = st.sampled_from(CURRENCIES)


@st.composite
def decimal_strings(draw: st.DrawFn, *, max_fraction: int = 6) -> str:
    """ASCII decimal strings in the API's grammar: digits, then optionally a point and digits;
    leading and trailing zeros included."""
    leading_zeros = draw(st.integers(min_value=0, max_value=2))
    whole = draw(st.integers(min_value=0, max_value=10**9) | st.integers(min_value=0, max_value=10**30))
    fraction = draw(st.text(alphabet="0123456789", max_size=max_fraction))
    text = "0" * leading_zeros + str(whole)
    return f"{text}.{fraction}" if fraction else text


any_decimal_string = decimal_strings() | st.from_regex(r"[0-9]+(\.[0-9]+)?", fullmatch=True)
non_ascii_digits = st.characters(categories=["Nd"]).filter(lambda char: not char.isascii())
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | any_decimal_string
    | st.sampled_from(["NaN", "nan", "Infinity", "-Infinity", "inf", "sNaN", "1e3", "1E+2", "-0", "+1"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3),
    max_leaves=5,
)


def parse(data: Any) -> Decimal:
    return AmountField().to_internal_value(data)


def places(amount: Decimal) -> int:
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


@st.composite
def finite_amounts(draw: st.DrawFn, *, currency: str, min_places: int = -3, max_places: int) -> Decimal:
    """A Decimal below the amount column's limit in absolute value, written with between
    MIN_PLACES (negative: an exponent such as 1E+3) and MAX_PLACES decimal places."""
    exponent = -draw(st.integers(min_value=min_places, max_value=max_places))
    bound = int(AMOUNT_LIMIT.scaleb(-exponent)) - 1
    return Decimal(draw(st.integers(min_value=-bound, max_value=bound))).scaleb(exponent)


# --- AmountField -------------------------------------------------------------------------------


@PROPERTIES
@given(text=any_decimal_string)
def test_amount_field_parses_any_ascii_decimal_string_exactly(text: str) -> None:
    # when
    amount = parse(text)

    # then: the very digits and places written (leading zeros aside), nothing rounded
    whole, _, fraction = text.partition(".")
    digits = tuple(int(digit) for digit in (whole + fraction).lstrip("0") or "0")
    assert amount.as_tuple() == DecimalTuple(sign=0, digits=digits, exponent=-len(fraction))
    assert amount == Decimal(text)


@PROPERTIES
@given(number=st.integers(min_value=0) | st.integers(min_value=0, max_value=10**JSON_INT_DIGITS - 1))
def test_amount_field_takes_a_non_negative_json_integer_exactly(number: int) -> None:
    amount = parse(number)
    assert amount == number
    assert places(amount) == 0


@PROPERTIES
@given(number=st.integers(max_value=-1))
def test_amount_field_refuses_a_negative_json_integer(number: int) -> None:
    with pytest.raises(ValidationError):
        parse(number)


@PROPERTIES
@given(value=st.floats() | st.booleans())
def test_amount_field_refuses_every_float_and_boolean(value: float | bool) -> None:
    # even 100.0, which names an exact amount: a float may already have lost a cent
    with pytest.raises(ValidationError):
        parse(value)


@PROPERTIES
@given(text=any_decimal_string, data=st.data())
def test_amount_field_refuses_a_non_ascii_digit_anywhere(text: str, data: st.DataObject) -> None:
    # given a valid amount with one of its digits written in another script (Arabic-Indic,
    # Devanagari, fullwidth...), which Python's Decimal reads as that digit
    positions = [i for i, char in enumerate(text) if char.isdigit()]
    position = data.draw(st.sampled_from(positions))
    digit = data.draw(non_ascii_digits)
    hostile = text[:position] + digit + text[position + 1 :]
    assert Decimal(hostile) == Decimal(text[:position] + str(unicodedata.digit(digit)) + text[position + 1 :])

    # when / then: the API does not
    with pytest.raises(ValidationError):
        parse(hostile)


INTRUDERS = st.sampled_from(["+", "-", "e", "E", "e5", "E-2", "_", ",", "'", "/", "%", "$", "\x00"]) | (
    st.characters(categories=["Zs", "Zl", "Zp", "Cc", "Cf"])
)


@PROPERTIES
@given(text=any_decimal_string, intruder=INTRUDERS, data=st.data())
def test_amount_field_refuses_whitespace_signs_exponents_and_separators(
    text: str, intruder: str, data: st.DataObject
) -> None:
    # given a valid amount with a sign, an exponent, a separator, a blank or a control character
    # inserted anywhere (at either end too: " 1", "1\n", "+1", "-1", "1e5", "1_000" all read as
    # numbers to Python's Decimal)
    position = data.draw(st.integers(min_value=0, max_value=len(text)))
    hostile = text[:position] + intruder + text[position:]

    # when / then
    with pytest.raises(ValidationError):
        parse(hostile)


@PROPERTIES
@given(value=json_values)
def test_amount_field_either_parses_exactly_or_raises_a_validation_error(value: Any) -> None:
    # given any JSON value: the field answers with a Decimal or a ValidationError, nothing else
    try:
        amount = parse(value)
    except ValidationError:
        return
    # then what it took was a decimal string or an integer, read exactly, finite and not negative
    assert isinstance(value, str | int) and not isinstance(value, bool)
    assert set(str(value)) <= set("0123456789.")
    assert amount.is_finite() and amount >= 0
    assert amount.as_tuple() == Decimal(str(value)).as_tuple()


@PROPERTIES
@given(data=st.data(), currency=currencies)
def test_amount_field_takes_back_every_amount_the_api_renders(data: st.DataObject, currency: str) -> None:
    # given a non-negative amount within the currency's minor unit, and as the column stores it
    amount = abs(data.draw(finite_amounts(currency=currency, max_places=currency_exponent(currency))))
    stored = amount.quantize(Decimal(1).scaleb(-AMOUNT_DECIMAL_PLACES))

    # when rendered (as a payout shows it, as an error's details show it) and sent back
    # then it reads as the same amount
    assert parse(AmountField().to_representation(stored)) == amount
    assert parse(format_amount(amount, currency)) == amount


# --- The payout rules ----------------------------------------------------------------------------
# Refusals run without database access (no `django_db` mark): pytest-django fails any test that
# touches it, so these also show that a refused request is refused before anything is read.


def request_for(amount: Decimal, currency: str) -> PayoutRequest:
    return PayoutRequest(amount=amount, currency=currency, recipient=dict(VALID_ACCOUNT), description="")


def create_offline(amount: Decimal, currency: str) -> None:
    organization = Organization(pk=1, inn="7707083893", name="Offline LLC")  # never saved
    with RULES:
        payout_create(organization=organization, idempotency_key="k", request=request_for(amount, currency))


@PROPERTIES
@given(
    currency=st.text(max_size=5).filter(lambda code: code not in CURRENCIES)
    | st.sampled_from(["rub", "RUB "]),
    amount=decimal_strings().map(Decimal),
)
def test_payout_rules_refuse_a_currency_not_configured_whatever_the_amount(
    currency: str, amount: Decimal
) -> None:
    with pytest.raises(CurrencyNotAllowed):
        create_offline(amount, currency)


@PROPERTIES
@given(currency=configured_currencies, data=st.data())
def test_payout_rules_refuse_an_amount_that_is_not_positive(currency: str, data: st.DataObject) -> None:
    amount = -abs(data.draw(finite_amounts(currency=currency, max_places=6)))
    with pytest.raises(AmountNotAllowed):
        create_offline(amount, currency)


@PROPERTIES
@given(currency=configured_currencies, data=st.data())
def test_payout_rules_refuse_more_places_than_the_currency_has(currency: str, data: st.DataObject) -> None:
    # given a positive amount written with more places than the currency's minor unit (trailing
    # zeros too: "100.500" RUB, "100.0" JPY), at most the maximum or not
    exponent = currency_exponent(currency)
    amount = data.draw(finite_amounts(currency=currency, min_places=exponent + 1, max_places=exponent + 6))
    assume(amount > 0)

    # when / then
    with pytest.raises(AmountNotAllowed):
        create_offline(amount, currency)


@PROPERTIES
@given(currency=configured_currencies, data=st.data())
def test_payout_rules_refuse_an_amount_above_the_maximum(currency: str, data: st.DataObject) -> None:
    exponent = currency_exponent(currency)
    over = data.draw(st.integers(min_value=1, max_value=int(AMOUNT_LIMIT.scaleb(exponent))))
    amount = MAX_AMOUNT + Decimal(over).scaleb(-exponent)
    with pytest.raises(AmountNotAllowed):
        create_offline(amount, currency)


@pytest.fixture
def rich_organization(db: Any) -> Organization:
    """Funded far beyond what any number of examples holds, in every currency the rules allow."""
    organization, _ = organization_create(inn="7707083893", name="Rich LLC")
    for currency in CURRENCIES:
        fund(organization, "100000000000000.00", currency)
    return organization


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    # One organisation for every example, on purpose: each example writes a payout under its own key.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    text=decimal_strings(max_fraction=3) | st.sampled_from(["10000000", "10000000.00", "10000000.01"]),
    currency=configured_currencies,
)
def test_an_amount_the_api_parses_is_refused_or_stored_to_the_cent(
    rich_organization: Organization, text: str, currency: str
) -> None:
    # given an amount string the API parses
    amount = parse(text)
    exponent = currency_exponent(currency)
    keeps_the_rules = 0 < amount <= MAX_AMOUNT and places(amount) <= exponent

    # when the service is asked to pay it
    key = f"amount-{next(KEYS)}"
    try:
        with RULES:
            payout, created = payout_create(
                organization=rich_organization, idempotency_key=key, request=request_for(amount, currency)
            )
    except AmountNotAllowed:
        # then a refusal is exactly what the rules predict, and writes nothing
        assert not keeps_the_rules
        assert not Payout.objects.filter(idempotency_key=key).exists()
        event("refused")
        return

    # then an accepted amount is stored and held to the cent, with the currency's minor units
    event("accepted")
    assert keeps_the_rules
    assert created
    payout.refresh_from_db()
    assert payout.amount == Decimal(text)
    assert to_minor_units(payout.amount, currency) * Decimal(1).scaleb(-exponent) == Decimal(text)
    hold = LedgerEntry.objects.get(payout=payout, kind=EntryKind.PENDING)
    assert (hold.amount, hold.currency) == (Decimal(text), currency)


# --- payouts.money ---------------------------------------------------------------------------------


@st.composite
def minor_units(draw: st.DrawFn, currency: str) -> int:
    """Any whole number of minor units an amount column can hold, either sign."""
    bound = int(AMOUNT_LIMIT.scaleb(currency_exponent(currency))) - 1
    return draw(st.integers(min_value=-bound, max_value=bound))


@PROPERTIES
@given(currency=currencies, data=st.data())
def test_minor_units_round_trip_through_decimal_exactly(currency: str, data: st.DataObject) -> None:
    # given
    minor = data.draw(minor_units(currency))
    exponent = currency_exponent(currency)

    # when
    amount = from_minor_units(minor, currency)

    # then: the very amount, written with the currency's places, and back to the same integer
    assert amount * 10**exponent == minor
    assert places(amount) == exponent
    assert to_minor_units(amount, currency) == minor


@PROPERTIES
@given(currency=currencies, data=st.data())
def test_an_amount_within_the_minor_unit_round_trips_through_minor_units(
    currency: str, data: st.DataObject
) -> None:
    # given an amount written with at most the currency's places (1E+3 included)
    exponent = currency_exponent(currency)
    amount = data.draw(finite_amounts(currency=currency, max_places=exponent))

    # when
    minor = to_minor_units(amount, currency)

    # then
    assert isinstance(minor, int)
    assert Decimal(minor).scaleb(-exponent) == amount
    assert from_minor_units(minor, currency) == amount


@PROPERTIES
@given(currency=currencies, data=st.data())
def test_to_minor_units_refuses_an_amount_finer_than_the_minor_unit(
    currency: str, data: st.DataObject
) -> None:
    # given an amount whose value (not just its writing) has a digit below the minor unit
    exponent = currency_exponent(currency)
    amount = data.draw(finite_amounts(currency=currency, min_places=exponent + 1, max_places=exponent + 6))
    assume(amount.scaleb(exponent) != amount.scaleb(exponent).to_integral_value())

    # when / then
    with pytest.raises(ValueError, match="more decimal places"):
        to_minor_units(amount, currency)


@PROPERTIES
@given(currency=currencies, data=st.data())
def test_format_amount_writes_exactly_the_currency_places(currency: str, data: st.DataObject) -> None:
    # given an amount within the currency's minor unit, written any way (1E+3, 5, 5.0 for RUB)
    exponent = currency_exponent(currency)
    amount = data.draw(finite_amounts(currency=currency, max_places=exponent))

    # when
    text = format_amount(amount, currency)

    # then: a minus only when negative, plain ASCII digits (no exponent), a point only when the
    # currency has a minor unit, exactly its places, and the same value
    assert text.startswith("-") == (amount < 0)
    whole, point, fraction = text.removeprefix("-").partition(".")
    assert set(whole + fraction) <= set("0123456789") and whole
    assert (point, len(fraction)) == (("." if exponent else ""), exponent)
    assert Decimal(text) == amount


@PROPERTIES
@given(code=st.text(max_size=4).filter(lambda code: code not in CURRENCY_EXPONENTS))
def test_an_unknown_currency_has_no_exponent_and_no_minor_units(code: str) -> None:
    # no default of two places: an unknown (or lower-case) code is an error everywhere
    with pytest.raises(KeyError):
        currency_exponent(code)
    with pytest.raises(KeyError):
        to_minor_units(Decimal(1), code)
    with pytest.raises(KeyError):
        from_minor_units(1, code)


def test_minor_units_are_exact_beyond_the_default_decimal_precision() -> None:
    # 31 significant digits: the default context (28) would round the first and overflow the second
    with pytest.raises(ValueError, match="more decimal places"):
        to_minor_units(Decimal("1000000000000000000000000000000.001"), "RUB")
    assert to_minor_units(Decimal("1000000000000000000000000000000.01"), "RUB") == 10**32 + 1
    assert from_minor_units(10**30, "RUB") == Decimal("10000000000000000000000000000.00")
