"""A payout and its status history."""

import uuid6
from django.db import models
from django.utils import timezone

from payouts.models.organizations import Organization
from payouts.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS

BANK_REFERENCE_MAX_LENGTH = 64


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
    # An item of a batch: the batch, and the client's own id for the item (unique in its batch).
    batch = models.ForeignKey(
        "payouts.PayoutBatch",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="items",
        db_index=False,
    )
    # A default in the database too: rows written by SQL of their own (the bench's fill) need none.
    reference = models.CharField(max_length=64, blank=True, default="", db_default="")

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
            models.UniqueConstraint(
                fields=["batch", "reference"],
                condition=models.Q(batch__isnull=False) & ~models.Q(reference=""),
                name="payout_unique_reference_in_batch",
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
            # A batch item by the client's reference (`?reference=`); other payouts have none.
            models.Index(
                fields=["organization", "reference"],
                condition=~models.Q(reference=""),
                name="payout_org_reference_idx",
            ),
            # A batch's items, by status: its counts, its completion, its cancel.
            models.Index(
                fields=["batch", "status"],
                condition=models.Q(batch__isnull=False),
                name="payout_batch_items_idx",
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
            # The operators' overview: failures of the last hour and day, by code. Only failed payouts
            # are in it, so creating and paying one never touches it.
            models.Index(
                fields=["failed_at"], condition=models.Q(status="failed"), name="payout_failed_at_idx"
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
