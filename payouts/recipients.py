"""Checks of a recipient's bank details: an IBAN, or a Russian account number with its bank's BIC."""

import re

from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumValidationError

_DIGITS_20 = re.compile(r"[0-9]{20}")  # ASCII digits, matched whole (fullmatch)
_DIGITS_9 = re.compile(r"[0-9]{9}")
# The Bank of Russia's control-key weights, applied to 3 BIC-derived digits + the 20-digit account.
_WEIGHTS = ((7, 1, 3) * 8)[:23]


def normalize_iban(value: str) -> str:
    """The IBAN in its compact form; raises ValueError when it is not a valid IBAN."""
    try:
        compact: str = stdnum_iban.validate(value)
    except StdnumValidationError as exc:
        raise ValueError("Enter a valid IBAN.") from exc
    return compact


def validate_bic(bic: str) -> None:
    if not _DIGITS_9.fullmatch(bic):
        raise ValueError("A BIC is 9 digits.")
    if not bic.startswith("04"):
        raise ValueError("A Russian BIC starts with 04.")


def validate_ru_account(account_number: str, bic: str) -> None:
    """The Bank of Russia control-key check of a 20-digit account against its bank's BIC.

    For a credit institution the three digits before the account are the BIC's last three; for a
    cash settlement centre (BIC ending 000-002) they are "0" and the BIC's 5th and 6th digits.
    """
    if not _DIGITS_20.fullmatch(account_number):
        raise ValueError("An account number is 20 digits.")
    prefix = "0" + bic[4:6] if bic[6:9] in {"000", "001", "002"} else bic[6:9]
    digits = prefix + account_number
    if sum(int(d) * w for d, w in zip(digits, _WEIGHTS, strict=True)) % 10 != 0:
        raise ValueError("The account number does not match the BIC (control key check failed).")
