"""The ledger: accounts with their running totals, immutable entries, incoming transfers."""

from decimal import Decimal

import pgtrigger
from django.db import models

from payouts.models.organizations import Organization
from payouts.models.payout import Payout
from payouts.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS


class AccountKind(models.TextChoices):
    ORGANIZATION = "organization"  # an organisation's money with us, per currency
    BANK_SETTLEMENT = "bank_settlement"  # the bank's side: where payouts go and transfers come from


class LedgerAccount(models.Model):
    """Totals in the manner of TigerBeetle's accounts; every change comes from a `LedgerEntry`.

    Only organisation accounts keep totals. The bank's settlement account of a currency is the other
    side of every organisation's entries; its totals are the sums of its entries, and the database
    keeps its columns at zero (`ledger_settlement_totals_in_entries`), so that no transaction of one
    organisation waits on another's lock of a shared row.

    `posted` and `available` are the balances derived from the totals. The database refuses to let
    `available` go below zero on an organisation's account (`ledger_org_available_not_negative`
    states the same sum as credits_posted >= debits_posted + debits_pending).
    """

    kind = models.CharField(max_length=32, choices=AccountKind.choices)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="accounts"
    )
    currency = models.CharField(max_length=3)
    credits_posted = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    debits_posted = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    credits_pending = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    debits_pending = models.DecimalField(max_digits=20, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "currency"],
                condition=models.Q(kind="organization"),
                name="ledger_one_account_per_org_currency",
            ),
            models.UniqueConstraint(
                fields=["kind", "currency"],
                condition=models.Q(organization__isnull=True),
                name="ledger_one_system_account_per_currency",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="organization", organization__isnull=False)
                | models.Q(~models.Q(kind="organization"), organization__isnull=True),
                name="ledger_org_account_has_org",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="organization")
                | models.Q(credits_posted__gte=models.F("debits_posted") + models.F("debits_pending")),
                name="ledger_org_available_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    credits_posted__gte=0, debits_posted__gte=0, credits_pending__gte=0, debits_pending__gte=0
                ),
                name="ledger_totals_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="organization")
                | models.Q(credits_posted=0, debits_posted=0, credits_pending=0, debits_pending=0),
                name="ledger_settlement_totals_in_entries",
            ),
        ]

    def __str__(self) -> str:
        owner = self.organization.inn if self.organization_id and self.organization else self.kind
        return f"{owner} {self.currency}"

    @property
    def posted(self) -> Decimal:
        """Settled money: credits minus debits that are posted."""
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> Decimal:
        """What can still be spent: settled money minus what pending debits (holds) reserve."""
        return self.posted - self.debits_pending


class EntryKind(models.TextChoices):
    POSTED = "posted"  # single-phase: moves posted money at once (an incoming transfer)
    PENDING = "pending"  # a hold: reserves money (a payout was accepted)
    POST_PENDING = "post_pending"  # settles a hold (the payout was paid)
    VOID_PENDING = "void_pending"  # releases a hold (the payout failed or was canceled)


class IncomingTransferStatus(models.TextChoices):
    CREDITED = "credited"
    UNMATCHED = "unmatched"  # no organisation with the payer's INN yet: parked for an operator


class IncomingTransfer(models.Model):
    """Money the bank told us arrived (`transfer.incoming`), with its payment document."""

    operation_id = models.CharField(max_length=128, unique=True)
    payer_inn = models.CharField(max_length=12)
    amount = models.DecimalField(max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES)
    currency = models.CharField(max_length=3)
    document_number = models.CharField(max_length=64)
    document_date = models.DateField()
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="incoming_transfers"
    )
    status = models.CharField(max_length=16, choices=IncomingTransferStatus.choices)
    received_at = models.DateTimeField(auto_now_add=True)
    credited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="incoming_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(status="unmatched") | models.Q(organization__isnull=False),
                name="incoming_credited_has_org",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} from {self.payer_inn} (doc {self.document_number})"


class LedgerEntry(models.Model):
    """One immutable movement between two accounts. Rows are only ever inserted (a trigger refuses
    UPDATE and DELETE).

    The database makes each hold resolve at most once (one row may point at a hold), gives a payout
    at most one hold and an incoming transfer at most one credit.
    """

    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    debit_account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="debit_entries")
    credit_account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="credit_entries")
    amount = models.DecimalField(max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES)
    currency = models.CharField(max_length=3)
    pending_entry = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="resolution"
    )
    payout = models.ForeignKey(
        Payout, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries"
    )
    incoming_transfer = models.ForeignKey(
        IncomingTransfer, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries"
    )
    # The organisation whose account is one side (every entry has exactly one): its history is read
    # by this column alone, on one index, however many entries other organisations have.
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="ledger_entries", db_index=False
    )
    description = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="ledger_entry_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(kind__in=EntryKind.values), name="ledger_entry_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["post_pending", "void_pending"], pending_entry__isnull=False)
                | models.Q(kind__in=["posted", "pending"], pending_entry__isnull=True),
                name="ledger_entry_resolution_names_its_hold",
            ),
            models.UniqueConstraint(
                fields=["payout"], condition=models.Q(kind="pending"), name="ledger_one_hold_per_payout"
            ),
            models.UniqueConstraint(
                fields=["incoming_transfer"],
                condition=models.Q(kind="posted", incoming_transfer__isnull=False),
                name="ledger_one_credit_per_incoming_transfer",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="ledger_entry_org_history_idx"),
        ]
        # Append-only in the database itself: an UPDATE or DELETE of an entry raises, whoever sends
        # it (the code, a shell, a migration). A correction is a new entry.
        triggers = [
            pgtrigger.Protect(name="ledger_entry_append_only", operation=pgtrigger.Update | pgtrigger.Delete)
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency}"
