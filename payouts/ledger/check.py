"""The ledger's invariants, checked against the database. Read-only."""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum

from payouts.models import (
    AccountKind,
    EntryKind,
    IncomingTransfer,
    IncomingTransferStatus,
    LedgerAccount,
    LedgerEntry,
    Payout,
    PayoutStatus,
)

ZERO = Decimal("0")
TOTALS = ("credits_posted", "debits_posted", "credits_pending", "debits_pending")
EntryTotals = dict[int, dict[str, Decimal]]
# Where each payout status leaves its hold: still pending, posted, or voided.
EXPECTED_HOLD_STATE: dict[str, str] = {
    PayoutStatus.NEW: "pending",
    PayoutStatus.PROCESSING: "pending",
    PayoutStatus.SUBMITTED: "pending",
    PayoutStatus.PAID: EntryKind.POST_PENDING,
    PayoutStatus.FAILED: EntryKind.VOID_PENDING,
    PayoutStatus.CANCELED: EntryKind.VOID_PENDING,
}


@dataclass
class Report:
    checked: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


def ledger_check() -> Report:
    """Every check reads one snapshot (REPEATABLE READ): a payout accepted while the check runs
    cannot show up as a false violation between two of its queries."""
    report = Report()
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:  # inside a caller's transaction (tests), the caller's snapshot rules apply
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        accounts = list(LedgerAccount.objects.all())
        entries = _entry_totals()
        _postings_sum_to_zero(report, accounts, entries)
        _account_totals_match_entries(report, accounts, entries)
        _no_negative_available(report, accounts)
        _entries_name_their_organisation(report)
        _entries_have_a_cause(report)
        _holds_match_payouts(report)
        _resolutions_match_their_holds(report)
        _incoming_transfers_credited_once(report)
        _credits_match_their_transfers(report)
    return report


def _entry_totals() -> EntryTotals:
    """Every account's four totals as its entries say, from two grouped sums."""
    totals: EntryTotals = defaultdict(lambda: dict.fromkeys(TOTALS, ZERO))
    pending_effect = {EntryKind.PENDING: 1, EntryKind.POST_PENDING: -1, EntryKind.VOID_PENDING: -1}
    for side in ("credit", "debit"):
        rows = LedgerEntry.objects.values_list(f"{side}_account_id", "kind").annotate(total=Sum("amount"))
        for account_id, kind, total in rows:
            if kind in (EntryKind.POSTED, EntryKind.POST_PENDING):
                totals[account_id][f"{side}s_posted"] += total
            if kind in pending_effect:
                totals[account_id][f"{side}s_pending"] += pending_effect[kind] * total
    return totals


def _postings_sum_to_zero(report: Report, accounts: list[LedgerAccount], entries: EntryTotals) -> None:
    """Organisation accounts by their stored totals, settlement accounts by their entries."""
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for account in accounts:
        totals = _stored(account) if account.kind == AccountKind.ORGANIZATION else entries[account.pk]
        sums[account.currency][0] += totals["credits_posted"] - totals["debits_posted"]
        sums[account.currency][1] += totals["credits_pending"] - totals["debits_pending"]
    for currency, (posted, pending) in sorted(sums.items()):
        if posted != ZERO or pending != ZERO:
            report.violations.append(
                f"{currency}: postings sum to {posted} posted, {pending} pending (not zero)"
            )
    report.checked.append(f"postings sum to zero in {len(sums)} currencies")


def _account_totals_match_entries(
    report: Report, accounts: list[LedgerAccount], entries: EntryTotals
) -> None:
    """An organisation's stored totals equal its entries; a settlement account stores none."""
    for account in accounts:
        stored = _stored(account)
        expected = (
            entries[account.pk] if account.kind == AccountKind.ORGANIZATION else dict.fromkeys(TOTALS, ZERO)
        )
        for name in TOTALS:
            if stored[name] != expected[name]:
                report.violations.append(
                    f"account {account}: {name} is {stored[name]}, expected {expected[name]}"
                )
    report.checked.append(f"stored totals equal the sum of entries for {len(accounts)} accounts")


def _stored(account: LedgerAccount) -> dict[str, Decimal]:
    return {name: getattr(account, name) for name in TOTALS}


def _no_negative_available(report: Report, accounts: list[LedgerAccount]) -> None:
    organizations = [account for account in accounts if account.kind == AccountKind.ORGANIZATION]
    for account in organizations:
        if account.available < ZERO:
            report.violations.append(f"account {account}: available balance {account.available} is negative")
    report.checked.append(f"no negative available balance in {len(organizations)} organisation accounts")


def _entries_name_their_organisation(report: Report) -> None:
    """An entry's `organization` (what the balance history reads) owns its organisation-side
    account: the debit side of a hold and its resolution, the credit side of a credit."""
    holds = [EntryKind.PENDING, EntryKind.POST_PENDING, EntryKind.VOID_PENDING]
    wrong = LedgerEntry.objects.filter(
        (Q(kind__in=holds) & ~Q(organization_id=F("debit_account__organization_id")))
        | (Q(kind=EntryKind.POSTED) & ~Q(organization_id=F("credit_account__organization_id")))
    ).values_list("id", flat=True)
    for entry_id in wrong[:20]:
        report.violations.append(f"ledger entry {entry_id} names another organisation than its account's")
    report.checked.append("every ledger entry names the organisation of its account")


def _report_entries(report: Report, entry_ids: Any, what: str) -> None:
    for entry_id in entry_ids[:20]:
        report.violations.append(f"ledger entry {entry_id} {what}")


def _entries_have_a_cause(report: Report) -> None:
    """A hold and its resolution belong to a payout; a posted entry to an incoming transfer."""
    holds = [EntryKind.PENDING, EntryKind.POST_PENDING, EntryKind.VOID_PENDING]
    orphans = LedgerEntry.objects.filter(
        (Q(kind__in=holds) & Q(payout__isnull=True))
        | (Q(kind=EntryKind.POSTED) & Q(incoming_transfer__isnull=True))
    ).values_list("id", flat=True)
    _report_entries(report, orphans, "has no cause (a payout for a hold, a transfer for a credit)")
    report.checked.append("every ledger entry has its cause")


def _resolutions_match_their_holds(report: Report) -> None:
    """A posting or a release moves exactly what its hold held, between the same accounts, for the
    same payout; and a hold debits its payout's own organisation."""
    resolutions = LedgerEntry.objects.filter(pending_entry__isnull=False).exclude(
        amount=F("pending_entry__amount"),
        currency=F("pending_entry__currency"),
        debit_account_id=F("pending_entry__debit_account_id"),
        credit_account_id=F("pending_entry__credit_account_id"),
        payout_id=F("pending_entry__payout_id"),
    )
    _report_entries(report, resolutions.values_list("id", flat=True), "does not match its hold")
    foreign_holds = LedgerEntry.objects.filter(kind=EntryKind.PENDING, payout__isnull=False).exclude(
        debit_account__organization_id=F("payout__organization_id")
    )
    _report_entries(report, foreign_holds.values_list("id", flat=True), "holds another organisation's money")
    report.checked.append("every resolution matches its hold; every hold debits its payout's organisation")


def _credits_match_their_transfers(report: Report) -> None:
    """A credit moves its transfer's amount and currency to its transfer's organisation."""
    wrong = (
        LedgerEntry.objects.filter(kind=EntryKind.POSTED, incoming_transfer__isnull=False)
        .exclude(
            amount=F("incoming_transfer__amount"),
            currency=F("incoming_transfer__currency"),
            credit_account__organization_id=F("incoming_transfer__organization_id"),
        )
        .values_list("id", flat=True)
    )
    _report_entries(report, wrong, "does not match its incoming transfer")
    report.checked.append("every credit matches its incoming transfer")


def _holds_match_payouts(report: Report) -> None:
    holds = {
        entry.payout_id: entry
        for entry in LedgerEntry.objects.filter(kind=EntryKind.PENDING).select_related("resolution")
    }
    count = 0
    for payout in Payout.objects.only("id", "status", "amount", "currency").iterator():
        count += 1
        hold = holds.get(payout.pk)
        if hold is None:
            report.violations.append(f"payout {payout.pk} ({payout.status}) has no hold")
            continue
        if (hold.amount, hold.currency) != (payout.amount, payout.currency):
            report.violations.append(
                f"payout {payout.pk}: hold of {hold.amount} {hold.currency} does not match it"
            )
        resolution = getattr(hold, "resolution", None)
        state = resolution.kind if resolution is not None else "pending"
        if state != EXPECTED_HOLD_STATE[payout.status]:
            report.violations.append(f"payout {payout.pk} is {payout.status} but its hold is {state}")
    report.checked.append(f"holds match the status of {count} payouts")


def _incoming_transfers_credited_once(report: Report) -> None:
    credits: dict[int, int] = dict(
        LedgerEntry.objects.filter(incoming_transfer__isnull=False)
        .values("incoming_transfer_id")
        .annotate(n=Count("id"))
        .values_list("incoming_transfer_id", "n")
    )
    transfers = IncomingTransfer.objects.all()
    for transfer in transfers:
        expected = 1 if transfer.status == IncomingTransferStatus.CREDITED else 0
        found = credits.get(transfer.pk, 0)
        if found != expected:
            report.violations.append(
                f"incoming transfer {transfer.operation_id} ({transfer.status}) has {found} credits"
            )
    report.checked.append(f"{transfers.count()} incoming transfers credited once, or parked uncredited")
