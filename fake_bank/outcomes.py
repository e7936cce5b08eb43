"""What the simulated bank does with a payout: magic account endings first, then the policy.

Plain data and one function, so the table can be read (and tested) on its own. The magic value is
the last four digits of the recipient's ``account_number`` (or of its ``iban``).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

# The failure codes of docs/bank-api.md, with the text the bank puts in ``failure_reason``.
FAILURE_REASONS: Mapping[str, str] = {
    "invalid_account": "The recipient's account does not exist or its details are wrong.",
    "account_closed": "The recipient's account is closed.",
    "account_frozen": "The recipient's account is frozen.",
    "insufficient_funds": "The payer's account has insufficient funds.",
    "declined": "The bank declined the payout.",
    "could_not_process": "The bank could not process the payout.",
}

# What a person (or the policy) makes of a payout: executed as paid, failed, or left waiting.
PolicyOutcome = Literal["paid", "failed", "manual"]
POLICY_OUTCOMES: tuple[PolicyOutcome, ...] = ("paid", "failed", "manual")

Execution = Literal["pay", "fail", "hold"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """The bank's behaviour for one payout.

    - ``refusal_code``: refused at submission with ``422`` and this code; no payout is created.
    - ``execution``: ``pay``, ``fail`` (with ``failure_code``) or ``hold`` (stays ``processing``
      until a person acts, or for ever).
    - ``webhook_copies``: how many times the execution's webhook is delivered: ``0`` = lost (the
      webhook is recorded as dropped and never sent), ``2`` = delivered twice (same webhook-id and
      operation_id).
    """

    refusal_code: str | None = None
    execution: Execution = "pay"
    failure_code: str | None = None
    webhook_copies: int = 1

    def __post_init__(self) -> None:
        if (self.execution == "fail") != (self.failure_code is not None):
            raise ValueError("a failure code goes with execution='fail', and only with it")
        if self.failure_code is not None and self.failure_code not in FAILURE_REASONS:
            raise ValueError(f"unknown failure code: {self.failure_code!r}")
        if self.refusal_code is not None and self.refusal_code not in FAILURE_REASONS:
            raise ValueError(f"unknown refusal code: {self.refusal_code!r}")
        if self.webhook_copies not in (0, 1, 2):
            raise ValueError("webhook_copies is 0, 1 or 2")


# Keyed by the last four digits of the account number (or IBAN).
MAGIC_OUTCOMES: Mapping[str, Outcome] = {
    "0002": Outcome(refusal_code="invalid_account"),
    "0003": Outcome(execution="fail", failure_code="account_closed"),
    "0004": Outcome(execution="fail", failure_code="insufficient_funds"),
    "0005": Outcome(webhook_copies=0),
    "0006": Outcome(webhook_copies=2),
    "0007": Outcome(execution="hold"),
}


def outcome_for(
    *, recipient: Mapping[str, object], policy_outcome: PolicyOutcome, policy_failure_code: str | None
) -> Outcome:
    """The outcome of a payout to ``recipient``: its magic ending if it has one, else the policy's."""
    account = recipient.get("account_number") or recipient.get("iban")
    if isinstance(account, str) and account[-4:] in MAGIC_OUTCOMES:
        return MAGIC_OUTCOMES[account[-4:]]
    if policy_outcome == "failed":
        return Outcome(execution="fail", failure_code=policy_failure_code or "declined")
    if policy_outcome == "manual":
        return Outcome(execution="hold")
    return Outcome()


def parse_policy_outcome(text: str) -> tuple[PolicyOutcome, str | None]:
    """Read ``FAKE_BANK_DEFAULT_OUTCOME``: ``paid``, ``manual``, ``failed`` or ``failed:<code>``.

    Raises ``ValueError`` for anything else (a configuration error).
    """
    outcome, _, code = text.strip().partition(":")
    if outcome == "paid" and not code:
        return "paid", None
    if outcome == "manual" and not code:
        return "manual", None
    if outcome == "failed":
        code = code or "declined"
        if code not in FAILURE_REASONS:
            raise ValueError(f"unknown failure code in the default outcome: {code!r}")
        return "failed", code
    raise ValueError(f"the default outcome is paid, manual, failed or failed:<code>, not {text!r}")


def as_policy_outcome(value: str) -> PolicyOutcome:
    """``value`` as a policy outcome; raises ``ValueError`` for anything else."""
    for outcome in POLICY_OUTCOMES:
        if value == outcome:
            return outcome
    raise ValueError(f"the policy outcome is one of {', '.join(POLICY_OUTCOMES)}, not {value!r}")
