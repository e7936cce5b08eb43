"""Reads of the payout domain."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db.models import Prefetch, QuerySet

from payouts.models import (
    AccountKind,
    Event,
    LedgerAccount,
    LedgerEntry,
    Organization,
    Payout,
    PayoutEvent,
    WebhookDelivery,
    WebhookEndpoint,
)
from payouts.rendering import PAYOUT_FIELDS


def _with_events(queryset: QuerySet[Payout]) -> QuerySet[Payout]:
    return queryset.prefetch_related(
        Prefetch("events", queryset=PayoutEvent.objects.order_by("created_at", "id"))
    )


def payout_for_idempotent_response(*, payout_id: UUID) -> Payout:
    """The payout a create request (or its replay) answers with, even when it was deleted since:
    a replay returns the same payout, as the first answer did."""
    return _with_events(Payout.objects.all()).get(pk=payout_id)


def payouts_visible_to(*, organization: Organization | None) -> QuerySet[Payout]:
    """Payouts the caller may see: an organisation's own, or all for an operator (None). Hidden
    (deleted) payouts are never returned. Events are prefetched in one query."""
    return _with_events(_visible(organization))


def _visible(organization: Organization | None) -> QuerySet[Payout]:
    queryset = Payout.objects.filter(hidden_at__isnull=True)
    return queryset if organization is None else queryset.filter(organization=organization)


def payout_rows_visible_to(*, organization: Organization | None) -> QuerySet[Payout, dict[str, Any]]:
    """`payouts_visible_to` as rows of `PAYOUT_FIELDS` (dicts), for a list page: no model instances
    are built (and no events read: a list item has none)."""
    rows: QuerySet[Payout, dict[str, Any]] = _visible(organization).values(*PAYOUT_FIELDS)
    return rows


def payout_get_visible(*, organization: Organization | None, payout_id: UUID) -> Payout:
    """Raises `Payout.DoesNotExist` for a payout that is missing, hidden or someone else's."""
    return payouts_visible_to(organization=organization).get(pk=payout_id)


def organization_get_visible(*, organization: Organization | None, inn: str) -> Organization:
    """An organisation sees only itself; an operator (None) any. Raises `Organization.DoesNotExist`."""
    if organization is not None:
        if organization.inn != inn:
            raise Organization.DoesNotExist
        return organization
    return Organization.objects.get(inn=inn)


@dataclass(frozen=True)
class Balance:
    currency: str
    available: Decimal
    pending: Decimal  # held for payouts in flight
    posted: Decimal  # settled: credits minus debits


def balances_of(*, organization: Organization) -> list[Balance]:
    accounts = LedgerAccount.objects.filter(kind=AccountKind.ORGANIZATION, organization=organization)
    return [
        Balance(
            currency=account.currency,
            available=account.available,
            pending=account.debits_pending,
            posted=account.posted,
        )
        for account in accounts.order_by("currency")
    ]


def ledger_entries_of(*, organization: Organization) -> QuerySet[LedgerEntry]:
    """Entries that touched the organisation's accounts, with their causes in the same query: one
    index range (`ledger_entry_org_history_idx`), however many entries other organisations have."""
    return (
        LedgerEntry.objects.filter(organization=organization)
        .select_related("debit_account", "incoming_transfer")
        .order_by("-created_at", "-id")
    )


# --- Events and webhook endpoints ------------------------------------------------------------


def events_visible_to(*, organization: Organization | None) -> QuerySet[Event]:
    """An organisation's events, or every organisation's for an operator (None)."""
    queryset = Event.objects.select_related("organization")
    return queryset if organization is None else queryset.filter(organization=organization)


def webhook_endpoints_of(*, organization: Organization) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(organization=organization)


def webhook_deliveries_of(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """An endpoint's deliveries with their events and attempts (two more queries a page)."""
    return (
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .select_related("event")
        .prefetch_related("attempt_log")
    )
