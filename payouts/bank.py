"""The service's one bank client, built from settings, and the translation of a payout into the
bank's terms (integer minor units, the recipient snapshot)."""

from functools import lru_cache

from django.conf import settings

from payouts.models import Payout
from payouts.money import to_minor_units
from provider.client import BankClient
from provider.types import PayoutSubmission, Recipient


@lru_cache(maxsize=1)
def bank_client() -> BankClient:
    """One pooled client per process (each Celery worker process and each web process)."""
    return BankClient(
        base_url=settings.BANK_API_URL,
        token=settings.BANK_API_TOKEN,
        connect_timeout=settings.BANK_CONNECT_TIMEOUT,
        read_timeout=settings.BANK_READ_TIMEOUT,
    )


def submission_for(payout: Payout) -> PayoutSubmission:
    recipient = payout.recipient
    return PayoutSubmission(
        reference=str(payout.pk),
        amount_minor=to_minor_units(payout.amount, payout.currency),
        currency=payout.currency,
        recipient=Recipient(
            name=recipient["name"],
            account_number=recipient.get("account_number"),
            bic=recipient.get("bic"),
            iban=recipient.get("iban"),
        ),
        description=payout.description,
    )
