"""The one place where the bank's vocabulary meets ours: the service's bank client built from
settings, a payout in the bank's terms (integer minor units, the recipient snapshot), and the map
from the bank's payout statuses to ours. Another bank means another `provider/` and this module."""

from functools import lru_cache

from django.conf import settings

from payouts.models import Payout, PayoutStatus
from payouts.money import to_minor_units
from provider.client import BankClient
from provider.types import BankPayoutStatus, PayoutSubmission, Recipient

# What a payout is on our side when the bank reports it in a status. The bank's `processing` means
# it has the payout and has not executed it yet: ours is `submitted`.
PAYOUT_STATUS_FOR_BANK_STATUS: dict[BankPayoutStatus, PayoutStatus] = {
    BankPayoutStatus.PROCESSING: PayoutStatus.SUBMITTED,
    BankPayoutStatus.PAID: PayoutStatus.PAID,
    BankPayoutStatus.FAILED: PayoutStatus.FAILED,
    BankPayoutStatus.CANCELED: PayoutStatus.CANCELED,
}


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
