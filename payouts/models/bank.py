"""What the bank told us: each webhook operation processed, and how far its lists were read."""

from django.db import models

from payouts.models.payout import Payout

ANOMALY_MAX_LENGTH = 500
WEBHOOK_ID_MAX_LENGTH = 128


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


class BankFeedCursor(models.Model):
    """How far we have read one of the bank's lists (`name`): the cursor to ask for the next page."""

    name = models.CharField(max_length=64, unique=True)
    cursor = models.CharField(max_length=200, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.cursor or '(start)'}"
