"""The simulated bank's books: payouts it received, webhooks it sent, incoming transfers, its policy."""

import json
import re
import uuid
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from fake_bank.outcomes import FAILURE_REASONS

FAILURE_CODE_CHOICES = [(code, code) for code in FAILURE_REASONS]


_PAYOUT_ID = re.compile(r"bp_[0-9a-f]{32}")


def new_payout_id() -> str:
    return f"bp_{uuid.uuid4().hex}"


def is_payout_id(value: str) -> bool:
    """Whether ``value`` has the shape of the bank's payout ids; anything else is looked up nowhere
    (PostgreSQL cannot even compare a text holding NUL)."""
    return _PAYOUT_ID.fullmatch(value) is not None


def new_transfer_id() -> str:
    return f"it_{uuid.uuid4().hex}"


def new_operation_id() -> str:
    return f"op_{uuid.uuid4().hex}"


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class BankPayoutStatus(models.TextChoices):
    PROCESSING = "processing"
    PAID = "paid"
    FAILED = "failed"
    CANCELED = "canceled"


class BankPayout(models.Model):
    """A payout the bank accepted. ``reference`` is the client's payout id."""

    id = models.CharField(primary_key=True, max_length=40, default=new_payout_id, editable=False)
    reference = models.CharField(max_length=255, unique=True)
    amount = models.BigIntegerField(help_text="Integer minor units.")
    currency = models.CharField(max_length=3)
    recipient = models.JSONField()
    description = models.CharField(max_length=1000, blank=True, default="")
    # The sender's batch, when the payout came in one (shown on the page by its first characters).
    batch_reference = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(
        max_length=16, choices=BankPayoutStatus.choices, default=BankPayoutStatus.PROCESSING
    )
    failure_code = models.CharField(max_length=32, choices=FAILURE_CODE_CHOICES, null=True, blank=True)
    failure_reason = models.CharField(max_length=500, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    # When the bank means to execute it (its policy's delay after acceptance); cleared once executed
    # or when its outcome holds it for a person. The bank's sweep runs what a lost task left behind.
    execute_at = models.DateTimeField(null=True, blank=True)
    # Set by a person: the next webhook about this payout is recorded as dropped and never sent.
    drop_next_webhook = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="fake_bank_payout_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=BankPayoutStatus.values), name="fake_bank_payout_status_valid"
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=BankPayoutStatus.FAILED, failure_code__isnull=False)
                    | (~Q(status=BankPayoutStatus.FAILED) & Q(failure_code__isnull=True))
                ),
                name="fake_bank_payout_failure_code_iff_failed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.status}, {self.amount} {self.currency})"


class IdempotencyRecord(models.Model):
    """The first answer to a write under an ``Idempotency-Key``, replayed for the same request.

    Written in the same transaction as the write's effect, so a failed request leaves nothing
    behind and a simultaneous duplicate waits on the unique index, then reads the winner.
    """

    key = models.CharField(max_length=255, unique=True)
    # "POST /payouts" etc.: the same key on another endpoint is a different request.
    request_path = models.CharField(max_length=600)
    request_fingerprint = models.CharField(max_length=64, help_text="sha256 of the canonical JSON body.")
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.key} -> {self.response_status}"


class WebhookType(models.TextChoices):
    PAYOUT_PAID = "payout.paid"
    PAYOUT_FAILED = "payout.failed"
    PAYOUT_CANCELED = "payout.canceled"
    TRANSFER_INCOMING = "transfer.incoming"


class Webhook(models.Model):
    """One message the bank sends (or, when ``dropped``, pretends to have lost).

    ``body`` holds the exact JSON text that is signed and sent on every attempt. ``delivery_count``
    counts the deliveries started (the original, a duplicate, resends, tampered copies); each has
    its own numbered attempts.
    """

    operation_id = models.CharField(max_length=40, unique=True, default=new_operation_id)
    message_id = models.CharField(
        max_length=40, unique=True, default=new_message_id, help_text="The webhook-id header."
    )
    type = models.CharField(max_length=32, choices=WebhookType.choices)
    body = models.TextField(help_text="The exact JSON bytes that are signed and sent.")
    payout = models.ForeignKey(
        BankPayout, on_delete=models.PROTECT, null=True, blank=True, related_name="webhooks"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    dropped = models.BooleanField(default=False, help_text="Lost on purpose: recorded, never sent.")
    delivery_count = models.PositiveIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True, help_text="When a delivery ran out of retries.")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} {self.operation_id}"

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


class WebhookDeliveryDue(models.Model):
    """A delivery attempt the bank has queued and not yet made: written with its task, removed when
    the attempt is recorded. The bank's sweep queues again the attempts a lost task left behind."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="due_attempts")
    delivery = models.PositiveIntegerField()
    attempt = models.PositiveIntegerField()
    tampered = models.BooleanField(default=False)
    due_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["webhook", "delivery", "attempt"], name="fake_bank_due_once"),
        ]
        indexes = [models.Index(fields=["due_at"], name="fake_bank_due_at_idx")]

    def __str__(self) -> str:
        return f"{self.webhook} delivery {self.delivery} attempt {self.attempt} at {self.due_at}"


class WebhookAttempt(models.Model):
    """One HTTP POST of a webhook: its delivery, its attempt number within it, and the answer."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="attempts")
    delivery = models.PositiveIntegerField()
    attempt = models.PositiveIntegerField()
    tampered = models.BooleanField(default=False, help_text="The body was altered after signing.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["webhook_id", "delivery", "attempt"]
        constraints = [
            models.UniqueConstraint(fields=["webhook", "delivery", "attempt"], name="fake_bank_attempt_once"),
        ]

    def __str__(self) -> str:
        return f"{self.webhook_id} #{self.delivery}.{self.attempt}: {self.status_code or self.error}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class IncomingTransfer(models.Model):
    """Money a payer sent to the service's account, announced by a ``transfer.incoming`` webhook."""

    id = models.CharField(primary_key=True, max_length=40, default=new_transfer_id, editable=False)
    payer_inn = models.CharField(max_length=12)
    amount = models.BigIntegerField(help_text="Integer minor units.")
    currency = models.CharField(max_length=3)
    document_number = models.CharField(max_length=64)
    document_date = models.DateField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    webhook = models.OneToOneField(Webhook, on_delete=models.PROTECT, related_name="incoming_transfer")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="fake_bank_transfer_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.amount} {self.currency} from {self.payer_inn})"


class PolicyOutcomeChoice(models.TextChoices):
    PAID = "paid"
    FAILED = "failed"
    MANUAL = "manual", "manual (wait for a person)"


class BankPolicy(models.Model):
    """The one row saying what happens to new payouts without a magic account ending."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    outcome = models.CharField(max_length=16, choices=PolicyOutcomeChoice.choices)
    failure_code = models.CharField(max_length=32, choices=FAILURE_CODE_CHOICES, null=True, blank=True)
    execution_delay_seconds = models.FloatField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "bank policy"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="fake_bank_policy_singleton"),
            models.CheckConstraint(
                condition=Q(execution_delay_seconds__gte=0), name="fake_bank_policy_delay_not_negative"
            ),
            models.CheckConstraint(
                condition=(
                    Q(outcome=PolicyOutcomeChoice.FAILED, failure_code__isnull=False)
                    | (~Q(outcome=PolicyOutcomeChoice.FAILED) & Q(failure_code__isnull=True))
                ),
                name="fake_bank_policy_failure_code_iff_failed",
            ),
        ]

    def __str__(self) -> str:
        code = f":{self.failure_code}" if self.failure_code else ""
        return f"{self.outcome}{code} after {self.execution_delay_seconds} s"
