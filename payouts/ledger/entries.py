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
rolls back the caller's work too, with no savepoint round trips); a hold is one statement of its own
(`HOLD_CTES`, which `payout_create` folds into the statement that writes the payout). Only the
organisation's account row is locked, by the UPDATE that changes it; its available balance is
checked by a check constraint on that row.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import structlog
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef

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
from payouts.rows import copy_into

logger = structlog.get_logger(__name__)


def organization_account(*, organization: Organization, currency: str) -> LedgerAccount:
    """The organisation's account in the currency, created (with the currency's settlement account,
    which every hold names as its other side) on first use."""
    account, created = LedgerAccount.objects.get_or_create(
        kind=AccountKind.ORGANIZATION, organization=organization, currency=currency
    )
    if created:
        settlement_account(currency=currency)
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


# The hold as two common table expressions, to follow one named `payout` that yields the payout
# (id, organization_id, amount, currency, created_at), or no row: then nothing is held. The UPDATE
# takes the organisation account's row lock and the check constraint
# `ledger_org_available_not_negative` refuses a hold the balance does not cover; an organisation
# with no account in the currency makes the entry's debit side NULL, which its NOT NULL refuses.
# Either refusal fails the whole statement: `hold_refusal_raised` turns it into `InsufficientFunds`.
# An organisation account exists only with its currency's settlement account (see
# `organization_account`), so the credit side is never NULL.
HOLD_CTES = """
held_account AS (
  UPDATE payouts_ledgeraccount account SET debits_pending = account.debits_pending + payout.amount
  FROM payout
  WHERE account.kind = 'organization' AND account.organization_id = payout.organization_id
    AND account.currency = payout.currency
  RETURNING account.id
),
hold AS (
  INSERT INTO payouts_ledgerentry
    (kind, debit_account_id, credit_account_id, organization_id, amount, currency, payout_id,
     description, created_at)
  SELECT 'pending', (SELECT id FROM held_account), (
      SELECT settlement.id FROM payouts_ledgeraccount settlement
      WHERE settlement.kind = 'bank_settlement' AND settlement.organization_id IS NULL
        AND settlement.currency = payout.currency
    ), payout.organization_id, payout.amount, payout.currency, payout.id, 'hold for payout',
    payout.created_at
  FROM payout
  RETURNING id
)
"""

_HOLD_SQL = f"""
WITH payout AS (
  SELECT %(id)s::uuid AS id, %(organization_id)s::bigint AS organization_id, %(amount)s::numeric AS amount,
    %(currency)s::varchar AS currency, %(created_at)s::timestamptz AS created_at
), {HOLD_CTES}
SELECT id FROM hold
"""  # noqa: S608 (constants only; the values are parameters)


@contextmanager
def hold_refusal_raised(*, organization_id: int, amount: Decimal, currency: str) -> Iterator[None]:
    """Run a statement with `HOLD_CTES` in it: the database's refusal of the hold (the balance does
    not cover it, or there is no account in the currency) is raised as `InsufficientFunds` with the
    available amount. Inside a transaction the caller wraps the statement in a savepoint."""
    try:
        yield
    except IntegrityError as exc:
        diag = getattr(exc.__cause__, "diag", None)
        over_balance = diag is not None and diag.constraint_name == "ledger_org_available_not_negative"
        side_missing = (
            diag is not None
            and diag.table_name == "payouts_ledgerentry"
            and diag.column_name in {"debit_account_id", "credit_account_id"}
        )
        if not (over_balance or side_missing):
            raise
        account = LedgerAccount.objects.filter(
            kind=AccountKind.ORGANIZATION, organization_id=organization_id, currency=currency
        ).first()
        if side_missing and account is not None:
            # The account exists now but did not when the statement ran (a first credit committing
            # meanwhile), or the settlement side is missing: either way nothing was written.
            logger.error(
                "ledger.hold_side_missing", column=getattr(diag, "column_name", ""), currency=currency
            )
        can_spend = account.available if account is not None else Decimal(0)
        raise InsufficientFunds(
            "The organisation's available balance does not cover this payout.",
            details={
                "available": format_amount(can_spend, currency),
                "requested": format_amount(amount, currency),
                "currency": currency,
            },
        ) from None


def hold_place(*, payout: Payout) -> None:
    """Reserve the payout's amount on its organisation's account, in one statement: the UPDATE that
    locks the row and the hold's entry. Raises `InsufficientFunds` (with the available amount) when
    the account cannot cover it; nothing is written then. `payout_create` places its holds with the
    payout in one statement of its own, through the same `HOLD_CTES`."""
    params: dict[str, Any] = {
        "id": payout.pk,
        "organization_id": payout.organization_id,
        "amount": payout.amount,
        "currency": payout.currency,
        "created_at": payout.created_at,
    }
    with (
        hold_refusal_raised(
            organization_id=payout.organization_id, amount=payout.amount, currency=payout.currency
        ),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(_HOLD_SQL, params)


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
    hold = (
        LedgerEntry.objects.filter(payout=payout, kind=EntryKind.PENDING)
        .annotate(resolved=Exists(LedgerEntry.objects.filter(pending_entry=OuterRef("pk"))))
        .get()
    )
    if hold.resolved:
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


@transaction.atomic(savepoint=False)
def holds_place_for_batch(*, organization: Organization, payouts: list[Payout]) -> None:
    """Hold every payout of a batch: the organisation's account of each currency locked once (in
    currency order, so two batches never wait on each other crosswise), its total reserved by one
    UPDATE, and one COPY of the holds' entries. Raises `InsufficientFunds` when the available
    balance of any currency does not cover that currency's total, naming every shortfall; nothing is
    written then."""
    totals: dict[str, Decimal] = {}
    for payout in payouts:
        totals[payout.currency] = totals.get(payout.currency, Decimal(0)) + payout.amount
    accounts = {
        account.currency: account
        for account in LedgerAccount.objects.select_for_update()
        .filter(kind=AccountKind.ORGANIZATION, organization=organization, currency__in=totals)
        .order_by("currency")
    }
    shortfalls = []
    for currency, total in sorted(totals.items()):
        available = accounts[currency].available if currency in accounts else Decimal(0)
        if available < total:
            shortfalls.append(
                {
                    "currency": currency,
                    "available": format_amount(available, currency),
                    "requested": format_amount(total, currency),
                    "shortfall": format_amount(total - available, currency),
                }
            )
    if shortfalls:
        raise InsufficientFunds(
            "The organisation's available balance does not cover the batch.",
            details={"shortfalls": shortfalls},
        )
    settlements = {
        account.currency: account.pk
        for account in LedgerAccount.objects.filter(
            kind=AccountKind.BANK_SETTLEMENT, organization=None, currency__in=totals
        )
    }
    for currency, total in totals.items():
        _add(accounts[currency].pk, debits_pending=total)
    copy_into(
        LedgerEntry,
        (
            LedgerEntry(
                kind=EntryKind.PENDING,
                debit_account_id=accounts[payout.currency].pk,
                credit_account_id=settlements[payout.currency],
                organization_id=organization.pk,
                amount=payout.amount,
                currency=payout.currency,
                payout_id=payout.pk,
                description="hold for payout",
            )
            for payout in payouts
        ),
    )
