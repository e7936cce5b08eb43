"""Client webhooks in the bench: ten endpoints registered through the API (nine answering, one
never), and the database's view of their deliveries."""

import http.client
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg

ANSWERING_ENDPOINTS = 9


@dataclass(frozen=True)
class Drain:
    """After a round: how long until every message to the answering endpoints had succeeded (None:
    not within the timeout), how many there were, and the attempts the silent endpoint had had."""

    seconds: float | None
    delivered: int
    silent_attempts: int
    # From each event to its message's successful attempt, over the answering endpoints' messages.
    lag_p50_seconds: float = 0.0
    lag_max_seconds: float = 0.0


def register_endpoints(*, base_url: str, api_key: str, ok_port: int, dead_port: int) -> None:
    """Nine endpoints on OK_PORT and one on DEAD_PORT, each subscribed to every event type."""
    urls = [f"http://127.0.0.1:{ok_port}/hook/{n}" for n in range(ANSWERING_ENDPOINTS)]
    urls.append(f"http://127.0.0.1:{dead_port}/hook/silent")
    host = urlsplit(base_url)
    connection = http.client.HTTPConnection(host.hostname or "127.0.0.1", host.port, timeout=30)
    try:
        for url in urls:
            body = json.dumps({"url": url, "enabled_events": ["*"]})
            headers = {"Authorization": f"Api-Key {api_key}", "Content-Type": "application/json"}
            connection.request("POST", "/api/webhook-endpoints/", body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            if response.status != 201:
                raise RuntimeError(f"registering {url}: HTTP {response.status} {answer[:200]!r}")
    finally:
        connection.close()


_DELIVERIES = """
SELECT count(*) FILTER (WHERE w.url NOT LIKE %(silent)s AND d.status <> 'succeeded'),
       count(*) FILTER (WHERE w.url NOT LIKE %(silent)s AND d.status = 'succeeded'),
       coalesce(sum(d.attempts) FILTER (WHERE w.url LIKE %(silent)s), 0)
FROM payouts_webhookdelivery d
JOIN payouts_webhookendpoint w ON w.id = d.endpoint_id
JOIN payouts_organization o ON o.id = w.organization_id
WHERE o.inn = %(inn)s
"""

_LAG = """
SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY lag), 0), coalesce(max(lag), 0)
FROM (
  SELECT extract(epoch FROM d.last_attempt_at - e.created_at) AS lag
  FROM payouts_webhookdelivery d
  JOIN payouts_event e ON e.id = d.event_id
  JOIN payouts_webhookendpoint w ON w.id = d.endpoint_id
  JOIN payouts_organization o ON o.id = w.organization_id
  WHERE o.inn = %(inn)s AND w.url NOT LIKE %(silent)s AND d.status = 'succeeded'
) lags
"""

_UNFANNED = """
SELECT count(*) FROM payouts_event e JOIN payouts_organization o ON o.id = e.organization_id
WHERE o.inn = %(inn)s AND e.fanned_out_at IS NULL
"""


def wait_answering_delivered(
    database_url: str, *, inn: str, dead_port: int, timeout: float, say: Callable[[str], None]
) -> Drain:
    """Wait until the organisation's events are all fanned out and every message to its answering
    endpoints has succeeded, at most TIMEOUT seconds."""
    started = time.monotonic()
    params = {"inn": inn, "silent": f"%:{dead_port}/%"}
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            unfanned_row = conn.execute(_UNFANNED, params).fetchone()
            row = conn.execute(_DELIVERIES, params).fetchone()
            assert row is not None and unfanned_row is not None
            waiting, delivered, silent_attempts = (int(value) for value in row)
            elapsed = time.monotonic() - started
            if unfanned_row[0] == 0 and waiting == 0 and delivered:
                lags = conn.execute(_LAG, params).fetchone()
                assert lags is not None
                p50, longest = (float(value) for value in lags)
                say(
                    f"webhooks: {delivered} messages delivered {elapsed:.1f} s after the round; "
                    f"from event to delivery p50 {p50:.1f} s, max {longest:.1f} s"
                )
                return Drain(
                    seconds=elapsed,
                    delivered=delivered,
                    silent_attempts=silent_attempts,
                    lag_p50_seconds=p50,
                    lag_max_seconds=longest,
                )
            if elapsed > timeout:
                say(f"webhooks: {waiting} messages still waiting after {timeout:.0f} s")
                return Drain(seconds=None, delivered=delivered, silent_attempts=silent_attempts)
            time.sleep(0.5)
