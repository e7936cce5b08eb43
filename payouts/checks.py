"""System checks: configuration the code cannot work with fails `manage.py check` and start-up."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from payouts.money import AMOUNT_DECIMAL_PLACES, CURRENCY_EXPONENTS


@register()
def payout_currencies_are_known(app_configs: Any, **kwargs: Any) -> list[Error]:
    errors = []
    for currency in settings.PAYOUT_CURRENCIES:
        exponent = CURRENCY_EXPONENTS.get(currency)
        if exponent is None or exponent > AMOUNT_DECIMAL_PLACES:
            errors.append(
                Error(
                    f"PAYOUT_CURRENCIES contains {currency!r}, which payouts cannot hold.",
                    hint=f"Use currencies from {sorted(CURRENCY_EXPONENTS)}.",
                    id="payouts.E001",
                )
            )
    return errors
