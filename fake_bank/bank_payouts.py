"""The simulated bank's payouts: accept, execute and cancel them, and let a person decide their fate.

Exactly one function, ``_payout_transition``, assigns a payout's status; it creates the webhook that
announces the change, and the webhook's delivery is queued after commit.
"""

import logging
import re
from collections.abc import Mapping
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from stdnum import iban as stdnum_iban

from fake_bank.currencies import SUPPORTED_CURRENCIES
from fake_bank.delivery import publish_or_leave_to_sweep
from fake_bank.errors import (
    DuplicateReferenceError,
    InvalidRequestError,
    PayoutAlreadyExecutedError,
    PayoutRefusedError,
    PayoutStateError,
)
from fake_bank.models import BankPayout, BankPayoutStatus, BankPolicy, WebhookType
from fake_bank.outcomes import FAILURE_REASONS, Outcome, as_policy_outcome, outcome_for
from fake_bank.representations import payout_json
from fake_bank.selectors import payout_get, policy_get
from fake_bank.webhooks import webhook_create

logger = logging.getLogger(__name__)

# The Celery task that runs bank_payout_execute (declared in fake_bank.tasks under this name).
EXECUTE_PAYOUT_TASK = "fake_bank.tasks.execute_payout"

# The one table of allowed status changes; final statuses go nowhere.
PAYOUT_TRANSITIONS: Mapping[str, frozenset[str]] = {
    BankPayoutStatus.PROCESSING: frozenset(
        {BankPayoutStatus.PAID, BankPayoutStatus.FAILED, BankPayoutStatus.CANCELED}
    ),
    BankPayoutStatus.PAID: frozenset(),
    BankPayoutStatus.FAILED: frozenset(),
    BankPayoutStatus.CANCELED: frozenset(),
}
_WEBHOOK_TYPE_FOR_STATUS: Mapping[str, WebhookType] = {
    BankPayoutStatus.PAID: WebhookType.PAYOUT_PAID,
    BankPayoutStatus.FAILED: WebhookType.PAYOUT_FAILED,
    BankPayoutStatus.CANCELED: WebhookType.PAYOUT_CANCELED,
}

_ACCOUNT_NUMBER = re.compile(r"[0-9]{20}")
_BIC = re.compile(r"04[0-9]{7}")
# The Bank of Russia's control-key weights over 3 BIC-derived digits + the 20-digit account.
_CONTROL_KEY_WEIGHTS = ((7, 1, 3) * 8)[:23]


@transaction.atomic
def bank_payout_submit(
    *,
    reference: str,
    amount: int,
    currency: str,
    recipient: Mapping[str, str],
    description: str = "",
    batch_reference: str = "",
) -> BankPayout:
    """Accept a payout in ``processing`` and queue its execution, after commit, with the policy's delay.

    ``recipient`` is ``{"name", "account_number", "bic"}`` or ``{"name", "iban"}`` (the API checks
    the shape). Not idempotent by itself: the API runs it under the request's idempotency key.

    Raises ``PayoutRefusedError`` (nothing is created) for an unsupported currency
    (``invalid_currency``), an account that fails its checks or ends in 0002 (``invalid_account``);
    ``DuplicateReferenceError`` when a payout with this reference exists; ``InvalidRequestError``
    for a non-positive amount.
    """
    if amount <= 0:
        raise InvalidRequestError("amount must be a positive integer of minor units")
    if currency not in SUPPORTED_CURRENCIES:
        raise PayoutRefusedError(f"the bank does not pay out in {currency}", code="invalid_currency")
    _recipient_check(recipient)
    policy = policy_get()
    outcome = _outcome(recipient, policy)
    if outcome.refusal_code is not None:
        raise PayoutRefusedError(FAILURE_REASONS[outcome.refusal_code], code=outcome.refusal_code)
    try:
        with transaction.atomic():
            payout = BankPayout.objects.create(
                reference=reference,
                amount=amount,
                currency=currency,
                recipient=dict(recipient),
                description=description,
                batch_reference=batch_reference,
                execute_at=timezone.now() + timedelta(seconds=policy.execution_delay_seconds),
            )
    except IntegrityError:
        raise DuplicateReferenceError(
            f"a payout with reference {reference!r} was already submitted under another key"
        ) from None
    _queue_execution(payout.id, countdown=policy.execution_delay_seconds)
    return payout


@transaction.atomic
def bank_payout_execute(*, payout_id: str) -> BankPayout:
    """Execute a payout still in ``processing``: paid, or failed with its code and reason, and the
    webhook announcing it; nothing when its outcome holds it (the ``manual`` policy, ending 0007).

    Locks the row; a no-op for a payout that is no longer ``processing``, so running it twice is
    safe. Raises ``NotFoundError``.
    """
    payout = _payout_lock(payout_id)
    if payout.status != BankPayoutStatus.PROCESSING:
        return payout
    outcome = _outcome(payout.recipient, policy_get())
    if outcome.execution not in ("pay", "fail"):  # held for a person: nothing more to run
        BankPayout.objects.filter(pk=payout.pk).update(execute_at=None)
        return payout
    if outcome.execution == "pay":
        return _payout_transition(payout, to=BankPayoutStatus.PAID, webhook_copies=outcome.webhook_copies)
    if outcome.execution == "fail":
        return _payout_transition(
            payout,
            to=BankPayoutStatus.FAILED,
            failure_code=outcome.failure_code,
            webhook_copies=outcome.webhook_copies,
        )
    return payout


@transaction.atomic
def bank_payout_pay(*, payout_id: str) -> BankPayout:
    """A person pays an open (``processing``) payout; a ``payout.paid`` webhook follows.

    Raises ``PayoutStateError`` once the payout is no longer open (a second click, or the bank
    decided first), so the person hears that nothing was done; ``NotFoundError``.
    """
    return _payout_transition(_open_payout_lock(payout_id), to=BankPayoutStatus.PAID)


@transaction.atomic
def bank_payout_fail(*, payout_id: str, failure_code: str) -> BankPayout:
    """A person fails an open (``processing``) payout with one of the bank's failure codes; a
    ``payout.failed`` webhook follows.

    Raises ``InvalidRequestError`` for an unknown code, ``PayoutStateError`` once the payout is no
    longer open, ``NotFoundError``.
    """
    if failure_code not in FAILURE_REASONS:
        raise InvalidRequestError(f"unknown failure code {failure_code!r}")
    return _payout_transition(
        _open_payout_lock(payout_id), to=BankPayoutStatus.FAILED, failure_code=failure_code
    )


@transaction.atomic
def bank_payout_cancel(*, payout_id: str, repeat_ok: bool = True) -> BankPayout:
    """Cancel a payout the bank has not executed; a ``payout.canceled`` webhook follows.

    Raises ``PayoutAlreadyExecutedError`` once it is paid or failed, ``NotFoundError``. Cancelling
    a canceled payout is a no-op for the API (a repeated request gets the same answer), and a
    ``PayoutStateError`` with ``repeat_ok=False`` (a person on the page, who should hear that
    nothing was sent).
    """
    payout = _payout_lock(payout_id)
    if payout.status in (BankPayoutStatus.PAID, BankPayoutStatus.FAILED):
        raise PayoutAlreadyExecutedError(f"payout {payout.id} is already {payout.status}")
    if payout.status == BankPayoutStatus.CANCELED and not repeat_ok:
        raise _not_open(payout)
    return _payout_transition(payout, to=BankPayoutStatus.CANCELED)


@transaction.atomic
def bank_payout_drop_next_webhook(*, payout_id: str) -> BankPayout:
    """Make the next webhook about an open payout get lost: recorded as dropped, never sent.

    Idempotent (the flag is set once and consumed by the next webhook). Raises
    ``PayoutStateError`` once the payout is no longer open (it sends no more webhooks to drop),
    ``NotFoundError``.
    """
    payout = _open_payout_lock(payout_id)
    if not payout.drop_next_webhook:
        payout.drop_next_webhook = True
        payout.save(update_fields=["drop_next_webhook"])
    return payout


def _payout_transition(
    payout: BankPayout, *, to: str, failure_code: str | None = None, webhook_copies: int = 1
) -> BankPayout:
    """The one place that assigns a payout's status. ``payout`` is locked by the caller.

    A no-op when the payout already has status ``to``; raises ``PayoutStateError`` for a move the
    table does not allow. Creates the webhook announcing the change in the same transaction.
    """
    if payout.status == to:
        return payout
    if to not in PAYOUT_TRANSITIONS[payout.status]:
        raise PayoutStateError(f"payout {payout.id} is {payout.status}; it cannot become {to}")
    now = timezone.now()
    payout.status = to
    if to == BankPayoutStatus.FAILED:
        assert failure_code is not None, "a failed payout needs a failure code"
        payout.failure_code = failure_code
        payout.failure_reason = FAILURE_REASONS[failure_code]
    if to in (BankPayoutStatus.PAID, BankPayoutStatus.FAILED):
        payout.executed_at = now
    payout.execute_at = None  # final: nothing left to run
    payout.save(update_fields=["status", "failure_code", "failure_reason", "executed_at", "execute_at"])
    webhook_create(
        event_type=_WEBHOOK_TYPE_FOR_STATUS[to],
        data=payout_json(payout),
        occurred_at=now,
        payout=payout,
        copies=webhook_copies,
    )
    logger.info("fake bank payout %s is %s", payout.id, to)
    return payout


def _payout_lock(payout_id: str) -> BankPayout:
    return payout_get(payout_id=payout_id, for_update=True)


def _open_payout_lock(payout_id: str) -> BankPayout:
    """The payout, locked; ``PayoutStateError`` unless it is still open for a person's decision."""
    payout = _payout_lock(payout_id)
    if payout.status != BankPayoutStatus.PROCESSING:
        raise _not_open(payout)
    return payout


def _not_open(payout: BankPayout) -> PayoutStateError:
    return PayoutStateError(f"payout {payout.id} is already {payout.status}; nothing was done")


def _outcome(recipient: Mapping[str, object], policy: BankPolicy) -> Outcome:
    return outcome_for(
        recipient=recipient,
        policy_outcome=as_policy_outcome(policy.outcome),
        policy_failure_code=policy.failure_code,
    )


def _recipient_check(recipient: Mapping[str, str]) -> None:
    """The bank's own checks of the account; raises ``PayoutRefusedError`` (``invalid_account``)."""
    iban = recipient.get("iban")
    if iban is not None:
        if not stdnum_iban.is_valid(iban):
            raise PayoutRefusedError("the IBAN is not valid", code="invalid_account")
        return
    account, bic = recipient.get("account_number", ""), recipient.get("bic", "")
    if not _BIC.fullmatch(bic):
        raise PayoutRefusedError("a Russian BIC is 9 digits starting with 04", code="invalid_account")
    if not _ACCOUNT_NUMBER.fullmatch(account):
        raise PayoutRefusedError("an account number is 20 digits", code="invalid_account")
    # A credit institution's account is keyed with the BIC's last three digits; a cash settlement
    # centre's (BIC ending 000-002) with "0" and the BIC's 5th and 6th digits.
    prefix = "0" + bic[4:6] if bic[6:9] in {"000", "001", "002"} else bic[6:9]
    digits = prefix + account
    if sum(int(d) * w for d, w in zip(digits, _CONTROL_KEY_WEIGHTS, strict=True)) % 10 != 0:
        raise PayoutRefusedError(
            "the account number does not match the BIC (control key check failed)", code="invalid_account"
        )


def executions_overdue(*, older_than: timedelta, limit: int) -> int:
    """Run the executions a lost task left behind: payouts still `processing` whose execution time
    passed more than OLDER_THAN ago (a task would have run them). Returns how many were run."""
    overdue = timezone.now() - older_than
    ids = list(
        BankPayout.objects.filter(status=BankPayoutStatus.PROCESSING, execute_at__lte=overdue)
        .order_by("execute_at")
        .values_list("id", flat=True)[:limit]
    )
    for payout_id in ids:
        logger.warning("fake bank payout %s: its execution was lost; running it now", payout_id)
        bank_payout_execute(payout_id=payout_id)
    return len(ids)


def _queue_execution(payout_id: str, *, countdown: float) -> None:
    # Sent by name rather than through the task object: the task runs bank_payout_execute, so
    # importing fake_bank.tasks here would make the two modules import each other. A broker that
    # cannot take it loses nothing: `execute_at` is stored, and the bank's sweep runs it.
    transaction.on_commit(
        lambda: publish_or_leave_to_sweep(EXECUTE_PAYOUT_TASK, {"payout_id": payout_id}, countdown)
    )
