"""The one place where the bank's vocabulary meets ours: the service's bank client built from
settings, a payout in the bank's terms (integer minor units, the recipient snapshot), and the
bank's payout object applied to ours (its status through the one map). Another bank means another
`provider/` and this module."""

from functools import lru_cache

from django.conf import settings

from payouts.models import Actor, Payout, PayoutStatus
from payouts.money import to_minor_units
from payouts.transitions import TransitionResult, payout_apply_bank_status
from provider.client import BankClient
from provider.types import BankPayout, BankPayoutStatus, PayoutSubmission, Recipient

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


def bank_payout_apply(
    *, payout: Payout, bank_payout: BankPayout, actor: Actor, reason: str
) -> TransitionResult:
    """Move our payout to what the bank's payout object says (a webhook's, or the reconciler's
    look-up), with the bank's failure details and reference. Raises `InvalidTransition` when the
    table refuses it."""
    return payout_apply_bank_status(
        payout_id=payout.pk,
        to_status=PAYOUT_STATUS_FOR_BANK_STATUS[bank_payout.status],
        actor=actor,
        reason=reason,
        failure_code=bank_payout.failure_code or "",
        failure_reason=bank_payout.failure_reason or "",
        bank_reference=bank_payout.id,
    )
