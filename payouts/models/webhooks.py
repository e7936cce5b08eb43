"""The organisations' webhook endpoints, and each event's delivery to each of them with its
attempts."""

import uuid6
from django.contrib.postgres.fields import ArrayField
from django.db import models

from payouts.models.events import Event
from payouts.models.organizations import Organization

ALL_EVENTS = "*"
RESPONSE_BODY_MAX_CHARS = 2048


class WebhookEndpoint(models.Model):
    """Where an organisation wants to be told of its events, in the Standard Webhooks format signed
    with the endpoint's `whsec_` secret (and, for a while after a rotation, with the previous one
    too)."""

    id = models.UUIDField(primary_key=True, default=uuid6.uuid7, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2048)
    # Event types, or ["*"] for all.
    enabled_events = ArrayField(models.CharField(max_length=64))
    description = models.CharField(max_length=500, blank=True, default="")
    disabled = models.BooleanField(default=False)
    disabled_reason = models.CharField(max_length=200, blank=True, default="")
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # The first failed attempt since the last success; disabled once it is `WEBHOOK_DISABLE_AFTER_DAYS`
    # old.
    failing_since = models.DateTimeField(null=True, blank=True)
    # A worker delivering to the endpoint holds it until then: one delivery at a time per endpoint.
    leased_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.url} ({self.organization_id})"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"  # its next attempt is due at `next_attempt_at`
    SUCCEEDED = "succeeded"  # the endpoint answered 2xx
    FAILED = "failed"  # every attempt of the schedule failed (a manual retry may still be asked for)


class WebhookDelivery(models.Model):
    """One event to one endpoint: the message (its `webhook-id` is the event's id on every attempt)
    and where its delivery stands. Written when the event is fanned out to the endpoints subscribed
    to its type."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="delivery_once_per_endpoint_event")
        ]
        indexes = [
            models.Index(
                fields=["endpoint", "next_attempt_at", "id"],
                name="delivery_due_idx",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.endpoint_id}: {self.status}"


class WebhookAttempt(models.Model):
    """One POST of a delivery: when, what came back (the status code and at most
    `RESPONSE_BODY_MAX_CHARS` of the body) or what went wrong, and how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    error = models.CharField(max_length=300, blank=True, default="")
    response_body = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.attempted_at}: {self.status_code or self.error}"
