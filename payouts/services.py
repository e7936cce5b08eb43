"""What the API (and the management commands) write: organisations and their keys, creating a payout,
changing or deleting one on a client's or operator's request. The business rules of those requests
live here, whoever calls: the allowed currencies, the amount's limits and places, and which status
each actor may ask for. The worker's side of the money path is in `payouts.bank`, the money in
`payouts.ledger`; every status change goes through `payouts.transitions`."""

import hashlib
import json
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from functools import lru_cache
from typing import Any, cast

import structlog
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.db import connection, transaction
from django.utils import timezone

from payouts.bank.adapter import BankPayoutMismatch, bank_client, bank_payout_apply
from payouts.errors import (
    AmountNotAllowed,
    BankDisagrees,
    BankUnavailable,
    CancelPending,
    CancelRefusedByBank,
    CurrencyNotAllowed,
    IdempotencyKeyReused,
    InvalidTransition,
    PayoutInFlight,
    PayoutNotEditable,
    ReasonRequired,
    SettlementNotPermitted,
    StatusNotAllowed,
)
from payouts.ledger import entries
from payouts.metrics import PAYOUTS_CREATED, count_on_commit
from payouts.models import (
    Actor,
    Event,
    EventType,
    Organization,
    OrganizationAPIKey,
    Payout,
    PayoutEvent,
    PayoutStatus,
)
from payouts.money import AMOUNT_DECIMAL_PLACES, currency_exponent
from payouts.notifications import events
from payouts.rows import columns, insert_fields, insert_values
from payouts.transitions import IN_FLIGHT_STATUSES, payout_transition
from provider.errors import (
    ProviderCancelRefusedError,
    ProviderError,
    ProviderNotFoundError,
    ProviderTransientError,
)
from provider.types import BankPayout, BankPayoutStatus

logger = structlog.get_logger(__name__)


# --- Organisations -------------------------------------------------------------------------------


@transaction.atomic
def organization_create(*, inn: str, name: str) -> tuple[Organization, bool]:
    """Create the organisation with this INN, or return the existing one (idempotent; the name of an
    existing organisation is left as it is). Returns (organisation, created)."""
    return Organization.objects.get_or_create(inn=inn, defaults={"name": name})


def operator_ensure(*, username: str, password: str) -> User:
    """A staff user with this password (created, or its password reset) who may view every payouts
    table in the admin, and `/ops/`: development's operator. Changes nothing else it may do."""
    user, _ = User.objects.get_or_create(username=username, defaults={"is_staff": True})
    user.is_staff = True
    user.set_password(password)
    user.save()
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="payouts", codename__startswith="view_")
    )
    return user


def api_key_create(*, organization: Organization, name: str = "default") -> str:
    """Create an API key for the organisation and return it in clear: the only time it is seen;
    only its hash is stored."""
    _, key = OrganizationAPIKey.objects.create_key(organization=organization, name=name)
    return str(key)


# --- Creating a payout ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PayoutRequest:
    """A payout request as the caller sent it (a compact IBAN, an exact Decimal amount).
    `payout_create` holds it to the payout rules and quantises the amount before anything else."""

    amount: Decimal
    currency: str
    recipient: dict[str, str]
    description: str

    def fingerprint(self) -> str:
        canonical: dict[str, Any] = asdict(self)
        canonical["amount"] = str(self.amount)
        encoded = json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(encoded).hexdigest()


def _amount_places(currency: str) -> int:
    # The currency's minor unit, but never finer than the amount column holds.
    return min(currency_exponent(currency), AMOUNT_DECIMAL_PLACES)


def _decimal_places(amount: Decimal) -> int:
    exponent = amount.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def payout_request_checked(request: PayoutRequest) -> PayoutRequest:
    """The request with its amount quantised to the currency's places, once it keeps the rules: a
    configured currency (`CurrencyNotAllowed`), then a positive amount no finer than the currency
    allows and at most `PAYOUT_MAX_AMOUNT` (`AmountNotAllowed`)."""
    if request.currency not in settings.PAYOUT_CURRENCIES:
        raise CurrencyNotAllowed(f"Currency must be one of: {', '.join(settings.PAYOUT_CURRENCIES)}.")
    if request.amount <= 0:
        raise AmountNotAllowed("The amount must be positive.")
    places = _amount_places(request.currency)
    if _decimal_places(request.amount) > places:
        raise AmountNotAllowed(f"{request.currency} allows at most {places} decimal places.")
    if request.amount > settings.PAYOUT_MAX_AMOUNT:
        raise AmountNotAllowed(f"The amount may be at most {settings.PAYOUT_MAX_AMOUNT}.")
    return replace(request, amount=request.amount.quantize(Decimal(1).scaleb(-places)))


def payout_create(
    *, organization: Organization, idempotency_key: str, request: PayoutRequest
) -> tuple[Payout, bool]:
    """Create a payout once per (organisation, idempotency key). Returns (payout, created).

    The request is first held to the payout rules, before anything is read or written: a currency
    outside `PAYOUT_CURRENCIES` raises `CurrencyNotAllowed`; an amount that is not positive, has more
    decimal places than the currency allows or exceeds `PAYOUT_MAX_AMOUNT` raises `AmountNotAllowed`.
    The amount is then quantised to the currency's places (100.5 RUB is stored, and replayed, as 100.50).

    The payout row, its first event and the hold on the funds are written in one transaction;
    `process_payout` is queued only after it commits. Raises `InsufficientFunds` (nothing
    written) when the organisation's available balance does not cover the amount. The same key with the same
    request returns the existing payout and queues nothing. The same key with a different request
    raises `IdempotencyKeyReused`. Two simultaneous requests with one key meet at the unique index:
    the second waits for the first to commit, then reads and returns its payout.
    """
    request = payout_request_checked(request)
    fingerprint = request.fingerprint()
    payout = Payout(
        organization=organization,
        amount=request.amount,
        currency=request.currency,
        recipient=request.recipient,
        description=request.description,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
    )
    event = PayoutEvent(
        payout=payout, from_status="", to_status=PayoutStatus.NEW, actor=Actor.CLIENT, reason="created"
    )
    if not _insert_with_hold(payout, event):
        existing = _payout_for_key(organization=organization, idempotency_key=idempotency_key)
        if existing is None:  # the key's payout is never deleted: the conflict names a row that exists
            raise RuntimeError("idempotency key conflict without its payout")
        return _replay(existing, fingerprint), False
    count_on_commit(PAYOUTS_CREATED, currency=payout.currency, source="api")
    logger.info(
        "payout.created", payout_id=str(payout.pk), amount=str(payout.amount), currency=payout.currency
    )
    # The caller renders the payout in hand with its one event, as if `events` had been prefetched
    # (Django's own cache for it), instead of reading both back.
    cast(Any, payout)._prefetched_objects_cache = {"events": [event]}
    return payout, True


# One statement (and so, outside a transaction, one round trip with its own commit): the payout, its
# first event, the client's event and its hold. The unique index on (organisation, key) is the
# idempotency check: a replay inserts nothing (no event, no hold) and a simultaneous duplicate waits
# at the index for the first to commit, then inserts nothing. A refused hold fails the statement,
# and nothing is written.
_CREATE_SQL = """
WITH payout AS (
  INSERT INTO payouts_payout ({payout_columns}) VALUES ({payout_values})
  ON CONFLICT ON CONSTRAINT payout_unique_idempotency_key DO NOTHING
  RETURNING id, organization_id, amount, currency, created_at
), event AS (
  INSERT INTO payouts_payoutevent ({event_columns}) SELECT {event_values} FROM payout
  RETURNING id
), client_event AS (
  INSERT INTO payouts_event ({client_event_columns}) SELECT {client_event_values} FROM payout
), {hold_ctes}
SELECT id FROM event
"""


def _insert_with_hold(payout: Payout, event: PayoutEvent) -> bool:
    """Write the payout, its event, the client's `payout.created` event and its hold
    (`_CREATE_SQL`); False, and nothing written, when the payout's idempotency key is taken. Sets the
    instances' primary keys and timestamps as written."""
    payout_params = insert_values(payout)  # first: it sets the payout's timestamps the event shows
    client_event = events.payout_event(
        payout=payout, type_=EventType.PAYOUT_CREATED, created_at=payout.created_at
    )
    params = [*payout_params, *insert_values(event), *insert_values(client_event)]
    # Inside a caller's transaction (a test's, a batch's) a refused statement must not abort it: a
    # savepoint. Outside one, the statement commits by itself.
    in_transaction = connection.in_atomic_block
    with (
        entries.hold_refusal_raised(
            organization_id=payout.organization_id, amount=payout.amount, currency=payout.currency
        ),
        transaction.atomic() if in_transaction else nullcontext(),
        connection.cursor() as cursor,
    ):
        cursor.execute(_create_sql(), params)
        row = cursor.fetchone()
    if row is None:
        return False
    event.pk = row[0]
    payout._state.adding = event._state.adding = False
    payout._state.db = event._state.db = connection.alias
    return True


@lru_cache(maxsize=1)
def _create_sql() -> str:
    """`_CREATE_SQL` with the payout's and the events' columns, built once per process."""
    payout_fields, event_fields = insert_fields(Payout), insert_fields(PayoutEvent)
    client_event_fields = insert_fields(Event)
    return _CREATE_SQL.format(
        payout_columns=columns(payout_fields),
        payout_values=", ".join(["%s"] * len(payout_fields)),
        event_columns=columns(event_fields),
        event_values=", ".join(["%s"] * len(event_fields)),
        client_event_columns=columns(client_event_fields),
        client_event_values=", ".join(["%s"] * len(client_event_fields)),
        hold_ctes=entries.HOLD_CTES,
    )


def _payout_for_key(*, organization: Organization, idempotency_key: str) -> Payout | None:
    return Payout.objects.filter(organization=organization, idempotency_key=idempotency_key).first()


def _replay(existing: Payout, fingerprint: str) -> Payout:
    if existing.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request.",
            details={"payout_id": str(existing.pk)},
        )
    return existing


# --- Changing a payout through the API -----------------------------------------------------------


# The statuses a caller may ask for: a client may only cancel; an operator may also settle by hand.
_CLIENT_STATUSES = frozenset({PayoutStatus.CANCELED})
_OPERATOR_STATUSES = frozenset({PayoutStatus.CANCELED, PayoutStatus.PAID, PayoutStatus.FAILED})


def _check_status_request(*, actor: Actor, status: PayoutStatus) -> None:
    if actor == Actor.OPERATOR:
        if status not in _OPERATOR_STATUSES:
            raise StatusNotAllowed("Operators may set the status to 'canceled', 'paid' or 'failed' only.")
    elif status not in _CLIENT_STATUSES:
        raise StatusNotAllowed("Clients may only set the status to 'canceled'.")


@dataclass(frozen=True)
class ManualSettlement:
    """What an operator brings to settle a payout in flight by hand: the `settle_by_hand`
    permission, and whether they force a `failed` the bank does not confirm (with a reason)."""

    permitted: bool
    force: bool = False


def payout_update(
    *,
    payout: Payout,
    actor: Actor,
    status: PayoutStatus | None = None,
    description: str | None = None,
    reason: str = "",
    failure_code: str = "",
    settlement: ManualSettlement | None = None,
) -> Payout:
    """Apply a PATCH: a new description and/or a requested status.

    Any actor may ask for `canceled`; only `Actor.OPERATOR` may also ask for `paid` / `failed` (a manual
    settlement); any other request raises `StatusNotAllowed`. `canceled` on a `new` payout cancels it
    here; on a `submitted` one it asks the bank and believes the payout object it answers with
    (`CancelRefusedByBank` when the bank has executed it, `CancelPending` while the bank has not
    confirmed, `BankUnavailable` when it cannot be reached; the payout continues in those cases).
    Illegal moves raise `InvalidTransition`. An operator's `paid` or `failed` on a payout in flight
    needs `settlement` (see `_check_manual_settlement`).

    The description is part of what the bank was sent (its idempotency key covers the body), so it
    changes only while the payout is `new`: afterwards `PayoutNotEditable`. A PATCH with both is one
    transaction under the payout's lock (only a `new` payout gets that far, and its cancel needs no
    bank), so a refused PATCH changes nothing.
    """
    if status is not None:
        _check_status_request(actor=actor, status=status)
    if description is not None and description != payout.description:
        with transaction.atomic():
            locked = Payout.objects.select_for_update().get(pk=payout.pk)
            if locked.status != PayoutStatus.NEW:
                raise PayoutNotEditable(
                    "The description can no longer change: the payout has been handed to the bank.",
                    details={"status": locked.status},
                )
            if status is not None:
                _payout_status_request(
                    payout=locked,
                    actor=actor,
                    status=status,
                    reason=reason,
                    failure_code=failure_code,
                    settlement=settlement,
                )
            Payout.objects.filter(pk=payout.pk).update(description=description, updated_at=timezone.now())
    elif status is not None:
        _payout_status_request(
            payout=payout,
            actor=actor,
            status=status,
            reason=reason,
            failure_code=failure_code,
            settlement=settlement,
        )
    payout.refresh_from_db()
    return payout


def _payout_status_request(
    *,
    payout: Payout,
    actor: Actor,
    status: PayoutStatus,
    reason: str,
    failure_code: str,
    settlement: ManualSettlement | None = None,
) -> None:
    if status == PayoutStatus.CANCELED:
        _payout_cancel(payout=payout, actor=actor, reason=reason or "canceled on request")
        return
    seen = PayoutStatus(payout.status)
    if seen in IN_FLIGHT_STATUSES:
        reason = _check_manual_settlement(payout=payout, status=status, reason=reason, settlement=settlement)
    payout_transition(
        payout_id=payout.pk,
        to_status=status,
        actor=actor,
        reason=reason,
        failure_code=failure_code or ("manual" if status == PayoutStatus.FAILED else ""),
        failure_reason=reason if status == PayoutStatus.FAILED else "",
        # Decided on the status we saw: a payout the worker moved on meanwhile (a `new` one now with
        # the bank) is refused under the lock, never settled without the checks above.
        only_from=frozenset({seen}),
    )


def _check_manual_settlement(
    *, payout: Payout, status: PayoutStatus, reason: str, settlement: ManualSettlement | None
) -> str:
    """A payout in flight may be with the bank: settling it by hand needs the `settle_by_hand`
    permission, and failing it (which releases the funds) needs the bank to say it failed or never
    had it, or an explicit force with a reason. Returns the reason for the event (a forced failure
    says so)."""
    if settlement is None or not settlement.permitted:
        raise SettlementNotPermitted(
            "Settling a payout in flight by hand needs the 'settle_by_hand' permission.",
            details={"status": payout.status},
        )
    if status != PayoutStatus.FAILED:
        return reason
    if settlement.force:
        if not reason.strip():
            raise ReasonRequired("A forced failure needs a reason; it is recorded in the payout's event.")
        logger.warning("payout.failed_by_force", payout_id=str(payout.pk), reason=reason)
        return f"forced by an operator: {reason}"
    try:
        bank_payout = bank_client().find_payout_by_reference(str(payout.pk))
    except ProviderError as exc:
        raise BankUnavailable(
            "The bank could not be asked whether it still has the payout; try again, or force.",
        ) from exc
    # Only the bank's own `failed` or `canceled` lets the funds go unforced. Unknown to the bank is
    # not enough: our own submission (a worker's retry, the reconciler's resubmission) may be on its
    # way to it.
    bank_status = bank_payout.status if bank_payout is not None else "unknown"
    if bank_status not in {BankPayoutStatus.FAILED, BankPayoutStatus.CANCELED}:
        raise BankDisagrees(
            f"The bank reports this payout {bank_status}: failing it would release funds the bank may "
            "still pay. Force it with a reason if you are sure.",
            details={"bank_status": bank_status},
        )
    return reason


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
    _apply_cancel_answer(payout=payout, bank_payout=bank_payout, actor=actor, reason=reason)


def _apply_cancel_answer(*, payout: Payout, bank_payout: BankPayout, actor: Actor, reason: str) -> None:
    """Believe the payout object the bank answered with, not the answer's status code: `canceled`
    cancels (and releases the hold); `paid` or `failed` is applied as the bank's status, and the
    cancel refused; still `processing` keeps the hold and answers `cancel_pending`."""
    if bank_payout.status == BankPayoutStatus.PROCESSING:
        raise CancelPending(
            "The bank has not confirmed the cancel yet; the payout keeps its funds until it does.",
            details={"bank_status": bank_payout.status},
        )
    canceled = bank_payout.status == BankPayoutStatus.CANCELED
    try:
        bank_payout_apply(
            payout=payout,
            bank_payout=bank_payout,
            actor=actor,
            reason=reason if canceled else f"cancel asked; the bank reports {bank_payout.status}",
        )
    except BankPayoutMismatch as exc:
        logger.error("payout.cancel.bank_disagrees", payout_id=str(payout.pk), anomaly=str(exc))
        raise BankUnavailable("The bank's answer does not match this payout; an operator will look.") from exc
    if not canceled:
        outcome = (
            "paid it" if bank_payout.status == BankPayoutStatus.PAID else "failed it (its funds are released)"
        )
        raise CancelRefusedByBank(
            f"The bank has already {outcome}; the payout now says so and cannot be canceled.",
            details={"bank_status": bank_payout.status},
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
