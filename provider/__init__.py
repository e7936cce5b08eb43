"""The payout service's side of the bank: its HTTP client and the webhook signature code.

No Django here, and nothing from ``payouts`` or ``fake_bank``: frozen dataclasses in, frozen
dataclasses out, typed exceptions.
"""

from provider.client import BankClient
from provider.errors import (
    ProviderAnswerError,
    ProviderCancelRefusedError,
    ProviderError,
    ProviderNotFoundError,
    ProviderRejectedError,
    ProviderTransientError,
)
from provider.signatures import WebhookVerificationError
from provider.types import BankPayout, BankPayoutStatus, PayoutSubmission, Recipient

__all__ = [
    "BankClient",
    "BankPayout",
    "BankPayoutStatus",
    "PayoutSubmission",
    "ProviderAnswerError",
    "ProviderCancelRefusedError",
    "ProviderError",
    "ProviderNotFoundError",
    "ProviderRejectedError",
    "ProviderTransientError",
    "Recipient",
    "WebhookVerificationError",
]
