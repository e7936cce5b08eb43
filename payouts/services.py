"""What the API (and the management commands) write: organisations and their keys, creating a payout,
changing or deleting one on a client's or operator's request. The worker's side of the money path is
in `payouts.bank`; every status change goes through `payouts.transitions`."""

import hashlib
import json
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from payouts.bank.adapter import bank_client
from payouts.errors import (
    BankUnavailable,
    CancelRefusedByBank,
    IdempotencyKeyReused,
    InvalidTransition,
    PayoutInFlight,
)
from payouts.ledger import entries
from payouts.models import Actor, Organization, OrganizationAPIKey, Payout, PayoutEvent, PayoutStatus
from payouts.tasks import process_payout
from payouts.transitions import IN_FLIGHT_STATUSES, payout_transition
from provider.errors import (
    ProviderCancelRefusedError,
    ProviderNotFoundError,
    ProviderTransientError,
)

logger = structlog.get_logger(__name__)


# --- Organisations -------------------------------------------------------------------------------


@transaction.atomic
def organization_create(*, inn: str, name: str) -> tuple[Organization, bool]:
    """Create the organisation with this INN, or return the existing one (idempotent; the name of an
    existing organisation is left as it is). Returns (organisation, created)."""
    return Organization.objects.get_or_create(inn=inn, defaults={"name": name})


def api_key_create(*, organization: Organization, name: str = "default") -> str:
    """Create an API key for the organisation and return it in clear: the only time it is seen;
    only its hash is stored."""
    _, key = OrganizationAPIKey.objects.create_key(organization=organization, name=name)
    return str(key)


# --- Creating a payout ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PayoutRequest:
    """A validated payout request, already normalised (amount quantised, IBAN compact)."""

    amount: Decimal
    currency: str
    recipient: dict[str, str]
    description: str

    def fingerprint(self) -> str:
        canonical: dict[str, Any] = asdict(self)
        canonical["amount"] = str(self.amount)
        encoded = json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(encoded).hexdigest()


def payout_create(
    *, organization: Organization, idempotency_key: str, request: PayoutRequest
) -> tuple[Payout, bool]:
    """Create a payout once per (organisation, idempotency key). Returns (payout, created).

    The payout row, its first event and the hold on the funds are written in one transaction;
    `process_payout` is queued only after it commits. Raises `InsufficientFunds` (nothing
    written) when the organisation's available balance does not cover the amount. The same key with the same
    request returns the existing payout and queues nothing. The same key with a different request
    raises `IdempotencyKeyReused`. Two simultaneous requests with one key meet at the unique index:
    the second waits for the first to commit, then reads and returns its payout.
    """
    fingerprint = request.fingerprint()
    existing = _payout_for_key(organization=organization, idempotency_key=idempotency_key)
    if existing is not None:
        return _replay(existing, fingerprint), False
    try:
        with transaction.atomic():
            payout = Payout.objects.create(
                organization=organization,
                amount=request.amount,
                currency=request.currency,
                recipient=request.recipient,
                description=request.description,
                idempotency_key=idempotency_key,
                request_fingerprint=fingerprint,
            )
            PayoutEvent.objects.create(
                payout=payout,
                from_status="",
                to_status=PayoutStatus.NEW,
                actor=Actor.CLIENT,
                reason="created",
            )
            entries.hold_place(payout=payout)
            _queue_processing_on_commit(payout.pk)
    except IntegrityError:
        existing = _payout_for_key(organization=organization, idempotency_key=idempotency_key)
        if existing is None:
            raise
        return _replay(existing, fingerprint), False
    logger.info(
        "payout.created", payout_id=str(payout.pk), amount=str(payout.amount), currency=payout.currency
    )
    return payout, True


def _payout_for_key(*, organization: Organization, idempotency_key: str) -> Payout | None:
    return Payout.objects.filter(organization=organization, idempotency_key=idempotency_key).first()


def _replay(existing: Payout, fingerprint: str) -> Payout:
    if existing.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request.",
            details={"payout_id": str(existing.pk)},
        )
    return existing


def _queue_processing_on_commit(payout_id: UUID) -> None:
    transaction.on_commit(lambda: process_payout.delay(str(payout_id)))


# --- Changing a payout through the API -----------------------------------------------------------


def payout_update(
    *,
    payout: Payout,
    actor: Actor,
    status: PayoutStatus | None = None,
    description: str | None = None,
    reason: str = "",
    failure_code: str = "",
) -> Payout:
    """Apply a PATCH: a new description and/or a requested status.

    `canceled` on a `new` payout cancels it here; on a `submitted` one it asks the bank first
    (`CancelRefusedByBank` when the bank has already executed it, `BankUnavailable` when the bank
    cannot be reached; the payout continues either way). `paid` / `failed` are an operator's manual
    settlement. Illegal moves raise `InvalidTransition`. The status is handled first and the
    description saved only after it, so a refused PATCH changes nothing.
    """
    if status is not None:
        if status == PayoutStatus.CANCELED:
            _payout_cancel(payout=payout, actor=actor, reason=reason or "canceled on request")
        else:
            payout_transition(
                payout_id=payout.pk,
                to_status=status,
                actor=actor,
                reason=reason,
                failure_code=failure_code or ("manual" if status == PayoutStatus.FAILED else ""),
                failure_reason=reason if status == PayoutStatus.FAILED else "",
            )
    if description is not None and description != payout.description:
        Payout.objects.filter(pk=payout.pk).update(description=description, updated_at=timezone.now())
    payout.refresh_from_db()
    return payout


def _payout_cancel(*, payout: Payout, actor: Actor, reason: str) -> None:
    # Decided under the row lock: a `new` payout is canceled here; one the worker has meanwhile
    # handed to the bank is refused here and canceled only if the bank agrees.
    try:
        payout_transition(
            payout_id=payout.pk,
            to_status=PayoutStatus.CANCELED,
            actor=actor,
            reason=reason,
            only_from=frozenset({PayoutStatus.NEW}),
        )
        return
    except InvalidTransition as exc:
        if exc.current != PayoutStatus.SUBMITTED:
            raise
    payout.refresh_from_db()
    # Money is at the bank: only the bank can stop it. Ask outside any transaction.
    try:
        bank_payout = bank_client().cancel_payout(payout.bank_reference)
    except ProviderCancelRefusedError as exc:
        raise CancelRefusedByBank(
            "The bank has already executed this payout; it can no longer be canceled.",
            details={"bank_code": exc.code},
        ) from exc
    except (ProviderTransientError, ProviderNotFoundError) as exc:
        raise BankUnavailable("The bank could not be asked to cancel the payout; try again.") from exc
    payout_transition(
        payout_id=payout.pk,
        to_status=PayoutStatus.CANCELED,
        actor=actor,
        reason=reason,
        bank_reference=bank_payout.id,
        only_from=frozenset({PayoutStatus.SUBMITTED}),
    )


@transaction.atomic
def payout_hide(*, payout: Payout, actor: Actor) -> None:
    """DELETE: cancel a `new` payout and hide it; hide a finished one. The row, its events and its
    ledger entries stay for audit. Money in flight raises `PayoutInFlight`."""
    locked = Payout.objects.select_for_update().get(pk=payout.pk)
    if locked.status in IN_FLIGHT_STATUSES:
        raise PayoutInFlight(
            "The payout's money is in flight; cancel it or wait until it is paid or failed.",
            details={"status": locked.status},
        )
    if locked.status == PayoutStatus.NEW:
        payout_transition(payout_id=locked.pk, to_status=PayoutStatus.CANCELED, actor=actor, reason="deleted")
    Payout.objects.filter(pk=locked.pk).update(hidden_at=timezone.now(), updated_at=timezone.now())
