"""Statements per request on the hot endpoints, pinned: a change that adds a query fails here.

Counted with the key already verified once (the web process trusts it for `API_KEY_CACHE_SECONDS`),
as on every request but a worker's first for that key.
"""

from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from payouts.api.filters import PayoutFilter
from payouts.models import Organization, PayoutStatus
from tests.payouts.factories import PayoutFactory

S = PayoutStatus


@pytest.fixture
def warm_api(api: APIClient, organization: Organization) -> APIClient:
    for status in (S.NEW, S.PAID, S.FAILED, S.SUBMITTED):
        PayoutFactory.create_batch(3, organization=organization, status=status)
    assert api.get("/api/payouts/").status_code == 200  # verifies the key once
    return api


def _statements(client: APIClient, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return [q["sql"] for q in queries.captured_queries]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "",
        "?status=failed",
        "?status=paid&status=failed",
        "?currency=RUB",
        "?created_after=2020-01-01T00:00:00Z",
        "?created_before=2100-01-01T00:00:00Z",
        "?amount_min=1&amount_max=1000000",
        "?page_size=2",
    ],
)
def test_a_list_page_is_one_statement_never_distinct(warm_api: APIClient, query: str) -> None:
    statements = _statements(warm_api, f"/api/payouts/{query}")

    assert len(statements) == 1, statements
    assert not [sql for sql in statements if "DISTINCT" in sql.upper()]


@pytest.mark.django_db
def test_a_page_deep_in_the_cursor_is_one_statement(warm_api: APIClient) -> None:
    next_url = warm_api.get("/api/payouts/?page_size=2").json()["next"]

    assert len(_statements(warm_api, next_url)) == 1


@pytest.mark.django_db
def test_balance_is_one_statement(warm_api: APIClient, organization: Organization) -> None:
    assert len(_statements(warm_api, f"/api/organizations/{organization.inn}/balance/")) == 1


@pytest.mark.django_db
def test_balance_history_is_one_statement(
    warm_api: APIClient, organization: Organization, settings: Any
) -> None:
    statements = _statements(warm_api, f"/api/organizations/{organization.inn}/balance/history/")

    assert len(statements) == 1, statements


@pytest.mark.django_db(transaction=True)
def test_a_create_is_one_statement_that_commits_by_itself(
    warm_api: APIClient, payout_body: dict[str, Any]
) -> None:
    # given a key the process has verified, and no test transaction around the request (as in
    # production: autocommit)
    with CaptureQueriesContext(connection) as queries:
        response = warm_api.post("/api/payouts/", payout_body, format="json", HTTP_IDEMPOTENCY_KEY="count-1")

    # then: the payout, its event and the hold (balance checked and row locked by one UPDATE) in one
    # statement, which is its own transaction; nothing read back for the answer
    assert response.status_code == 201, response.content
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert statements == ["WITH"], statements
    assert [e["to_status"] for e in response.json()["events"]] == ["new"]


@pytest.mark.django_db(transaction=True)
def test_a_replay_reads_the_winner_only_after_the_insert_meets_the_key(
    warm_api: APIClient, payout_body: dict[str, Any]
) -> None:
    first = warm_api.post("/api/payouts/", payout_body, format="json", HTTP_IDEMPOTENCY_KEY="count-2")

    with CaptureQueriesContext(connection) as queries:
        again = warm_api.post("/api/payouts/", payout_body, format="json", HTTP_IDEMPOTENCY_KEY="count-2")

    # then: the statement that inserted nothing, the key's payout, and the payout with its events
    # read again for the answer (as it is now)
    assert (again.status_code, again.json()) == (200, first.json())
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert statements == ["WITH", "SELECT", "SELECT", "SELECT"], statements


@pytest.mark.django_db
def test_inside_a_transaction_a_create_is_one_statement_in_a_savepoint(
    warm_api: APIClient, payout_body: dict[str, Any]
) -> None:
    # given the test's transaction around the request (a batch of payouts would be the same)
    with CaptureQueriesContext(connection) as queries:
        response = warm_api.post("/api/payouts/", payout_body, format="json", HTTP_IDEMPOTENCY_KEY="count-3")

    # then: a refused hold could roll back to the savepoint without aborting the caller's transaction
    assert response.status_code == 201, response.content
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert statements == ["SAVEPOINT", "WITH", "RELEASE"], statements


@pytest.mark.django_db
def test_an_unfiltered_page_builds_no_filterset_a_filtered_one_does(warm_api: APIClient) -> None:
    with mock.patch.object(
        PayoutFilter, "__init__", side_effect=PayoutFilter.__init__, autospec=True
    ) as built:
        unfiltered = warm_api.get("/api/payouts/")
        assert built.call_count == 0
        filtered = warm_api.get("/api/payouts/?status=failed")
        assert built.call_count == 1

    assert len(unfiltered.json()["results"]) == 12
    assert {item["status"] for item in filtered.json()["results"]} == {"failed"}
