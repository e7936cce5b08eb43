"""The one place where the bank's vocabulary meets ours: the service's bank client built from
settings, a payout in the bank's terms (integer minor units, the recipient snapshot), and the
bank's payout object applied to ours (its status through the one map). Another bank means another
`provider/` and this module."""

from functools import lru_cache

from django.conf import settings

from payouts.metrics import bank_call
from payouts.models import BANK_REFERENCE_MAX_LENGTH, Actor, Payout, PayoutStatus
from payouts.money import to_minor_units
from payouts.transitions import TransitionResult, payout_apply_bank_status
from provider.client import BankClient, IncomingTransferPage
from provider.types import BankPayout, BankPayoutStatus, PayoutSubmission, Recipient

# What a payout is on our side when the bank reports it in a status. The bank's `processing` means
# it has the payout and has not executed it yet: ours is `submitted`.
PAYOUT_STATUS_FOR_BANK_STATUS: dict[BankPayoutStatus, PayoutStatus] = {
    BankPayoutStatus.PROCESSING: PayoutStatus.SUBMITTED,
    BankPayoutStatus.PAID: PayoutStatus.PAID,
    BankPayoutStatus.FAILED: PayoutStatus.FAILED,
    BankPayoutStatus.CANCELED: PayoutStatus.CANCELED,
}


class MeteredBankClient(BankClient):
    """The bank's client with each call counted and timed (`payouts_bank_calls_total`,
    `payouts_bank_call_duration_seconds`), by operation and outcome."""

    def submit_payout(self, submission: PayoutSubmission) -> BankPayout:
        with bank_call("submit_payout"):
            return super().submit_payout(submission)

    def find_payout_by_reference(self, reference: str) -> BankPayout | None:
        with bank_call("find_payout"):
            return super().find_payout_by_reference(reference)

    def list_incoming_transfers(self, *, after: str | None, limit: int = 100) -> IncomingTransferPage:
        with bank_call("list_incoming_transfers"):
            return super().list_incoming_transfers(after=after, limit=limit)

    def cancel_payout(self, bank_id: str) -> BankPayout:
        with bank_call("cancel_payout"):
            return super().cancel_payout(bank_id)


@lru_cache(maxsize=1)
def bank_client() -> BankClient:
    """One pooled, metered client per process (each Celery worker process and each web process)."""
    return MeteredBankClient(
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
        batch_reference=str(payout.batch_id) if payout.batch_id else "",
    )


class BankPayoutMismatch(Exception):
    """The bank's payout object disagrees with ours (amount, currency or the bank's id): nothing is
    applied, and an operator must look (the webhook records an anomaly, the reconciler logs an
    error)."""


def bank_payout_mismatch(payout: Payout, bank_payout: BankPayout) -> str:
    """What the bank's object says that our payout contradicts (empty when they agree): the amount,
    the currency, and the bank's id (present, short enough to store, and the one we recorded)."""
    expected_minor = to_minor_units(payout.amount, payout.currency)
    if bank_payout.currency != payout.currency or bank_payout.amount_minor != expected_minor:
        return (
            f"amount/currency mismatch: bank says {bank_payout.amount_minor!r} {bank_payout.currency!r}, "
            f"payout is {expected_minor} {payout.currency}"
        )
    bank_id = bank_payout.id
    if not 1 <= len(bank_id) <= BANK_REFERENCE_MAX_LENGTH:
        too_long = f"longer than {BANK_REFERENCE_MAX_LENGTH} characters"
        return f"bank payout id {bank_id[:200]!r} is missing or {too_long}"
    if payout.bank_reference and bank_id != payout.bank_reference:
        return f"bank reference mismatch: bank says {bank_id!r}, payout has {payout.bank_reference!r}"
    return ""


def bank_payout_apply(
    *, payout: Payout, bank_payout: BankPayout, actor: Actor, reason: str
) -> TransitionResult:
    """Move our payout to what the bank's payout object says (a webhook's, the reconciler's look-up,
    a cancel's answer), with the bank's failure details and reference, once the object agrees with
    the payout (`BankPayoutMismatch` otherwise: the same check whoever brings the object). Raises
    `InvalidTransition` when the table refuses the move."""
    mismatch = bank_payout_mismatch(payout, bank_payout)
    if mismatch:
        raise BankPayoutMismatch(mismatch)
    return payout_apply_bank_status(
        payout_id=payout.pk,
        to_status=PAYOUT_STATUS_FOR_BANK_STATUS[bank_payout.status],
        actor=actor,
        reason=reason,
        failure_code=bank_payout.failure_code or "",
        failure_reason=bank_payout.failure_reason or "",
        bank_reference=bank_payout.id,
    )
