"""What a client is told: the events of its payouts and its balance, for the events API and its
webhook endpoints."""

import pgtrigger
import uuid6
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.utils import timezone

from payouts.models.organizations import Organization

EVENT_ID_PREFIX = "evt_"


class EventType(models.TextChoices):
    PAYOUT_CREATED = "payout.created"
    PAYOUT_PROCESSING = "payout.processing"
    PAYOUT_SUBMITTED = "payout.submitted"
    PAYOUT_PAID = "payout.paid"
    PAYOUT_FAILED = "payout.failed"
    PAYOUT_CANCELED = "payout.canceled"
    PAYOUT_STUCK = "payout.stuck"
    BALANCE_CREDITED = "balance.credited"
    PAYOUT_BATCH_CREATED = "payout_batch.created"
    PAYOUT_BATCH_COMPLETED = "payout_batch.completed"


class Event(models.Model):
    """One thing that happened to an organisation's money, as its client sees it: written by
    `payouts.events` in the transaction of the change it describes (no event without its change, no
    change without its event), never changed afterwards (a trigger refuses it), pruned after
    `EVENT_RETENTION_DAYS`. `fanned_out_at` is the delivery machinery's mark, not the event's."""

    # Version 7: time-ordered, like payouts' ids. Shown as `evt_<32 hex digits>`.
    id = models.UUIDField(primary_key=True, default=uuid6.uuid7, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="events", db_index=False
    )
    type = models.CharField(max_length=64, choices=EventType.choices)
    created_at = models.DateTimeField(default=timezone.now)
    # {"object": the payout (or the credit) as the API showed it at that moment}
    data = models.JSONField()
    # The payout the event is about, when it is about one: `payout.stuck` is told once per payout.
    payout_id = models.UUIDField(null=True, blank=True)
    # When the deliveries to the endpoints subscribed at that time were written; null until then.
    fanned_out_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="event_org_newest_idx"),
            models.Index(
                fields=["created_at"],
                name="event_to_fan_out_idx",
                condition=models.Q(fanned_out_at__isnull=True),
            ),
            # Pruning by age: rows arrive in time order, so a BRIN index is enough and nearly free.
            BrinIndex(fields=["created_at"], name="event_created_brin"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["payout_id"],
                condition=models.Q(type="payout.stuck"),
                name="event_one_stuck_per_payout",
            )
        ]
        triggers = [
            pgtrigger.Protect(
                name="event_immutable",
                operation=pgtrigger.Update,
                condition=pgtrigger.AnyChange("organization", "type", "created_at", "data", "payout_id"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.type}"

    @property
    def public_id(self) -> str:
        return f"{EVENT_ID_PREFIX}{self.id.hex}"
