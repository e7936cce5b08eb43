"""Reads of the payout domain."""

from uuid import UUID

from django.db.models import Prefetch, QuerySet

from payouts.models import Organization, Payout, PayoutEvent


def payouts_visible_to(*, organization: Organization | None) -> QuerySet[Payout]:
    """Payouts the caller may see: an organisation's own, or all for an operator (None). Hidden
    (deleted) payouts are never returned. Events are prefetched in one query."""
    queryset = Payout.objects.filter(hidden_at__isnull=True).prefetch_related(
        Prefetch("events", queryset=PayoutEvent.objects.order_by("created_at", "id"))
    )
    if organization is not None:
        queryset = queryset.filter(organization=organization)
    return queryset


def payout_get_visible(*, organization: Organization | None, payout_id: UUID) -> Payout:
    """Raises `Payout.DoesNotExist` for a payout that is missing, hidden or someone else's."""
    return payouts_visible_to(organization=organization).get(pk=payout_id)
