"""Reads of the simulated bank's books."""

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet

from fake_bank.errors import NotFoundError
from fake_bank.models import BankPayout, BankPolicy, IncomingTransfer, Webhook, is_payout_id
from fake_bank.outcomes import parse_policy_outcome


def payout_get(*, payout_id: str, for_update: bool = False) -> BankPayout:
    """Raises ``NotFoundError`` when the bank has no payout with this id. ``for_update`` locks the
    row until the caller's transaction ends."""
    if not is_payout_id(payout_id):
        raise NotFoundError(f"no payout with id {payout_id!r}")
    payouts = BankPayout.objects.select_for_update() if for_update else BankPayout.objects.all()
    try:
        return payouts.get(pk=payout_id)
    except BankPayout.DoesNotExist:
        raise NotFoundError(f"no payout with id {payout_id!r}") from None


def payout_get_by_reference(*, reference: str) -> BankPayout:
    """Raises ``NotFoundError`` when the bank never accepted a payout with this reference."""
    if not reference.isprintable():  # the bank accepts only printable references
        raise NotFoundError(f"no payout with reference {reference!r}")
    try:
        return BankPayout.objects.get(reference=reference)
    except BankPayout.DoesNotExist:
        raise NotFoundError(f"no payout with reference {reference!r}") from None


def payout_webhooks(*, payout_id: str) -> QuerySet[Webhook]:
    """The webhooks sent about a payout, newest first, with their attempts."""
    return Webhook.objects.filter(payout_id=payout_id).prefetch_related("attempts")


def payout_list(*, status: str | None = None, limit: int = 50) -> list[BankPayout]:
    """The latest ``limit`` payouts, newest first, optionally of one status, each with its webhooks
    (newest first) and their attempts prefetched: three queries whatever the number of rows."""
    payouts = BankPayout.objects.order_by("-created_at", "-id").prefetch_related(
        Prefetch("webhooks", queryset=Webhook.objects.prefetch_related("attempts"))
    )
    if status is not None:
        payouts = payouts.filter(status=status)
    return list(payouts[:limit])


def incoming_transfer_list(*, limit: int = 20) -> list[IncomingTransfer]:
    """The latest ``limit`` incoming transfers, newest first, each with its webhook and the
    webhook's attempts: two queries."""
    return list(
        IncomingTransfer.objects.order_by("-created_at", "-id")
        .select_related("webhook")
        .prefetch_related("webhook__attempts")[:limit]
    )


def policy_get() -> BankPolicy:
    """The bank's policy; the first read stores one from FAKE_BANK_DEFAULT_OUTCOME and
    FAKE_BANK_EXECUTION_DELAY_SECONDS (a race between two first reads resolves on the primary key).

    Raises ``ValueError`` when FAKE_BANK_DEFAULT_OUTCOME is malformed.
    """
    outcome, failure_code = parse_policy_outcome(settings.FAKE_BANK_DEFAULT_OUTCOME)
    policy, _ = BankPolicy.objects.get_or_create(
        pk=BankPolicy.SINGLETON_ID,
        defaults={
            "outcome": outcome,
            "failure_code": failure_code,
            "execution_delay_seconds": max(0.0, float(settings.FAKE_BANK_EXECUTION_DELAY_SECONDS)),
        },
    )
    return policy


def incoming_transfers_after(*, after: str | None, limit: int) -> list[IncomingTransfer]:
    """Incoming transfers received after the transfer AFTER (by time received, then id), oldest
    first, with the webhooks that announced them. An unknown AFTER raises `NotFoundError`."""
    transfers = IncomingTransfer.objects.select_related("webhook").order_by("created_at", "id")
    if after:
        try:
            last = IncomingTransfer.objects.get(pk=after)
        except IncomingTransfer.DoesNotExist:
            raise NotFoundError(f"no incoming transfer {after!r} to list after") from None
        transfers = transfers.filter(
            Q(created_at__gt=last.created_at) | Q(created_at=last.created_at, id__gt=last.id)
        )
    return list(transfers[:limit])
