"""INN (Russian taxpayer number) checks through python-stdnum."""

from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.ru import inn as stdnum_inn


def normalize_inn(value: str) -> str:
    """The INN's 10 or 12 digits; raises ValueError when the length or the checksum is wrong."""
    try:
        compact: str = stdnum_inn.validate(value)
    except StdnumValidationError as exc:
        raise ValueError(f"{value!r} is not a valid INN (10 or 12 digits with a valid checksum).") from exc
    return compact
