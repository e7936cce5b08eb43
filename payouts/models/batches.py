"""A batch of payouts sent in one request (JSON or a CSV file): each item is an ordinary payout."""

import uuid6
from django.db import models

from payouts.models.organizations import Organization

REFERENCE_MAX_LENGTH = 64


class PayoutBatch(models.Model):
    """Payouts an organisation asked for together, once per idempotency key. Its status is its
    items': `completed` once every item is final (`completed_at`, set by a sweep), `processing`
    until then."""

    id = models.UUIDField(primary_key=True, default=uuid6.uuid7, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="payout_batches")
    idempotency_key = models.CharField(max_length=255)
    # SHA-256 of the CSV's bytes, or of the JSON body in a normal form (sorted keys, no spaces).
    request_fingerprint = models.CharField(max_length=64)
    description = models.CharField(max_length=500, blank=True, default="")
    item_count = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"], name="payout_batch_unique_idempotency_key"
            )
        ]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(completed_at__isnull=True),
                name="payout_batch_open_idx",
            )
        ]

    def __str__(self) -> str:
        return f"batch {self.id} ({self.item_count} items)"
