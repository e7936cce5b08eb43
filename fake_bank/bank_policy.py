"""The bank's policy: what it does with payouts that carry no magic account ending (read it with
``selectors.policy_get``)."""

from django.db import transaction

from fake_bank.errors import InvalidRequestError
from fake_bank.models import BankPolicy
from fake_bank.outcomes import FAILURE_REASONS, POLICY_OUTCOMES
from fake_bank.selectors import policy_get


@transaction.atomic
def policy_update(
    *, outcome: str, failure_code: str | None = None, execution_delay_seconds: float | None = None
) -> BankPolicy:
    """Set what happens to payouts executed from now on (those without a magic account ending).

    ``failed`` without a code fails with ``declined``; the delay is kept when not given. Raises
    ``InvalidRequestError`` for an unknown outcome or code, a code without ``failed``, a negative
    or non-finite delay.
    """
    if outcome not in POLICY_OUTCOMES:
        raise InvalidRequestError(f"the outcome is one of {', '.join(POLICY_OUTCOMES)}, not {outcome!r}")
    if outcome == "failed":
        failure_code = failure_code or "declined"
        if failure_code not in FAILURE_REASONS:
            raise InvalidRequestError(f"unknown failure code {failure_code!r}")
    elif failure_code:
        raise InvalidRequestError("a failure code goes with the outcome 'failed' only")
    else:
        failure_code = None
    policy = policy_get()
    policy = BankPolicy.objects.select_for_update().get(pk=policy.pk)
    if execution_delay_seconds is not None:
        if not 0 <= execution_delay_seconds < float("inf"):
            raise InvalidRequestError("the execution delay is a number of seconds, 0 or more")
        policy.execution_delay_seconds = execution_delay_seconds
    policy.outcome = outcome
    policy.failure_code = failure_code
    policy.save()
    return policy
