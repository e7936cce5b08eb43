"""Typed failures of calls to the bank.

Two families, because the caller acts on them differently:

- ``ProviderTransientError``: the outcome is unknown or the bank asked us to come back later. Retry
  (honouring ``retry_after``) or leave it to the reconciler; never fail a payout on it.
- ``ProviderAnswerError`` and its subclasses: the bank itself gave a definite answer, carrying its
  machine ``code`` and human ``message``.
"""


class ProviderError(Exception):
    """Base class of every failure raised by ``provider``'s bank client."""


class ProviderTransientError(ProviderError):
    """Timeout, connection error, 401/403, 429, 5xx, malformed or unexpected answer: try again later.

    ``retry_after`` is the bank's ``Retry-After`` in seconds when it sent a usable one.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        # All arguments go to args so that the error survives pickling (Celery results, retries).
        super().__init__(message, retry_after)
        self.message = message
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


class ProviderAnswerError(ProviderError):
    """The bank answered with its error envelope ``{"error": {"code", "message"}}``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ProviderRejectedError(ProviderAnswerError):
    """The bank permanently refused a submitted payout (400, or 422 with a failure code)."""


class ProviderNotFoundError(ProviderAnswerError):
    """The bank has no payout with that id (404 ``not_found``)."""


class ProviderCancelRefusedError(ProviderAnswerError):
    """Too late to cancel: the bank already executed the payout (409 ``already_executed``)."""
