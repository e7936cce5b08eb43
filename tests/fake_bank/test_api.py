"""The bank's HTTP API as docs/bank-api.md describes it: auth, validation, submit, look-ups, cancel."""

import uuid
from typing import Any

import pytest
import respx
from django.test import Client
from pytest_django import DjangoAssertNumQueries, Settings

from fake_bank.models import BankPayout, BankPayoutStatus, IdempotencyRecord, Webhook
from tests.fake_bank.conftest import ACCOUNTS, API, BIC, BankApi, TaskQueue, payout_body
from tests.fake_bank.factories import BankPayoutFactory

pytestmark = pytest.mark.django_db


# --- Auth and routing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", "Basic YmFuay10ZXN0LXRva2Vu", "bank-test-token", "Bearer "],
)
def test_api_without_the_right_bearer_token_is_401(client: Client, authorization: str | None) -> None:
    # given a request without the bank's token
    headers = {"Authorization": authorization} if authorization else {}
    # when
    response = client.post(
        f"{API}/payouts", data=payout_body(), content_type="application/json", headers=headers
    )
    # then
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert BankPayout.objects.count() == 0


def test_api_refuses_every_token_when_none_is_configured(settings: Settings, client: Client) -> None:
    # given the bank has no token configured
    settings.FAKE_BANK_API_TOKEN = ""
    # when a request sends an empty bearer token
    response = client.get(f"{API}/payouts/bp_x", headers={"Authorization": "Bearer "})
    # then
    assert response.status_code == 401


def test_api_wrong_method_is_405_in_the_error_envelope(bank: BankApi) -> None:
    # when
    response = bank.client.delete(f"{API}/payouts")
    # then
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response["Allow"] == "POST"


def test_api_unknown_path_is_404_in_the_error_envelope(bank: BankApi) -> None:
    response = bank.get("/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# --- Submit ----------------------------------------------------------------------------------


def test_submit_accepts_payout_with_202_and_queues_execution(bank: BankApi, task_queue: TaskQueue) -> None:
    # given
    body = payout_body()
    # when
    response = bank.post("/payouts", body, key=body["reference"])
    # then the payout object comes back in processing
    assert response.status_code == 202
    answer = response.json()
    assert answer["id"].startswith("bp_")
    assert len(answer["id"]) == 35
    assert answer == {
        "id": answer["id"],
        "reference": body["reference"],
        "status": "processing",
        "amount": 10050,
        "currency": "RUB",
        "recipient": body["recipient"],
        "description": "March fee",
        "failure_code": None,
        "failure_reason": None,
        "created_at": answer["created_at"],
        "executed_at": None,
    }
    assert answer["created_at"].endswith("+00:00")
    # and its execution is queued with the policy's delay
    assert [(t.name, t.kwargs, t.countdown) for t in task_queue.queued] == [
        ("fake_bank.tasks.execute_payout", {"payout_id": answer["id"]}, 0.0)
    ]


def test_submit_accepts_iban_recipient(bank: BankApi) -> None:
    # given
    recipient = {"name": "Hans Meier", "iban": "DE67370400440532010001"}
    # when
    response = bank.submit(recipient=recipient, currency="EUR")
    # then
    assert response.status_code == 202
    assert response.json()["recipient"] == recipient


def test_submit_description_is_optional(bank: BankApi) -> None:
    body = payout_body()
    del body["description"]
    response = bank.post("/payouts", body, key=body["reference"])
    assert response.status_code == 202
    assert response.json()["description"] == ""


def _without(field: str) -> dict[str, Any]:
    body = payout_body()
    del body[field]
    return body


def _recipient(**recipient: str) -> dict[str, Any]:
    return payout_body(recipient=recipient)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_without("reference"), "reference"),
        (_without("amount"), "amount"),
        (_without("currency"), "currency"),
        (_without("recipient"), "recipient"),
        (payout_body(reference=""), "reference"),
        (payout_body(reference=123), "reference"),
        (payout_body(reference="x" * 256), "reference"),
        (payout_body(reference="ref\x00"), "reference"),
        (payout_body(amount=0), "amount"),
        (payout_body(amount=-100), "amount"),
        (payout_body(amount=100.5), "amount"),
        (payout_body(amount="10050"), "amount"),
        (payout_body(amount=True), "amount"),
        (payout_body(amount=2**63), "amount"),
        (payout_body(currency="rub"), "currency"),
        (payout_body(currency="RUBLE"), "currency"),
        (payout_body(description=5), "description"),
        (payout_body(description="March\x00fee"), "description"),
        (payout_body(recipient="Ivan"), "recipient"),
        (_recipient(account_number=ACCOUNTS["normal"], bic=BIC), "recipient.name"),
        (_recipient(name="Ivan\nPetrov", account_number=ACCOUNTS["normal"], bic=BIC), "recipient.name"),
        (_recipient(name="Ivan", bic=BIC), "recipient.account_number"),
        (_recipient(name="Ivan", account_number=ACCOUNTS["normal"]), "recipient.bic"),
        (_recipient(name="Ivan"), "recipient"),
        (_recipient(name="Ivan", iban="DE67370400440532010001", bic=BIC), "recipient"),
        (
            _recipient(name="Ivan", account_number=ACCOUNTS["normal"] + "1", bic=BIC),
            "recipient.account_number",
        ),
    ],
)
def test_submit_invalid_body_is_400_naming_the_field(bank: BankApi, body: Any, field: str) -> None:
    # when
    response = bank.post("/payouts", body, key=str(uuid.uuid4()))
    # then
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in error["message"]
    assert BankPayout.objects.count() == 0
    assert IdempotencyRecord.objects.count() == 0


@pytest.mark.parametrize("raw", [b"", b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_submit_unparseable_body_is_400(bank: BankApi, raw: bytes) -> None:
    response = bank.post("/payouts", key="k-1", raw=raw)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_submit_without_idempotency_key_is_400(bank: BankApi) -> None:
    response = bank.post("/payouts", payout_body())
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"currency": "JPY"}, "invalid_currency"),
        (
            {"recipient": {"name": "I", "account_number": "40702810038000000001", "bic": BIC}},
            "invalid_account",
        ),
        (
            {"recipient": {"name": "I", "account_number": ACCOUNTS["normal"], "bic": "123456789"}},
            "invalid_account",
        ),
        (
            {"recipient": {"name": "I", "account_number": "4070281093800000000X", "bic": BIC}},
            "invalid_account",
        ),
        ({"recipient": {"name": "I", "iban": "DE00370400440532010001"}}, "invalid_account"),
        ({"recipient": {"name": "I", "account_number": ACCOUNTS["0002"], "bic": BIC}}, "invalid_account"),
        ({"recipient": {"name": "I", "iban": "DE40370400440532010002"}}, "invalid_account"),
    ],
)
def test_submit_permanent_refusal_is_422_with_its_code(
    bank: BankApi, task_queue: TaskQueue, overrides: dict[str, Any], code: str
) -> None:
    # when
    response = bank.submit(**overrides)
    # then
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    assert BankPayout.objects.count() == 0
    assert task_queue.queued == []


def test_submit_replay_returns_the_first_answer(bank: BankApi, task_queue: TaskQueue) -> None:
    # given a payout accepted, then executed
    body = payout_body()
    first = bank.post("/payouts", body, key="key-1")
    task_queue.queued.clear()
    BankPayout.objects.update(status=BankPayoutStatus.PAID)
    # when the same request is replayed, with its keys in another order
    replay = bank.post("/payouts", dict(reversed(list(body.items()))), key="key-1")
    # then the first answer comes back, nothing new is created or queued
    assert replay.status_code == 202
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert BankPayout.objects.count() == 1
    assert task_queue.queued == []


def test_submit_replay_of_a_refusal_returns_the_same_422(bank: BankApi) -> None:
    # given a refused payout (account ending 0002)
    body = payout_body(account=ACCOUNTS["0002"])
    first = bank.post("/payouts", body, key="key-2")
    assert first.status_code == 422
    # when it is replayed
    replay = bank.post("/payouts", body, key="key-2")
    # then
    assert replay.status_code == 422
    assert replay.json() == first.json()
    assert BankPayout.objects.count() == 0
    assert IdempotencyRecord.objects.get(key="key-2").response_status == 422


def test_submit_same_key_with_another_body_is_409(bank: BankApi) -> None:
    # given
    body = payout_body()
    bank.post("/payouts", body, key="key-3")
    # when the key comes back with another amount
    response = bank.post("/payouts", {**body, "amount": 99}, key="key-3")
    # then
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert BankPayout.objects.get().amount == 10050


def test_submit_same_reference_under_another_key_is_409_duplicate_reference(bank: BankApi) -> None:
    # given
    body = payout_body()
    bank.post("/payouts", body, key="key-4")
    # when
    response = bank.post("/payouts", body, key="key-5")
    # then
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_reference"
    assert BankPayout.objects.count() == 1


# --- Look-ups --------------------------------------------------------------------------------


def test_payout_detail_returns_the_payout_object(
    bank: BankApi, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    # given
    payout = BankPayoutFactory.create(
        status=BankPayoutStatus.FAILED, failure_code="declined", failure_reason="No."
    )
    # when
    with django_assert_max_num_queries(1):
        response = bank.get(f"/payouts/{payout.id}")
    # then
    assert response.status_code == 200
    assert response.json()["id"] == payout.id
    assert response.json()["status"] == "failed"
    assert response.json()["failure_code"] == "declined"


def test_payout_by_reference_returns_the_payout_object(bank: BankApi) -> None:
    payout = BankPayoutFactory.create()
    response = bank.get(f"/payouts/by-reference/{payout.reference}")
    assert response.status_code == 200
    assert response.json()["id"] == payout.id


@pytest.mark.parametrize(
    "path",
    [
        "/payouts/bp_missing",
        "/payouts/bp_%00",
        "/payouts/by-reference/never-sent",
        "/payouts/by-reference/x%00",
    ],
)
def test_payout_lookup_unknown_is_404_not_found(bank: BankApi, path: str) -> None:
    BankPayoutFactory.create()
    response = bank.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# --- Cancel ----------------------------------------------------------------------------------


def _cancel(bank: BankApi, payout_id: str) -> Any:
    return bank.post(f"/payouts/{payout_id}/cancel", key=f"cancel-{payout_id}")


def test_cancel_processing_payout_is_200_with_a_webhook(bank: BankApi, task_queue: TaskQueue) -> None:
    # given
    payout = BankPayoutFactory.create()
    # when
    response = _cancel(bank, payout.id)
    # then
    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    assert response.json()["executed_at"] is None
    webhook = Webhook.objects.get(payout=payout)
    assert webhook.type == "payout.canceled"
    assert webhook.payload["data"]["status"] == "canceled"
    assert task_queue.names() == ["fake_bank.tasks.deliver_webhook"]


def test_cancel_repeat_is_200_again_without_another_webhook(bank: BankApi) -> None:
    # given a canceled payout
    payout = BankPayoutFactory.create()
    _cancel(bank, payout.id)
    # when it is canceled again, under the same key and under none
    replay = _cancel(bank, payout.id)
    keyless = bank.post(f"/payouts/{payout.id}/cancel")
    # then
    assert (replay.status_code, keyless.status_code) == (200, 200)
    assert replay.json()["status"] == keyless.json()["status"] == "canceled"
    assert Webhook.objects.filter(payout=payout).count() == 1


@pytest.mark.parametrize("status", [BankPayoutStatus.PAID, BankPayoutStatus.FAILED])
def test_cancel_executed_payout_is_409_already_executed(bank: BankApi, status: str) -> None:
    # given
    payout = BankPayoutFactory.create(
        status=status, failure_code="declined" if status == BankPayoutStatus.FAILED else None
    )
    # when
    response = _cancel(bank, payout.id)
    # then
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_executed"
    payout.refresh_from_db()
    assert payout.status == status


@pytest.mark.parametrize("payout_id", ["bp_missing", "bp_%00"])
def test_cancel_unknown_payout_is_404(bank: BankApi, payout_id: str) -> None:
    response = _cancel(bank, payout_id)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert IdempotencyRecord.objects.count() == 0


def test_cancel_after_execution_through_the_task_is_409(
    bank: BankApi, task_queue: TaskQueue, webhook_receiver: respx.Route
) -> None:
    # given a payout the bank has executed
    payout_id = bank.submit().json()["id"]
    task_queue.run_all()
    # when
    response = _cancel(bank, payout_id)
    # then
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_executed"


@pytest.mark.django_db
def test_a_submission_may_name_its_batch_and_the_page_shows_its_short_id(
    bank: BankApi, client: Client
) -> None:
    batch = "01a23d8d-69fe-7d1a-a1dd-88654fbb27d7"

    response = bank.post(
        "/payouts", {**payout_body(reference="batch-item-1"), "batch_reference": batch}, key="b-1"
    )
    refused = bank.post(
        "/payouts", {**payout_body(reference="batch-item-2"), "batch_reference": 7}, key="b-2"
    )

    assert response.status_code == 202, response.content
    assert BankPayout.objects.get(reference="batch-item-1").batch_reference == batch
    assert refused.status_code == 400
    page = client.get("/fake-bank/").content.decode()
    assert f'<code title="{batch}">01a23d8d</code>' in page
