"""System checks: configuration the code cannot work with fails `manage.py check` and start-up."""

from typing import Any

import structlog
from django.conf import settings
from django.core.checks import Error, Tags, register

from payouts.money import AMOUNT_DECIMAL_PLACES, CURRENCY_EXPONENTS
from provider.signatures import WebhookKeyError, load_public_keys

logger = structlog.get_logger(__name__)


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


@register(Tags.security)
def bank_webhook_public_keys_are_valid(app_configs: Any, **kwargs: Any) -> list[Error]:
    """A malformed key would refuse every bank webhook at request time; refuse to start instead."""
    errors = []
    for position, text in enumerate(settings.BANK_WEBHOOK_PUBLIC_KEYS, start=1):
        try:
            load_public_keys([text])
        except WebhookKeyError as exc:
            logger.error("config.bank_webhook_public_key_invalid", position=position, error=str(exc))
            errors.append(
                Error(
                    f"BANK_WEBHOOK_PUBLIC_KEYS entry {position} is not a valid key: {exc}.",
                    hint="Each entry is `whpk_` and the base64 of a 32-byte Ed25519 public key.",
                    id="payouts.E002",
                )
            )
    return errors
