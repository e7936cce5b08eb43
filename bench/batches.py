"""Batches in the bench: a CSV of N items sent in one request, and how long it took to be accepted."""

import http.client
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

CSV_HEADER = "amount,currency,name,account_number,bic,iban,description,reference"


@dataclass(frozen=True)
class Accepted:
    items: int
    bytes: int
    seconds: float  # request sent to 201 received


def csv_file(items: int, recipient: dict[str, str]) -> bytes:
    rows = [CSV_HEADER]
    rows += [
        f"1.00,RUB,{recipient['name']},{recipient['account_number']},{recipient['bic']},,bench batch,item-{n}"
        for n in range(items)
    ]
    return ("\n".join(rows) + "\n").encode()


def send(*, base_url: str, api_key: str, body: bytes, key: str) -> Accepted:
    """POST the CSV; raises unless the answer is 201."""
    host = urlsplit(base_url)
    connection = http.client.HTTPConnection(host.hostname or "127.0.0.1", host.port, timeout=120)
    headers = {"Authorization": f"Api-Key {api_key}", "Content-Type": "text/csv", "Idempotency-Key": key}
    try:
        started = time.monotonic()
        connection.request("POST", "/api/payout-batches/", body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        seconds = time.monotonic() - started
    finally:
        connection.close()
    if response.status != 201:
        raise RuntimeError(f"batch: HTTP {response.status} {answer[:300]!r}")
    return Accepted(items=body.count(b"\n") - 1, bytes=len(body), seconds=seconds)
