"""What the bank says, as JSON, for respx routes and signed webhooks in tests."""

import json
import time
from typing import Any

from payouts.models import Payout
from payouts.money import to_minor_units
from provider.signatures import sign

BANK_URL = "http://bank.test/api"


def bank_payout_json(
    payout: Payout, *, status: str = "processing", bank_id: str = "bp_1", **extra: Any
) -> dict[str, Any]:
    return {
        "id": bank_id,
        "reference": str(payout.pk),
        "status": status,
        "amount": to_minor_units(payout.amount, payout.currency),
        "currency": payout.currency,
        "recipient": payout.recipient,
        "description": payout.description,
        "failure_code": None,
        "failure_reason": None,
        "created_at": "2026-11-22T07:30:00+00:00",
        "executed_at": None,
        **extra,
    }


def signed_webhook(
    body: dict[str, Any] | bytes,
    *,
    secret_keys: list[str],
    msg_id: str = "msg_1",
    timestamp: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {
        "HTTP_WEBHOOK_ID": msg_id,
        "HTTP_WEBHOOK_TIMESTAMP": str(ts),
        "HTTP_WEBHOOK_SIGNATURE": sign(secret_keys=secret_keys, msg_id=msg_id, timestamp=ts, body=raw),
    }
    return raw, headers
