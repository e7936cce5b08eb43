"""The ledger's invariants, checked against the database. Read-only."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, Sum

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
        _postings_sum_to_zero(report)
        _account_totals_match_entries(report)
        _no_negative_available(report)
        _holds_match_payouts(report)
        _incoming_transfers_credited_once(report)
    return report


def _postings_sum_to_zero(report: Report) -> None:
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for account in LedgerAccount.objects.all():
        sums[account.currency][0] += account.posted
        sums[account.currency][1] += account.credits_pending - account.debits_pending
    for currency, (posted, pending) in sorted(sums.items()):
        if posted != ZERO or pending != ZERO:
            report.violations.append(
                f"{currency}: postings sum to {posted} posted, {pending} pending (not zero)"
            )
    report.checked.append(f"postings sum to zero in {len(sums)} currencies")


def _entry_sum(account: LedgerAccount, side: str, kinds: Sequence[str]) -> Decimal:
    total = LedgerEntry.objects.filter(**{side: account}, kind__in=kinds).aggregate(total=Sum("amount"))[
        "total"
    ]
    return total or ZERO


def _account_totals_match_entries(report: Report) -> None:
    accounts = list(LedgerAccount.objects.all())
    for account in accounts:
        posting = [EntryKind.POSTED, EntryKind.POST_PENDING]
        resolving = [EntryKind.POST_PENDING, EntryKind.VOID_PENDING]
        expected = {
            "credits_posted": _entry_sum(account, "credit_account", posting),
            "debits_posted": _entry_sum(account, "debit_account", posting),
            "credits_pending": _entry_sum(account, "credit_account", [EntryKind.PENDING])
            - _entry_sum(account, "credit_account", resolving),
            "debits_pending": _entry_sum(account, "debit_account", [EntryKind.PENDING])
            - _entry_sum(account, "debit_account", resolving),
        }
        for name, value in expected.items():
            stored = getattr(account, name)
            if stored != value:
                report.violations.append(f"account {account}: {name} is {stored}, its entries say {value}")
    report.checked.append(f"stored totals equal the sum of entries for {len(accounts)} accounts")


def _no_negative_available(report: Report) -> None:
    accounts = LedgerAccount.objects.filter(kind=AccountKind.ORGANIZATION)
    for account in accounts:
        if account.available < ZERO:
            report.violations.append(f"account {account}: available balance {account.available} is negative")
    report.checked.append(f"no negative available balance in {accounts.count()} organisation accounts")


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
