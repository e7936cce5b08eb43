"""The payout domain's tables. Models hold data, constraints and the sums derived from a row's own
fields; what changes them lives in `services.py` (the API's writes), `payouts.bank` (the worker's,
the webhooks' and the reconciler's), `payouts.ledger` (money), `payouts.events` (what clients are
told) and `transitions.py` (a payout's status, nowhere else)."""

from payouts.models.bank import (
    ANOMALY_MAX_LENGTH,
    WEBHOOK_ID_MAX_LENGTH,
    BankFeedCursor,
    BankWebhookEvent,
    WebhookOutcome,
)
from payouts.models.batches import REFERENCE_MAX_LENGTH, PayoutBatch
from payouts.models.events import EVENT_ID_PREFIX, Event, EventType
from payouts.models.ledger import (
    AccountKind,
    EntryKind,
    IncomingTransfer,
    IncomingTransferStatus,
    LedgerAccount,
    LedgerEntry,
)
from payouts.models.observability import LedgerCheckRun, MetricsSnapshot
from payouts.models.organizations import Organization, OrganizationAPIKey
from payouts.models.payout import BANK_REFERENCE_MAX_LENGTH, Actor, Payout, PayoutEvent, PayoutStatus
from payouts.models.webhooks import (
    ALL_EVENTS,
    RESPONSE_BODY_MAX_CHARS,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

__all__ = [
    "ALL_EVENTS",
    "ANOMALY_MAX_LENGTH",
    "BANK_REFERENCE_MAX_LENGTH",
    "EVENT_ID_PREFIX",
    "REFERENCE_MAX_LENGTH",
    "RESPONSE_BODY_MAX_CHARS",
    "WEBHOOK_ID_MAX_LENGTH",
    "AccountKind",
    "Actor",
    "BankFeedCursor",
    "BankWebhookEvent",
    "DeliveryStatus",
    "EntryKind",
    "Event",
    "EventType",
    "IncomingTransfer",
    "IncomingTransferStatus",
    "LedgerAccount",
    "LedgerCheckRun",
    "LedgerEntry",
    "MetricsSnapshot",
    "Organization",
    "OrganizationAPIKey",
    "Payout",
    "PayoutBatch",
    "PayoutEvent",
    "PayoutStatus",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookOutcome",
]
