"""Simultaneous duplicates against the real database, with real threads."""

import json
import threading
import uuid
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from fake_bank.models import BankPayout, IdempotencyRecord
from tests.fake_bank.conftest import ACCOUNTS, API, API_TOKEN, TaskQueue, payout_body

THREADS = 10


def _post_concurrently(body: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    barrier = threading.Barrier(THREADS)
    results: list[tuple[int, dict[str, Any]]] = []
    errors: list[BaseException] = []

    def post() -> None:
        try:
            client = Client(HTTP_AUTHORIZATION=f"Bearer {API_TOKEN}")
            barrier.wait()
            response = client.post(
                f"{API}/payouts",
                data=json.dumps(body),
                content_type="application/json",
                headers={"Idempotency-Key": key},
            )
            results.append((response.status_code, response.json()))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


@pytest.mark.django_db(transaction=True)
def test_submit_same_key_from_ten_threads_creates_one_payout(task_queue: TaskQueue) -> None:
    # given one request, sent by ten clients at the same moment
    body = payout_body()
    # when
    results = _post_concurrently(body, key=str(uuid.uuid4()))
    # then everyone got the same 202, and the bank holds one payout executed once
    assert len(results) == THREADS
    assert {status for status, _ in results} == {202}
    assert len({answer["id"] for _, answer in results}) == 1
    assert BankPayout.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1
    assert task_queue.names() == ["fake_bank.tasks.execute_payout"]


@pytest.mark.django_db(transaction=True)
def test_submit_same_key_refusal_from_ten_threads_is_one_422(task_queue: TaskQueue) -> None:
    # given a request the bank refuses (account ending 0002)
    body = payout_body(account=ACCOUNTS["0002"])
    # when
    results = _post_concurrently(body, key=str(uuid.uuid4()))
    # then
    assert {status for status, _ in results} == {422}
    assert IdempotencyRecord.objects.count() == 1
    assert BankPayout.objects.count() == 0
