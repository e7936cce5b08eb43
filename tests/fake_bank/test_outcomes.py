from typing import Any

import pytest

from fake_bank.outcomes import (
    FAILURE_REASONS,
    MAGIC_OUTCOMES,
    Outcome,
    PolicyOutcome,
    as_policy_outcome,
    outcome_for,
    parse_policy_outcome,
)

BIC = "044525225"


def _account(number: str) -> dict[str, str]:
    return {"name": "Ivan Petrov", "account_number": number, "bic": BIC}


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        ("40702810938000000001", Outcome()),
        ("40702810238000000002", Outcome(refusal_code="invalid_account")),
        ("40702810538000000003", Outcome(execution="fail", failure_code="account_closed")),
        ("40702810838000000004", Outcome(execution="fail", failure_code="insufficient_funds")),
        ("40702810138000000005", Outcome(webhook_copies=0)),
        ("40702810438000000006", Outcome(webhook_copies=2)),
        ("40702810738000000007", Outcome(execution="hold")),
    ],
)
def test_outcome_for_account_ending(account: str, expected: Any) -> None:
    # given a paying policy
    # when the bank decides the outcome for a Russian account
    outcome = outcome_for(recipient=_account(account), policy_outcome="paid", policy_failure_code=None)
    # then the last four digits pick it
    assert outcome == expected


def test_outcome_for_iban_uses_its_last_four_digits() -> None:
    # given an IBAN ending in 0004
    recipient = {"name": "Hans Meier", "iban": "DE83370400440532010004"}
    # when
    outcome = outcome_for(recipient=recipient, policy_outcome="paid", policy_failure_code=None)
    # then
    assert outcome == MAGIC_OUTCOMES["0004"]


@pytest.mark.parametrize(
    ("policy", "code", "expected"),
    [
        ("paid", None, Outcome()),
        ("failed", "account_frozen", Outcome(execution="fail", failure_code="account_frozen")),
        ("failed", None, Outcome(execution="fail", failure_code="declined")),
        ("manual", None, Outcome(execution="hold")),
    ],
)
def test_outcome_for_ordinary_account_follows_policy(policy: PolicyOutcome, code: str, expected: Any) -> None:
    # given an account without a magic ending
    # when
    outcome = outcome_for(
        recipient=_account("40702810938000000001"), policy_outcome=policy, policy_failure_code=code
    )
    # then
    assert outcome == expected


def test_outcome_for_magic_ending_beats_policy() -> None:
    # given a manual policy
    # when the account ends in 0003
    outcome = outcome_for(
        recipient=_account("40702810538000000003"), policy_outcome="manual", policy_failure_code=None
    )
    # then the magic value wins
    assert outcome.failure_code == "account_closed"


def test_magic_outcomes_use_known_failure_codes() -> None:
    # given / when / then: every code in the table is one the bank documents
    for outcome in MAGIC_OUTCOMES.values():
        for code in (outcome.refusal_code, outcome.failure_code):
            assert code is None or code in FAILURE_REASONS


@pytest.mark.parametrize(
    "kwargs",
    [
        {"execution": "fail"},
        {"failure_code": "declined"},
        {"execution": "fail", "failure_code": "no_such_code"},
        {"refusal_code": "nope"},
        {"webhook_copies": 3},
    ],
)
def test_outcome_rejects_inconsistent_fields(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        Outcome(**kwargs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("paid", ("paid", None)),
        ("manual", ("manual", None)),
        ("failed", ("failed", "declined")),
        ("failed:insufficient_funds", ("failed", "insufficient_funds")),
        (" paid ", ("paid", None)),
    ],
)
def test_parse_policy_outcome_reads_setting(text: str, expected: Any) -> None:
    assert parse_policy_outcome(text) == expected


@pytest.mark.parametrize("text", ["", "pay", "paid:declined", "failed:nope", "manual:x"])
def test_parse_policy_outcome_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match=r"outcome|failure code"):
        parse_policy_outcome(text)


def test_as_policy_outcome_rejects_unknown() -> None:
    assert as_policy_outcome("manual") == "manual"
    with pytest.raises(ValueError, match="policy outcome"):
        as_policy_outcome("stuck")
