"""Idempotency keys for the bank's writes (Stripe's documented behaviour, docs/bank-api.md).

The first answer under a key is stored in the same transaction as the write's effect and replayed
for the same request; the same key with another request is ``409 idempotency_key_reused``. A bad
request (400) or an unknown object (404) did nothing and is not stored. A simultaneous duplicate
waits on the key's unique index while the first request commits, then replays its answer.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from fake_bank.errors import BankError, IdempotencyKeyReusedError
from fake_bank.models import IdempotencyRecord
from fake_bank.representations import error_json

# Domain answers are replayed; a malformed request or an unknown id changed nothing and is not.
REPLAYED_ERROR_STATUSES = frozenset({409, 422})


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]
    replayed: bool = False


def request_fingerprint(body: object) -> str:
    """sha256 of the body as canonical JSON (sorted keys, no spaces): key order does not matter."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent_answer(*, key: str, request_path: str, body: object, handler: Callable[[], Answer]) -> Answer:
    """The answer to a write under ``key``: the stored one for a repeat, ``handler()``'s otherwise.

    ``handler`` runs inside a savepoint with the record's insert, so its effect and the stored
    answer commit together or not at all; its ``BankError`` with a 409 or 422 status is stored and
    answered like a success, any other ``BankError`` propagates and stores nothing.

    Raises ``IdempotencyKeyReusedError`` when the key was used for another path or body.
    """
    fingerprint = request_fingerprint(body)
    with transaction.atomic():
        stored = IdempotencyRecord.objects.filter(key=key).first()
        if stored is not None:
            return _replay(stored, request_path=request_path, fingerprint=fingerprint)
        try:
            with transaction.atomic():
                answer = _answer_of(handler)
                IdempotencyRecord.objects.create(
                    key=key,
                    request_path=request_path,
                    request_fingerprint=fingerprint,
                    response_status=answer.status,
                    response_body=answer.body,
                )
        except IntegrityError:
            # A request under the same key committed while we worked: we waited for it on a unique
            # index (the key's, or the effect's own, like a payout's reference). Its answer wins.
            stored = IdempotencyRecord.objects.filter(key=key).first()
            if stored is None:
                raise
            return _replay(stored, request_path=request_path, fingerprint=fingerprint)
        return answer


def _answer_of(handler: Callable[[], Answer]) -> Answer:
    try:
        return handler()
    except BankError as exc:
        if exc.http_status not in REPLAYED_ERROR_STATUSES:
            raise
        return Answer(exc.http_status, error_json(exc.code, exc.message))


def _replay(stored: IdempotencyRecord, *, request_path: str, fingerprint: str) -> Answer:
    if stored.request_path != request_path or stored.request_fingerprint != fingerprint:
        raise IdempotencyKeyReusedError(
            "this Idempotency-Key was already used with another request; use a new key"
        )
    return Answer(stored.response_status, stored.response_body, replayed=True)
