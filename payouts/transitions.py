"""The one place where a payout's status changes.

`ALLOWED_TRANSITIONS` is the whole state machine, as data. `payout_transition` applies it under a
row lock, so that two callers racing on one payout are serialised: exactly one moves it, the other
sees the new state (a no-op when it asked for the same target, `InvalidTransition` otherwise).
"""

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from payouts.errors import InvalidTransition
from payouts.ledger import entries
from payouts.metrics import TRANSITIONS, count_on_commit
from payouts.models import Actor, Payout, PayoutEvent, PayoutStatus
from payouts.notifications import events

logger = structlog.get_logger(__name__)

S = PayoutStatus

ALLOWED_TRANSITIONS: dict[PayoutStatus, frozenset[PayoutStatus]] = {
    S.NEW: frozenset({S.PROCESSING, S.CANCELED}),
    # `paid` straight from `processing`: the bank's webhook can outrun our own `submitted` update.
    S.PROCESSING: frozenset({S.SUBMITTED, S.PAID, S.FAILED}),
    S.SUBMITTED: frozenset({S.PAID, S.FAILED, S.CANCELED}),
    S.PAID: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELED: frozenset(),
}

IN_FLIGHT_STATUSES = frozenset({S.PROCESSING, S.SUBMITTED})

_MILESTONE_FIELDS: dict[PayoutStatus, str] = {
    S.PROCESSING: "processing_at",
    S.SUBMITTED: "submitted_at",
    S.PAID: "paid_at",
    S.FAILED: "failed_at",
    S.CANCELED: "canceled_at",
}


def is_allowed(current: PayoutStatus, target: PayoutStatus) -> bool:
    return target in ALLOWED_TRANSITIONS[current]


@dataclass(frozen=True)
class TransitionResult:
    payout: Payout
    changed: bool
    previous_status: PayoutStatus


@transaction.atomic
def payout_transition(
    *,
    payout_id: UUID | str,
    to_status: PayoutStatus,
    actor: Actor,
    reason: str = "",
    failure_code: str = "",
    failure_reason: str = "",
    bank_reference: str = "",
    only_from: frozenset[PayoutStatus] | None = None,
) -> TransitionResult:
    """Move a payout to `to_status`, or do nothing when it is already there.

    Atomic: the status, its milestone time, the failure details, the bank's reference, when the
    reconciler should first look (in flight) or that nobody need (final), the audit event and the
    ledger (`paid` posts the payout's hold; `failed` and `canceled` void it) are
    written in one transaction under `SELECT ... FOR UPDATE` on the payout row, with the client's
    event (`payout.<status>`, carrying the payout as it now is).
    Idempotent: asking for the current status changes nothing and writes no event (a bank
    reference is still recorded when the row has none yet).
    Raises `InvalidTransition` (carrying the current and requested status) when the table forbids
    the move, or when `only_from` is given and the payout is in none of those statuses (a caller's
    decision made on an earlier read is re-checked under the lock), and `Payout.DoesNotExist` for
    an unknown id.
    """
    payout = Payout.objects.select_for_update().get(pk=payout_id)
    return _transition_locked(
        payout,
        to_status=to_status,
        actor=actor,
        reason=reason,
        failure_code=failure_code,
        failure_reason=failure_reason,
        bank_reference=bank_reference,
        only_from=only_from,
    )


def _transition_locked(
    payout: Payout,
    *,
    to_status: PayoutStatus,
    actor: Actor,
    reason: str,
    failure_code: str = "",
    failure_reason: str = "",
    bank_reference: str = "",
    only_from: frozenset[PayoutStatus] | None = None,
) -> TransitionResult:
    """`payout_transition` on a payout its caller has locked (`SELECT ... FOR UPDATE`) in the
    transaction it runs in."""
    current = PayoutStatus(payout.status)
    log = logger.bind(payout_id=str(payout.pk), from_status=current, to_status=to_status, actor=actor)

    if current == to_status:
        if bank_reference and not payout.bank_reference:
            payout.bank_reference = bank_reference
            payout.save(update_fields=["bank_reference", "updated_at"])
        log.info("payout.transition.noop")
        return TransitionResult(payout=payout, changed=False, previous_status=current)
    if not is_allowed(current, to_status) or (only_from is not None and current not in only_from):
        log.warning("payout.transition.refused")
        raise InvalidTransition(current=current, requested=to_status)

    now = timezone.now()
    payout.status = to_status
    setattr(payout, _MILESTONE_FIELDS[to_status], now)
    # In flight: the reconciler's first look after the first step of its backoff; final: never.
    payout.checks = 0
    payout.next_check_at = (
        now + timedelta(seconds=settings.RECONCILE_BACKOFF_SECONDS[0])
        if to_status in IN_FLIGHT_STATUSES
        else None
    )
    update_fields = ["status", _MILESTONE_FIELDS[to_status], "updated_at", "checks", "next_check_at"]
    if to_status == S.FAILED:
        payout.failure_code = (failure_code or "unknown")[:64]
        payout.failure_reason = failure_reason[:500]
        update_fields += ["failure_code", "failure_reason"]
    if bank_reference and not payout.bank_reference:
        payout.bank_reference = bank_reference
        update_fields.append("bank_reference")
    payout.save(update_fields=update_fields)
    PayoutEvent.objects.create(
        payout=payout, from_status=current, to_status=to_status, actor=actor, reason=reason
    )
    events.payout_status_event_record(payout=payout)
    if to_status == S.PAID:
        entries.hold_post(payout=payout)
    elif to_status in {S.FAILED, S.CANCELED}:
        entries.hold_void(payout=payout)
    count_on_commit(TRANSITIONS, from_status=current, to_status=to_status, actor=actor)
    log.info("payout.transition.applied", reason=reason)
    return TransitionResult(payout=payout, changed=True, previous_status=current)


@transaction.atomic
def payout_apply_bank_status(
    *,
    payout_id: UUID | str,
    to_status: PayoutStatus,
    actor: Actor,
    bank_reference: str,
    reason: str,
    failure_code: str = "",
    failure_reason: str = "",
) -> TransitionResult:
    """Apply what the bank says about a payout it knows (a webhook, or the reconciler's lookup).

    A payout still `processing` on our side is first recorded as `submitted` (the bank has it, under
    `bank_reference`) when the table has no direct move to the bank's status, so that, for example,
    a payout the bank canceled before our own submit call returned is released, not stuck.
    """
    payout = Payout.objects.select_for_update().get(pk=payout_id)  # one lock for both moves
    if (
        payout.status == S.PROCESSING
        and to_status != S.PROCESSING
        and not is_allowed(S.PROCESSING, to_status)
    ):
        _transition_locked(
            payout,
            to_status=S.SUBMITTED,
            actor=actor,
            reason="the bank reports it has the payout",
            bank_reference=bank_reference,
        )
    return _transition_locked(
        payout,
        to_status=to_status,
        actor=actor,
        reason=reason,
        failure_code=failure_code,
        failure_reason=failure_reason,
        bank_reference=bank_reference,
    )
