"""Debian's Prometheus scrapes the live test server with the project's own scrape config and alert
rules (deploy/prometheus/), the token and target swapped for the test's: a paid payout, a failed
one and one whose webhook the bank delivers twice move the counters by exactly that, as Prometheus's
query API reads them."""

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from django.conf import settings
from rest_framework.test import APIClient

from tests.e2e.conftest import PLAIN_ACCOUNT, acknowledged_twice, create, status_becomes, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
PROMETHEUS = "/usr/bin/prometheus"  # Debian's package `prometheus` (.ci/run installs it)
FAILS_CLOSED = "40702810538000000003"
WEBHOOK_TWICE = "40702810438000000006"

# What each expression must move by: three payouts created through the API, each picked up and
# submitted; two paid, one failed by the bank later; three webhooks applied and one duplicate.
EXPECTED = {
    'sum(payouts_created_total{source="api"})': 3,
    'sum(payouts_transitions_total{to_status="processing"})': 3,
    'sum(payouts_transitions_total{to_status="paid"})': 2,
    'sum(payouts_transitions_total{to_status="failed"})': 1,
    'sum(payouts_transitions_total{to_status="canceled"})': 0,
    'sum(payouts_bank_calls_total{operation="submit_payout",outcome="ok"})': 3,
    'sum(payouts_bank_calls_total{outcome="error"})': 0,
    'sum(payouts_bank_webhooks_total{outcome="applied"})': 3,
    'sum(payouts_bank_webhooks_total{outcome="duplicate"})': 1,
    'sum(payouts_bank_webhooks_total{outcome="anomaly"})': 0,
    "sum(payouts_create_duration_seconds_count)": 3,
    'sum(http_requests_total{method="POST",view="payout-list",status="201"})': 3,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def prometheus(money_path: str, tmp_path: Path) -> Iterator[str]:
    """Prometheus on a free port, scraping the live server every second. Yields its URL."""
    config: dict[str, Any] = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(DEPLOY / "alerts.yml")]
    [job] = config["scrape_configs"]
    job["static_configs"] = [{"targets": [urlsplit(money_path).netloc]}]
    job["authorization"] = {"type": "Bearer", "credentials": settings.METRICS_TOKEN}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = _free_port()
    log = (tmp_path / "prometheus.log").open("w")
    server = subprocess.Popen(  # noqa: S603 (a fixed binary, arguments of the test's own)
        [
            PROMETHEUS,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(url), what="Prometheus to start")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def query(url: str, expression: str) -> float | None:
    body = httpx.get(f"{url}/api/v1/query", params={"query": expression}, timeout=5).json()
    assert body["status"] == "success", body
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def scraped_after(url: str, moment: float) -> None:
    """Wait for a successful scrape that started after MOMENT (Unix time). (`timestamp()` of a bare
    selector is its sample's time; of an expression such as `up == 1`, the query's.)"""
    wait_for(
        lambda: (
            (query(url, 'timestamp(up{job="payouts"})') or 0) > moment + 0.1
            and query(url, 'up{job="payouts"}') == 1
        ),
        what="a successful scrape after the moment",
    )


def test_prometheus_sees_exactly_what_happened(prometheus: str, e2e_api: APIClient, settings: Any) -> None:
    # given Prometheus scraping the service, after the organisation's funding, and a dispatcher that
    # hands each payout out once (the test settings' 0 s would hand a payout still `new` out again
    # at once: a second submit, which the bank deduplicates but the counter rightly counts)
    settings.DISPATCH_RECLAIM_SECONDS = 30.0
    scraped_after(prometheus, time.time())
    before = {expression: query(prometheus, expression) or 0 for expression in EXPECTED}

    # when one payout is paid, one fails at the bank, and one is paid with its webhook sent twice
    paid = create(e2e_api, PLAIN_ACCOUNT, "prom-paid")
    failed = create(e2e_api, FAILS_CLOSED, "prom-failed")
    twice = create(e2e_api, WEBHOOK_TWICE, "prom-twice")
    status_becomes(e2e_api, paid["id"], "paid")
    status_becomes(e2e_api, failed["id"], "failed")
    status_becomes(e2e_api, twice["id"], "paid")
    acknowledged_twice(twice["id"])
    scraped_after(prometheus, time.time())

    # then each counter moved by exactly that, and no more a few scrapes later
    def moved() -> dict[str, float]:
        return {
            expression: (query(prometheus, expression) or 0) - before[expression] for expression in EXPECTED
        }

    assert moved() == EXPECTED
    scraped_after(prometheus, time.time() + 2)
    assert moved() == EXPECTED
    # the state gauges and the usual metrics came along; the project's alert rules loaded, none firing
    assert query(prometheus, "sum(payouts_in_flight)") == 0
    assert query(prometheus, "sum(payouts_stuck)") == 0
    assert query(prometheus, "count(process_resident_memory_bytes)") >= 1
    rules = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
    alerts = {rule["name"] for group in rules for rule in group["rules"] if rule["type"] == "alerting"}
    assert {"PayoutsStuck", "BankWebhookAnomalies", "LedgerCheckFailing"} <= alerts
    assert (
        query(
            prometheus, 'count(ALERTS{alertstate="firing", alertname=~"PayoutsStuck|BankWebhookAnomalies"})'
        )
        is None
    )
