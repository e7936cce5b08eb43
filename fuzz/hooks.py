"""Schemathesis hooks for `make fuzz` (loaded through SCHEMATHESIS_HOOKS=fuzz.hooks).

Two rules of a create cannot be written in JSON Schema: text must be printable (Python's
`str.isprintable`: the schema's pattern names the control characters, not the unassigned or
formatting ones random Unicode is full of), and an account number must pass the Bank of Russia
control-key check against its BIC (one generated pair in ten does). And a third is about history:
an Idempotency-Key is unique per payout, while generated keys are short and repeat ("0"), so most
valid creates would meet an earlier key and be refused (409). Without help almost every positive
create is refused for one of them, and the stateful sequences that follow a create (read, cancel,
delete the payout) rarely get a payout to work on.

So a create generated as valid (positive mode) is brought within those rules: characters Python
does not print are dropped from the text fields, the account's control digit is set for its BIC,
and the key gets a suffix no other create of this process has. Everything else stays as generated;
a create generated as invalid (negative mode) is sent untouched, and the schema's examples (sent
again and again with their keys) still meet earlier keys: replays (200) and reuses (409).
"""

import itertools
from typing import Any

import schemathesis
from schemathesis.core.parameters import ParameterLocation

CREATE = "payouts_create"
# The Bank of Russia's control-key weights over 3 BIC-derived digits and the 20-digit account, and
# the position of the account's control digit (`payouts.recipients.validate_ru_account`).
WEIGHTS = ((7, 1, 3) * 8)[:23]
CONTROL_DIGIT = 8
FALLBACK_NAME = "Ivan Petrov"
IDEMPOTENCY_KEY = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX_LENGTH = 255  # `payouts.api.views`
_key_suffixes = itertools.count(1)


def control_keyed(account_number: str, bic: str) -> str:
    """ACCOUNT_NUMBER with its control digit set so that it passes the check against BIC."""
    prefix = "0" + bic[4:6] if bic[6:9] in {"000", "001", "002"} else bic[6:9]
    digits = [int(d) for d in prefix + account_number]
    digits[3 + CONTROL_DIGIT] = 0
    remainder = sum(d * w for d, w in zip(digits, WEIGHTS, strict=True)) % 10
    # The control digit's weight is 3 (7, 1, 3 repeating; it is the 12th digit): solve 3x = -r mod 10.
    control = (-remainder * 7) % 10  # 7 is 3's inverse modulo 10
    return account_number[:CONTROL_DIGIT] + str(control) + account_number[CONTROL_DIGIT + 1 :]


def printable(text: str) -> str:
    return "".join(char for char in text if char.isprintable())


def _within_the_unwritten_rules(body: dict[str, Any]) -> dict[str, Any]:
    body = dict(body)
    if isinstance(body.get("description"), str):
        body["description"] = printable(body["description"])
    recipient = body.get("recipient")
    if isinstance(recipient, dict):
        recipient = dict(recipient)
        if isinstance(recipient.get("name"), str):
            recipient["name"] = printable(recipient["name"]).strip() or FALLBACK_NAME
        account, bic = recipient.get("account_number"), recipient.get("bic")
        if (
            isinstance(account, str)
            and isinstance(bic, str)
            and len(account) == 20
            and account.isdigit()
            and account.isascii()
            and len(bic) == 9
            and bic.isdigit()
            and bic.isascii()
        ):
            recipient["account_number"] = control_keyed(account, bic)
        body["recipient"] = recipient
    return body


def _unique(key: str) -> str:
    suffix = f"-{next(_key_suffixes)}"
    return key[: IDEMPOTENCY_KEY_MAX_LENGTH - len(suffix)] + suffix


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: schemathesis.Case[Any]) -> schemathesis.Case[Any]:
    operation = context.operation
    if operation is None or operation.definition.raw.get("operationId") != CREATE or case.meta is None:
        return case
    if isinstance(case.body, dict) and not case.meta.is_negative_at(ParameterLocation.BODY):
        case.body = _within_the_unwritten_rules(case.body)
    key = case.headers.get(IDEMPOTENCY_KEY)
    if isinstance(key, str) and key.strip() and not case.meta.is_negative_at(ParameterLocation.HEADER):
        case.headers[IDEMPOTENCY_KEY] = _unique(key)
    return case
