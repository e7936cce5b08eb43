"""The payout domain's tables. Models hold data, constraints and the sums derived from a row's own
fields; what changes them lives in `services.py` (the API's writes), `payouts.bank` (the worker's,
the webhooks' and the reconciler's), `payouts.ledger` (money) and `transitions.py` (a payout's
status, nowhere else)."""

from decimal import Decimal

import pgtrigger
import uuid6
from django.db import models
from django.utils import timezone
from rest_framework_api_key.models import AbstractAPIKey

from payouts.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS

BANK_REFERENCE_MAX_LENGTH = 64
ANOMALY_MAX_LENGTH = 500
WEBHOOK_ID_MAX_LENGTH = 128


class Organization(models.Model):
    """A client of the service, identified by its INN (Russian taxpayer number)."""

    inn = models.CharField(max_length=12, unique=True)
    name = models.CharField(max_length=200)
    default_currency = models.CharField(max_length=3, default="RUB")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.inn})"


class OrganizationAPIKey(AbstractAPIKey):
    """An organisation's API key. Only a hash is stored; the key is shown once, at creation."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "organization API key"
        verbose_name_plural = "organization API keys"


class PayoutStatus(models.TextChoices):
    NEW = "new"
    PROCESSING = "processing"
    SUBMITTED = "submitted"
    PAID = "paid"
    FAILED = "failed"
    CANCELED = "canceled"


class Actor(models.TextChoices):
    """Who asked for a status change."""

    CLIENT = "client"
    WORKER = "worker"
    BANK = "bank"
    RECONCILER = "reconciler"
    OPERATOR = "operator"


class Payout(models.Model):
    # Version 7: time-ordered, so that each new payout's key (and its events' and entries' references
    # to it) lands at the end of its index instead of on a random page.
    id = models.UUIDField(primary_key=True, default=uuid6.uuid7, editable=False)
    # Indexed by the unique key and the list indexes, which all start with it.
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="payouts", db_index=False
    )
    amount = models.DecimalField(max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES)
    currency = models.CharField(max_length=3)
    # An immutable snapshot: {"name", "account_number", "bic"} or {"name", "iban"}.
    recipient = models.JSONField()
    description = models.CharField(max_length=500, blank=True, default="")
    status = models.CharField(max_length=16, choices=PayoutStatus.choices, default=PayoutStatus.NEW)
    failure_code = models.CharField(max_length=64, blank=True, default="")
    failure_reason = models.CharField(max_length=500, blank=True, default="")
    idempotency_key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    bank_reference = models.CharField(max_length=BANK_REFERENCE_MAX_LENGTH, blank=True, default="")
    # Set by DELETE: the payout disappears from the API but stays for audit (and the ledger).
    hidden_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    processing_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    # When someone should next look at this payout: the dispatcher while it is `new` (due at once,
    # then again if its task was lost), the reconciler while it is in flight (each look-up pushes it
    # further out, `RECONCILE_BACKOFF_SECONDS`); none once final. A claim moves it forward, so two
    # sweeps running at once never take the same payout.
    next_check_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    # The reconciler's look-ups since the payout entered its in-flight status (the backoff's step).
    checks = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        # Settling an in-flight payout by hand can release money the bank may still pay: more than
        # being staff is needed.
        permissions = [("settle_by_hand", "Can mark a payout in flight paid or failed by hand")]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"], name="payout_unique_idempotency_key"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payout_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(status__in=PayoutStatus.values), name="payout_status_valid"
            ),
        ]
        # The list's orderings for an organisation, without deleted payouts; a filter on status,
        # currency or amount (a rare one included) reads only its own rows. No index orders every
        # organisation's payouts together: the planner took one for an organisation owning most
        # rows, then walked every other organisation's newer payouts to find its first page. An
        # operator's list of all organisations is sorted instead (not a client's hot path).
        indexes = [
            models.Index(
                fields=["organization", "-created_at", "-id"],
                condition=models.Q(hidden_at__isnull=True),
                name="payout_org_list_idx",
            ),
            models.Index(
                fields=["organization", "status", "-created_at", "-id"],
                condition=models.Q(hidden_at__isnull=True),
                name="payout_org_status_list_idx",
            ),
            models.Index(
                fields=["organization", "currency", "-created_at", "-id"],
                condition=models.Q(hidden_at__isnull=True),
                name="payout_org_currency_list_idx",
            ),
            # An amount range that matches few payouts (`?amount_max=1.50`) is read here and sorted,
            # rather than by walking the whole list index for the few rows that match.
            models.Index(
                fields=["organization", "amount"],
                condition=models.Q(hidden_at__isnull=True),
                name="payout_org_amount_idx",
            ),
            # What is due: the dispatcher's `new` payouts and the reconciler's in-flight ones, each
            # claimed by its own time; and the in-flight payouts by age, for the stuck count.
            models.Index(
                fields=["next_check_at"], condition=models.Q(status="new"), name="payout_new_due_idx"
            ),
            models.Index(
                fields=["next_check_at"],
                condition=models.Q(status__in=["processing", "submitted"]),
                name="payout_in_flight_due_idx",
            ),
            models.Index(
                fields=["processing_at"],
                condition=models.Q(status__in=["processing", "submitted"]),
                name="payout_in_flight_age_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.amount} {self.currency} {self.status}"


class PayoutEvent(models.Model):
    """One status change of a payout, never updated: the first (to `new`) is written by
    `payout_create`, every later one by the transition function."""

    payout = models.ForeignKey(Payout, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(max_length=16, blank=True, default="")
    to_status = models.CharField(max_length=16, choices=PayoutStatus.choices)
    actor = models.CharField(max_length=16, choices=Actor.choices)
    reason = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.payout_id}: {self.from_status or '-'} -> {self.to_status} by {self.actor}"


class WebhookOutcome(models.TextChoices):
    APPLIED = "applied"  # changed something
    NOOP = "noop"  # valid, but the payout was already in that state
    IGNORED = "ignored"  # an event type we do not handle
    ANOMALY = "anomaly"  # acknowledged, changed nothing, needs an operator's eyes


class BankWebhookEvent(models.Model):
    """One bank operation we have processed, unique by the bank's `operation_id`.

    Written in the same transaction as the operation's effect, so an event is never recorded as
    processed without its effect, and a redelivery finds the row and changes nothing.
    """

    operation_id = models.CharField(max_length=128, unique=True)
    webhook_id = models.CharField(max_length=WEBHOOK_ID_MAX_LENGTH)
    event_type = models.CharField(max_length=64)
    occurred_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField()
    payout = models.ForeignKey(
        Payout, on_delete=models.PROTECT, null=True, blank=True, related_name="bank_webhooks"
    )
    outcome = models.CharField(max_length=16, choices=WebhookOutcome.choices)
    anomaly = models.CharField(max_length=ANOMALY_MAX_LENGTH, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["outcome", "-received_at"], name="webhook_outcome_idx")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.operation_id} ({self.outcome})"


# --- The ledger ----------------------------------------------------------------------------------


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


class BankFeedCursor(models.Model):
    """How far we have read one of the bank's lists (`name`): the cursor to ask for the next page."""

    name = models.CharField(max_length=64, unique=True)
    cursor = models.CharField(max_length=200, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.cursor or '(start)'}"
