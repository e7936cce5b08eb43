"""Double-entry ledger with two-phase transfers, in the manner of TigerBeetle.

- An incoming transfer is single-phase: the bank's settlement account -> the organisation, posted.
- A payout is two-phase: a hold (pending, organisation -> settlement) placed with the payout; then
  posted when it is paid, or voided when it fails or is canceled. Each hold resolves once: the
  database allows one resolution row per hold, and resolving an already resolved hold is a no-op.

Every entry has both sides, but only the organisation's account keeps running totals: it is the
one whose balance is checked and shown. The bank's settlement account (one per currency, shared by
every organisation) keeps none: its totals are the sums of its entries (`ledger_check` adds them
up), so that creates of all organisations do not queue on one row lock. The database keeps its
total columns at zero.

Every function here runs inside the caller's transaction (`atomic(savepoint=False)`: a failure
rolls back the caller's work too, with no savepoint round trips). Only the organisation's account
row is locked, by the UPDATE that changes it; its available balance is checked in that same
statement and, behind it, by a check constraint.
"""

from decimal import Decimal

import structlog
from django.db import connection, transaction
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


def _add(account_id: int, **deltas: Decimal) -> None:
    """Change an organisation account's totals; the UPDATE takes the row's lock until commit."""
    LedgerAccount.objects.filter(pk=account_id).update(**{field: F(field) + d for field, d in deltas.items()})


@transaction.atomic(savepoint=False)
def incoming_credit(*, incoming: IncomingTransfer, organization: Organization) -> LedgerEntry:
    """Credit an organisation with an incoming transfer, posted at once. The database allows one
    credit per incoming transfer."""
    org = organization_account(organization=organization, currency=incoming.currency)
    bank = settlement_account(currency=incoming.currency)
    _add(org.pk, credits_posted=incoming.amount)
    entry = LedgerEntry.objects.create(
        kind=EntryKind.POSTED,
        debit_account=bank,
        credit_account=org,
        organization=organization,
        amount=incoming.amount,
        currency=incoming.currency,
        incoming_transfer=incoming,
        description=f"incoming transfer, document {incoming.document_number} of {incoming.document_date}",
    )
    logger.info(
        "ledger.credited",
        organization=organization.inn,
        amount=str(incoming.amount),
        currency=incoming.currency,
    )
    return entry


# One round trip: reserve the amount if the account covers it, and name the settlement account the
# hold goes to. An organisation account with money in it was credited, and every credit created the
# settlement account of its currency, so the second column is never null when a row comes back.
_HOLD_SQL = """
UPDATE payouts_ledgeraccount SET debits_pending = debits_pending + %(amount)s
WHERE kind = 'organization' AND organization_id = %(organization_id)s AND currency = %(currency)s
  AND credits_posted - debits_posted - debits_pending >= %(amount)s
RETURNING id, (
  SELECT settlement.id FROM payouts_ledgeraccount settlement
  WHERE settlement.kind = 'bank_settlement' AND settlement.organization_id IS NULL
    AND settlement.currency = %(currency)s
)
"""


@transaction.atomic(savepoint=False)
def hold_place(*, payout: Payout) -> LedgerEntry:
    """Reserve the payout's amount on its organisation's account: one UPDATE that checks the
    available balance and locks the row, then the hold's entry. Raises `InsufficientFunds` (with the
    available amount) when the account cannot cover it; nothing is written then."""
    with connection.cursor() as cursor:
        cursor.execute(
            _HOLD_SQL,
            {"amount": payout.amount, "organization_id": payout.organization_id, "currency": payout.currency},
        )
        row = cursor.fetchone()
    if row is None:
        account = LedgerAccount.objects.filter(
            kind=AccountKind.ORGANIZATION, organization_id=payout.organization_id, currency=payout.currency
        ).first()
        can_spend = account.available if account is not None else Decimal(0)
        raise InsufficientFunds(
            "The organisation's available balance does not cover this payout.",
            details={
                "available": format_amount(can_spend, payout.currency),
                "requested": format_amount(payout.amount, payout.currency),
                "currency": payout.currency,
            },
        )
    org_account_id, settlement_account_id = row
    if settlement_account_id is None:  # only if an account was funded other than by `incoming_credit`
        settlement_account_id = settlement_account(currency=payout.currency).pk
    return LedgerEntry.objects.create(
        kind=EntryKind.PENDING,
        debit_account_id=org_account_id,
        credit_account_id=settlement_account_id,
        organization_id=payout.organization_id,
        amount=payout.amount,
        currency=payout.currency,
        payout=payout,
        description="hold for payout",
    )


@transaction.atomic(savepoint=False)
def hold_post(*, payout: Payout) -> LedgerEntry | None:
    """Settle the payout's hold: the money leaves for the bank. A no-op (None) when already resolved."""
    return _resolve(payout=payout, kind=EntryKind.POST_PENDING)


@transaction.atomic(savepoint=False)
def hold_void(*, payout: Payout) -> LedgerEntry | None:
    """Release the payout's hold back to the organisation. A no-op (None) when already resolved."""
    return _resolve(payout=payout, kind=EntryKind.VOID_PENDING)


def _resolve(*, payout: Payout, kind: EntryKind) -> LedgerEntry | None:
    # Callers hold the payout's row lock (the transition function), so one payout's hold is never
    # resolved by two transactions at once; the unique `pending_entry` is the database's guarantee.
    hold = LedgerEntry.objects.get(payout=payout, kind=EntryKind.PENDING)
    if LedgerEntry.objects.filter(pending_entry=hold).exists():
        logger.info("ledger.hold_already_resolved", payout_id=str(payout.pk), kind=kind)
        return None
    amount = hold.amount
    if kind == EntryKind.POST_PENDING:
        _add(hold.debit_account_id, debits_pending=-amount, debits_posted=amount)
    else:
        _add(hold.debit_account_id, debits_pending=-amount)
    return LedgerEntry.objects.create(
        kind=kind,
        debit_account_id=hold.debit_account_id,
        credit_account_id=hold.credit_account_id,
        organization_id=hold.organization_id,
        amount=amount,
        currency=hold.currency,
        pending_entry=hold,
        payout=payout,
        description="payout paid" if kind == EntryKind.POST_PENDING else f"payout {payout.status}",
    )
