"""Double-entry ledger with two-phase transfers, in the manner of TigerBeetle.

- An incoming transfer is single-phase: the bank's settlement account -> the organisation, posted.
- A payout is two-phase: a hold (pending, organisation -> settlement) placed with the payout; then
  posted when it is paid, or voided when it fails or is canceled. Each hold resolves once: the
  database allows one resolution row per hold, and resolving an already resolved hold is a no-op.

Every function here must run inside the caller's transaction (they are `atomic` themselves, so a
failure rolls back the caller's work too). Accounts are locked in primary-key order, so two
transactions touching the same accounts never deadlock; an organisation's available balance is
checked under that lock and, behind it, by a check constraint.
"""

from decimal import Decimal

import structlog
from django.db import transaction
from django.db.models import F

from payouts.errors import InsufficientFunds
from payouts.models import (
    AccountKind,
    EntryKind,
    IncomingTransfer,
    LedgerAccount,
    LedgerEntry,
    Organization,
    Payout,
)
from payouts.money import format_amount

logger = structlog.get_logger(__name__)


def organization_account(*, organization: Organization, currency: str) -> LedgerAccount:
    account, _ = LedgerAccount.objects.get_or_create(
        kind=AccountKind.ORGANIZATION, organization=organization, currency=currency
    )
    return account


def settlement_account(*, currency: str) -> LedgerAccount:
    account, _ = LedgerAccount.objects.get_or_create(
        kind=AccountKind.BANK_SETTLEMENT, organization=None, currency=currency
    )
    return account


def _lock(*accounts: LedgerAccount) -> dict[int, LedgerAccount]:
    locked = LedgerAccount.objects.select_for_update().filter(pk__in=[a.pk for a in accounts]).order_by("pk")
    return {account.pk: account for account in locked}


def _add(account: LedgerAccount, **deltas: Decimal) -> None:
    LedgerAccount.objects.filter(pk=account.pk).update(**{field: F(field) + d for field, d in deltas.items()})


@transaction.atomic
def incoming_credit(*, incoming: IncomingTransfer, organization: Organization) -> LedgerEntry:
    """Credit an organisation with an incoming transfer, posted at once. The database allows one
    credit per incoming transfer."""
    org = organization_account(organization=organization, currency=incoming.currency)
    bank = settlement_account(currency=incoming.currency)
    _lock(org, bank)
    amount = incoming.amount
    _add(bank, debits_posted=amount)
    _add(org, credits_posted=amount)
    entry = LedgerEntry.objects.create(
        kind=EntryKind.POSTED,
        debit_account=bank,
        credit_account=org,
        amount=amount,
        currency=incoming.currency,
        incoming_transfer=incoming,
        description=f"incoming transfer, document {incoming.document_number} of {incoming.document_date}",
    )
    logger.info(
        "ledger.credited", organization=organization.inn, amount=str(amount), currency=incoming.currency
    )
    return entry


@transaction.atomic
def hold_place(*, payout: Payout) -> LedgerEntry:
    """Reserve the payout's amount on its organisation's account. Raises `InsufficientFunds`
    (with the available amount) when the account cannot cover it; nothing is written then."""
    org = organization_account(organization=payout.organization, currency=payout.currency)
    bank = settlement_account(currency=payout.currency)
    locked = _lock(org, bank)
    can_spend = locked[org.pk].available
    if can_spend < payout.amount:
        raise InsufficientFunds(
            "The organisation's available balance does not cover this payout.",
            details={
                "available": format_amount(can_spend, payout.currency),
                "requested": format_amount(payout.amount, payout.currency),
                "currency": payout.currency,
            },
        )
    _add(org, debits_pending=payout.amount)
    _add(bank, credits_pending=payout.amount)
    return LedgerEntry.objects.create(
        kind=EntryKind.PENDING,
        debit_account=org,
        credit_account=bank,
        amount=payout.amount,
        currency=payout.currency,
        payout=payout,
        description="hold for payout",
    )


@transaction.atomic
def hold_post(*, payout: Payout) -> LedgerEntry | None:
    """Settle the payout's hold: the money leaves for the bank. A no-op (None) when already resolved."""
    return _resolve(payout=payout, kind=EntryKind.POST_PENDING)


@transaction.atomic
def hold_void(*, payout: Payout) -> LedgerEntry | None:
    """Release the payout's hold back to the organisation. A no-op (None) when already resolved."""
    return _resolve(payout=payout, kind=EntryKind.VOID_PENDING)


def _resolve(*, payout: Payout, kind: EntryKind) -> LedgerEntry | None:
    hold = LedgerEntry.objects.select_related("debit_account", "credit_account").get(
        payout=payout, kind=EntryKind.PENDING
    )
    org, bank = hold.debit_account, hold.credit_account
    _lock(org, bank)
    if LedgerEntry.objects.filter(pending_entry=hold).exists():
        logger.info("ledger.hold_already_resolved", payout_id=str(payout.pk), kind=kind)
        return None
    amount = hold.amount
    if kind == EntryKind.POST_PENDING:
        _add(org, debits_pending=-amount, debits_posted=amount)
        _add(bank, credits_pending=-amount, credits_posted=amount)
    else:
        _add(org, debits_pending=-amount)
        _add(bank, credits_pending=-amount)
    return LedgerEntry.objects.create(
        kind=kind,
        debit_account=org,
        credit_account=bank,
        amount=amount,
        currency=hold.currency,
        pending_entry=hold,
        payout=payout,
        description="payout paid" if kind == EntryKind.POST_PENDING else f"payout {payout.status}",
    )
