"""Money is a Decimal with its currency, never a float.

Amounts are stored as `DecimalField(decimal_places=2)`, so a currency may be configured only when
its minor unit has at most two digits. The bank's API speaks integer minor units; the conversion
lives here and nowhere else.
"""

from decimal import Decimal, localcontext

# ISO 4217 minor-unit digits of the currencies we know how to pay out.
CURRENCY_EXPONENTS: dict[str, int] = {
    "RUB": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CHF": 2,
    "CNY": 2,
    "KZT": 2,
    "JPY": 0,
}
AMOUNT_MAX_DIGITS = 18
AMOUNT_DECIMAL_PLACES = 2
# The first amount the column cannot hold.
AMOUNT_LIMIT = Decimal(10) ** (AMOUNT_MAX_DIGITS - AMOUNT_DECIMAL_PLACES)


def currency_exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS[currency]


def to_minor_units(amount: Decimal, currency: str) -> int:
    """100.50 RUB -> 10050. Refuses an amount finer than the currency's minor unit. Exact at any
    size (the arithmetic's precision is the amount's own, not the context's 28 digits)."""
    with localcontext() as exact:
        exact.prec = len(amount.as_tuple().digits) + currency_exponent(currency) + 2
        scaled = amount.scaleb(currency_exponent(currency))
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{amount} has more decimal places than {currency} allows")
    return int(scaled)


def format_amount(amount: Decimal, currency: str) -> str:
    """The amount as the API shows it: a string with the currency's decimal places ("0.00")."""
    return str(amount.quantize(Decimal(1).scaleb(-currency_exponent(currency))))


def from_minor_units(minor: int, currency: str) -> Decimal:
    """10050 RUB -> Decimal('100.50')."""
    exponent = currency_exponent(currency)
    with localcontext() as exact:
        exact.prec = len(str(abs(minor))) + exponent + 2
        return (Decimal(minor).scaleb(-exponent)).quantize(Decimal(1).scaleb(-exponent))
