from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from payouts import tasks
from payouts.bank.submission import payouts_claim_new
from payouts.models import EntryKind, LedgerEntry, Organization, Payout, PayoutEvent
from tests.concurrency import run_at_once
from tests.payouts.factories import client_for, fund

URL = "/api/payouts/"


def post(api: APIClient, body: dict[str, Any], key: str = "key-1") -> Any:
    return api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_create_payout_returns_201_and_stores_the_row(
    api: APIClient, organization: Organization, payout_body: dict[str, Any]
) -> None:
    response = post(api, payout_body)

    assert response.status_code == 201
    body = response.json()
    assert body["amount"] == "100.50"
    assert body["currency"] == "RUB"
    assert body["status"] == "new"
    assert body["recipient"] == payout_body["recipient"]
    assert body["description"] == "March fee"
    assert body["failure_code"] == "" and body["bank_reference"] == ""
    assert [e["to_status"] for e in body["events"]] == ["new"]
    payout = Payout.objects.get(pk=body["id"])
    assert payout.organization == organization
    assert payout.amount == Decimal("100.50")
    assert payout.idempotency_key == "key-1"


@pytest.mark.django_db(transaction=True)
def test_create_payout_publishes_nothing_and_the_dispatcher_sees_it_only_once_committed(
    organization: Organization, payout_body: dict[str, Any]
) -> None:
    # given a create inside a transaction not yet committed (as a batch's would be)
    api = client_for(organization)
    with (
        mock.patch.object(tasks.process_payout, "delay") as delay,
        mock.patch.object(tasks.process_payouts, "delay") as delay_many,
    ):
        with transaction.atomic():
            response = post(api, payout_body)
            # then another connection (the dispatcher's) does not see it yet
            before_commit = run_at_once(
                lambda _: payouts_claim_new(limit=10, reclaim_after_seconds=30), count=1
            )[0]
        after_commit = payouts_claim_new(limit=10, reclaim_after_seconds=30)

    # and once committed it does; the request itself published nothing
    assert response.status_code == 201
    assert before_commit == []
    assert [str(pid) for pid in after_commit] == [response.json()["id"]]
    delay.assert_not_called()
    delay_many.assert_not_called()


@pytest.mark.django_db
def test_create_payout_replay_with_same_body_returns_200_and_queues_nothing(
    api: APIClient, payout_body: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    first = post(api, payout_body)
    with django_capture_on_commit_callbacks() as callbacks:
        replay = post(api, payout_body)

    assert replay.status_code == 200
    assert replay.json()["id"] == first.json()["id"]
    assert callbacks == []
    assert Payout.objects.count() == 1


@pytest.mark.django_db
def test_create_payout_replay_treats_equal_amount_spellings_as_the_same_request(
    api: APIClient, payout_body: dict[str, Any]
) -> None:
    first = post(api, {**payout_body, "amount": "100"})
    replay = post(api, {**payout_body, "amount": 100})
    assert replay.status_code == 200
    assert replay.json()["id"] == first.json()["id"]


@pytest.mark.django_db
def test_create_payout_same_key_different_body_is_409(api: APIClient, payout_body: dict[str, Any]) -> None:
    first = post(api, payout_body)
    conflict = post(api, {**payout_body, "amount": "200.00"})

    assert conflict.status_code == 409
    error = conflict.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert error["details"]["payout_id"] == first.json()["id"]
    assert Payout.objects.count() == 1


@pytest.mark.django_db
def test_create_payout_same_key_in_two_organisations_makes_two_payouts(
    api: APIClient, other_api: APIClient, payout_body: dict[str, Any]
) -> None:
    assert post(api, payout_body).status_code == 201
    assert post(other_api, payout_body).status_code == 201
    assert Payout.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key", [None, "", "k" * 256, "bad\nkey"], ids=["missing", "empty", "too-long", "control"]
)
def test_create_payout_without_a_valid_idempotency_key_is_400(
    api: APIClient, payout_body: dict[str, Any], key: str | None
) -> None:
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    response = api.post(URL, payout_body, format="json", **headers)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["details"]
    assert not Payout.objects.exists()


@pytest.mark.django_db
def test_create_payout_accepts_a_255_character_key(api: APIClient, payout_body: dict[str, Any]) -> None:
    assert post(api, payout_body, key="k" * 255).status_code == 201


@pytest.mark.django_db
def test_create_payout_by_operator_is_403(operator_api: APIClient, payout_body: dict[str, Any]) -> None:
    response = post(operator_api, payout_body)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.django_db(transaction=True)
def test_create_payout_simultaneous_requests_with_one_key_make_one_payout_and_one_hold(
    organization: Organization, payout_body: dict[str, Any]
) -> None:
    # given ten clients sending the same request with the same key at the same instant
    threads_count = 10
    clients = [client_for(organization) for _ in range(threads_count)]

    def send(i: int) -> tuple[int, str]:
        response = post(clients[i], payout_body, key="same-key")
        return response.status_code, response.json()["id"]

    results = run_at_once(send, threads_count)
    statuses = [status for status, _ in results]
    ids = {payout_id for _, payout_id in results}

    # then one payout, one 201, the rest replays of it, one event, one hold, handed over once
    assert sorted(statuses) == [200] * (threads_count - 1) + [201]
    assert len(ids) == 1
    assert Payout.objects.count() == 1
    assert PayoutEvent.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=EntryKind.PENDING).count() == 1
    assert [str(pid) for pid in payouts_claim_new(limit=10, reclaim_after_seconds=30)] == list(ids)


@pytest.mark.django_db
def test_create_payout_replay_after_delete_returns_the_same_payout(
    api: APIClient, payout_body: dict[str, Any]
) -> None:
    first = post(api, payout_body)
    assert api.delete(f"/api/payouts/{first.json()['id']}/").status_code == 204

    replay = post(api, payout_body)

    assert replay.status_code == 200
    assert replay.json()["id"] == first.json()["id"]
    assert replay.json()["status"] == "canceled"
    assert Payout.objects.count() == 1


@pytest.mark.django_db
def test_created_amount_reads_as_the_detail_shows_it_for_a_currency_without_minor_units(
    api: APIClient, settings: Any, payout_body: dict[str, Any], organization: Organization
) -> None:
    settings.PAYOUT_CURRENCIES = [*settings.PAYOUT_CURRENCIES, "JPY"]
    fund(organization, "1000.00", "JPY")

    created = api.post(
        URL, {**payout_body, "currency": "JPY", "amount": "100"}, format="json", HTTP_IDEMPOTENCY_KEY="jpy-1"
    )

    assert created.status_code == 201, created.content
    assert created.json()["amount"] == api.get(f"{URL}{created.json()['id']}/").json()["amount"] == "100.00"
