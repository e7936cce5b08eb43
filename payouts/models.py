"""The payout domain's tables. Models hold data and constraints only; what changes them lives in
`services.py` (and the status in `transitions.py`, nowhere else)."""

import uuid

from django.db import models
from rest_framework_api_key.models import AbstractAPIKey

from payouts.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS


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
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="payouts")
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
    bank_reference = models.CharField(max_length=64, blank=True, default="")
    # Set by DELETE: the payout disappears from the API but stays for audit (and the ledger).
    hidden_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    processing_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    # When the reconciler last took this payout to look at it (its claim, so that two sweeps
    # running at once never take the same payout).
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"], name="payout_unique_idempotency_key"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payout_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(status__in=PayoutStatus.values), name="payout_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="payout_org_created_idx"),
            models.Index(fields=["status", "updated_at"], name="payout_status_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.amount} {self.currency} {self.status}"


class PayoutEvent(models.Model):
    """One status change of a payout: written by the transition function only, never updated."""

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
    webhook_id = models.CharField(max_length=128)
    event_type = models.CharField(max_length=64)
    occurred_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField()
    payout = models.ForeignKey(
        Payout, on_delete=models.PROTECT, null=True, blank=True, related_name="bank_webhooks"
    )
    outcome = models.CharField(max_length=16, choices=WebhookOutcome.choices)
    anomaly = models.CharField(max_length=500, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["outcome", "-received_at"], name="webhook_outcome_idx")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.operation_id} ({self.outcome})"
