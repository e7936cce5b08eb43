"""The money path end to end: a small HTTP client that creates payouts (as fast as the API answers,
or at a fixed rate), and the database's view of how long each took to be paid.

Times come from the database, not the client: `created_at` is stamped by the web process in the
create's transaction, `paid_at` by the one that accepts the bank's webhook.
"""

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import psycopg

TERMINAL_NOT_PAID = ("failed", "canceled")


@dataclass(frozen=True)
class Creates:
    count: int
    seconds: float  # first request sent to last answer received
    late_max_ms: float = 0.0  # at a fixed rate: the latest a request left after its scheduled time


@dataclass(frozen=True)
class Timings:
    payouts: int
    first_created: float  # epoch seconds
    last_paid: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def payouts_per_second(self) -> float:
        return self.payouts / (self.last_paid - self.first_created)


def _creates(
    *,
    base_url: str,
    api_key: str,
    body: str,
    count: int,
    connections: int,
    key_prefix: str,
    wait_turn: Callable[[int], float],
) -> Creates:
    """COUNT creates over CONNECTIONS keep-alive connections, one thread each; a thread takes the next
    number, waits its turn (`wait_turn(number)` sleeps and answers how late it is, in seconds), sends.
    Any answer other than 201 fails the run once every thread has stopped."""
    host = urlsplit(base_url)
    lock = threading.Lock()
    next_number = 0
    errors: list[str] = []
    late: list[float] = [0.0]

    def work() -> None:
        nonlocal next_number
        connection = http.client.HTTPConnection(host.hostname or "127.0.0.1", host.port, timeout=30)
        try:
            while True:
                with lock:
                    if next_number >= count or errors:
                        return
                    number = next_number
                    next_number += 1
                lateness = wait_turn(number)
                headers = {
                    "Authorization": f"Api-Key {api_key}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": f"{key_prefix}-{number}",
                }
                connection.request("POST", "/api/payouts/", body=body, headers=headers)
                response = connection.getresponse()
                answer = response.read()
                with lock:
                    late[0] = max(late[0], lateness)
                    if response.status != 201:
                        errors.append(f"HTTP {response.status}: {answer[:300]!r}")
        except (OSError, http.client.HTTPException) as exc:
            with lock:
                errors.append(repr(exc))
        finally:
            connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=work) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    if errors:
        raise RuntimeError(f"creating payouts failed ({len(errors)} errors), first: {errors[0]}")
    return Creates(count=count, seconds=seconds, late_max_ms=late[0] * 1000)


def create_burst(
    *, base_url: str, api_key: str, body: str, count: int, connections: int, key_prefix: str
) -> Creates:
    """COUNT creates as fast as the API answers CONNECTIONS clients (a closed loop)."""
    return _creates(
        base_url=base_url,
        api_key=api_key,
        body=body,
        count=count,
        connections=connections,
        key_prefix=key_prefix,
        wait_turn=lambda _number: 0.0,
    )


def create_at_rate(
    *, base_url: str, api_key: str, body: str, rate: float, seconds: float, connections: int, key_prefix: str
) -> Creates:
    """RATE creates a second for SECONDS, each sent at its scheduled time (an open loop, as long as a
    free connection is there; `late_max_ms` says when one was not)."""
    count = round(rate * seconds)
    start = time.monotonic() + 0.1

    def wait_turn(number: int) -> float:
        due = start + number / rate
        now = time.monotonic()
        if now < due:
            time.sleep(due - now)
            return 0.0
        return now - due

    return _creates(
        base_url=base_url,
        api_key=api_key,
        body=body,
        count=count,
        connections=connections,
        key_prefix=key_prefix,
        wait_turn=wait_turn,
    )


_STATUSES = """
SELECT p.status, count(*) FROM payouts_payout p JOIN payouts_organization o ON o.id = p.organization_id
WHERE o.inn = %(inn)s GROUP BY p.status
"""

_TIMINGS = """
SELECT count(*),
       extract(epoch FROM min(p.created_at)), extract(epoch FROM max(p.paid_at)),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM p.paid_at - p.created_at)),
       percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM p.paid_at - p.created_at)),
       extract(epoch FROM max(p.paid_at - p.created_at))
FROM payouts_payout p JOIN payouts_organization o ON o.id = p.organization_id
WHERE o.inn = %(inn)s AND p.status = 'paid'
"""


def statuses(database_url: str, inn: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        return {status: int(n) for status, n in conn.execute(_STATUSES, {"inn": inn}).fetchall()}


def wait_all_paid(
    database_url: str, *, inn: str, count: int, timeout: float, say: Callable[[str], None]
) -> None:
    """Until the organisation's COUNT payouts are all `paid`; raises as soon as one is failed or
    canceled, or when TIMEOUT seconds pass."""
    deadline = time.monotonic() + timeout
    reported = time.monotonic()
    while True:
        found = statuses(database_url, inn)
        if any(found.get(status) for status in TERMINAL_NOT_PAID):
            raise RuntimeError(f"payouts of {inn} ended other than paid: {found}")
        if found.get("paid", 0) == count and sum(found.values()) == count:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"not all {count} payouts of {inn} paid after {timeout:.0f}s: {found}")
        if time.monotonic() - reported > 10:
            say(f"waiting for {count} payouts to be paid: {found}")
            reported = time.monotonic()
        time.sleep(0.25)


def timings(database_url: str, inn: str) -> Timings:
    with psycopg.connect(database_url) as conn:
        row: Any = conn.execute(_TIMINGS, {"inn": inn}).fetchone()
    count, first_created, last_paid, p50, p99, longest = row
    return Timings(
        payouts=int(count),
        first_created=float(first_created),
        last_paid=float(last_paid),
        p50_ms=float(p50) * 1000,
        p99_ms=float(p99) * 1000,
        max_ms=float(longest) * 1000,
    )


def payout_body(recipient: dict[str, str], description: str) -> str:
    return json.dumps(
        {"amount": "1.00", "currency": "RUB", "recipient": recipient, "description": description}
    )
