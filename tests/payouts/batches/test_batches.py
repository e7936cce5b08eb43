"""Batches: all or nothing, funds per currency for the whole batch, idempotent, counted as items
finish, canceled item by item, each organisation its own, a CSV report a spreadsheet cannot run."""

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from payouts.bank.adapter import submission_for
from payouts.ledger.check import ledger_check
from payouts.models import (
    Actor,
    EntryKind,
    Event,
    LedgerAccount,
    LedgerEntry,
    Organization,
    Payout,
    PayoutBatch,
    PayoutEvent,
    PayoutStatus,
)
from payouts.notifications.batches import payout_batches_complete
from payouts.transitions import payout_transition
from tests.concurrency import run_at_once
from tests.payouts.factories import OrganizationFactory, client_for, fund

URL = "/api/payout-batches/"
S = PayoutStatus
ACCOUNT = {"name": "Ivan Petrov", "account_number": "40702810938000000001", "bic": "044525225"}
IBAN = {"name": "Hans Muster", "iban": "DE89370400440532013000"}
CSV_FILE = (
    "amount,currency,name,account_number,bic,iban,description,reference\n"
    "100.00,RUB,Ivan Petrov,40702810938000000001,044525225,,March,emp-1\n"
    "50.50,RUB,Anna Smirnova,40702810938000000001,044525225,,March,emp-2\n"
    "10,USD,Hans Muster,,,DE89370400440532013000,March,emp-3\n"
)


def item(amount: str = "10.00", currency: str = "RUB", reference: str = "", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"amount": amount, "currency": currency, "recipient": ACCOUNT, **extra}
    if reference:
        body["reference"] = reference
    return body


def send(api: APIClient, items: list[dict[str, Any]], key: str = "batch-1", **body: Any) -> Any:
    return api.post(URL, {"items": items, **body}, format="json", HTTP_IDEMPOTENCY_KEY=key)


def send_csv(api: APIClient, text: str, key: str = "csv-1") -> Any:
    return api.generic("POST", URL, text.encode(), content_type="text/csv", HTTP_IDEMPOTENCY_KEY=key)


def rub(organization: Organization) -> LedgerAccount:
    return LedgerAccount.objects.get(organization=organization, currency="RUB")


def nothing_written() -> bool:
    return not (
        PayoutBatch.objects.exists()
        or Payout.objects.exists()
        or Event.objects.filter(type__startswith="payout").exists()
    )


@pytest.mark.django_db
def test_a_batch_creates_its_items_as_payouts_with_their_holds_and_events(
    api: APIClient, organization: Organization
) -> None:
    before = rub(organization).available

    response = send(
        api,
        [item("100.00", reference="a"), item("50.50", reference="b"), item("5", "USD")],
        description="March",
    )

    assert response.status_code == 201, response.content
    batch = response.json()
    assert (batch["status"], batch["item_count"], batch["description"]) == ("processing", 3, "March")
    assert batch["counts"]["new"] == 3
    assert {(t["currency"], t["status"], t["count"], t["amount"]) for t in batch["totals"]} == {
        ("RUB", "new", 2, "150.50"),
        ("USD", "new", 1, "5.00"),
    }
    items = Payout.objects.filter(batch_id=batch["id"])
    assert sorted(items.values_list("reference", flat=True)) == ["", "a", "b"]
    assert set(items.values_list("status", flat=True)) == {"new"}
    assert rub(organization).available == before - Decimal("150.50")
    assert LedgerEntry.objects.filter(kind=EntryKind.PENDING, payout__batch_id=batch["id"]).count() == 3
    assert PayoutEvent.objects.filter(payout__batch_id=batch["id"], to_status="new").count() == 3
    assert Event.objects.filter(type="payout.created", payout_id__in=items.values("pk")).count() == 3
    created = Event.objects.get(type="payout_batch.created")
    assert created.data["object"]["id"] == batch["id"]
    assert ledger_check().violations == []
    # and the items are in the payouts list, by batch and by reference
    listed = api.get("/api/payouts/", {"batch": batch["id"]}).json()["results"]
    assert {p["batch"] for p in listed} == {batch["id"]}
    assert [p["reference"] for p in api.get("/api/payouts/", {"reference": "a"}).json()["results"]] == ["a"]


@pytest.mark.django_db
def test_any_invalid_item_refuses_the_whole_batch_with_every_items_errors_by_index(api: APIClient) -> None:
    items = [
        item(reference="x"),
        item("1.001"),  # more places than RUB has: the single payout's rule
        item("5", "XXX"),  # not a configured currency
        item(reference="x"),  # the same reference again
        {"amount": "5", "currency": "RUB", "recipient": {"name": "A", "account_number": "1", "bic": "2"}},
        item("5", description=3),  # not a string
    ]

    response = send(api, items)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["details"]["items"]) == {"1", "2", "3", "4", "5"}
    assert "amount" in error["details"]["items"]["1"] and "currency" in error["details"]["items"]["2"]
    assert "reference" in error["details"]["items"]["3"]
    assert "recipient" in error["details"]["items"]["4"] and "description" in error["details"]["items"]["5"]
    assert nothing_written()


@pytest.mark.django_db
def test_a_csv_file_is_a_batch_and_its_errors_name_their_lines(api: APIClient) -> None:
    created = send_csv(api, "\ufeff" + CSV_FILE)  # a spreadsheet's byte-order mark included
    bad = send_csv(
        api,
        "amount,currency,name,account_number,bic\n10,RUB,Ivan,40702810938000000001,044525225\n\n"
        "ten,RUB,Ivan,40702810938000000001,044525225\n10,RUB,Ivan,40702810938000000002,044525225\n",
        key="csv-2",
    )

    assert created.status_code == 201, created.content
    assert created.json()["item_count"] == 3
    iban_item = Payout.objects.get(reference="emp-3")
    assert (iban_item.recipient, iban_item.amount, iban_item.currency) == (IBAN, Decimal("10.00"), "USD")
    assert bad.status_code == 400
    errors = bad.json()["error"]["details"]["items"]
    assert errors["1"]["line"] == 4 and "amount" in errors["1"]
    assert errors["2"]["line"] == 5 and "recipient" in errors["2"]
    assert PayoutBatch.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text",
    [
        "",
        "amount,currency\n10,RUB\n",
        "amount,currency,name,color\n10,RUB,Ivan,red\n",
        'amount,currency,name\n"10,RUB\n',
    ],
    ids=["empty", "no-name-column", "unknown-column", "unclosed-quote"],
)
def test_a_csv_file_that_is_not_a_batch_is_400_and_writes_nothing(api: APIClient, text: str) -> None:
    response = send_csv(api, text)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in {"validation_error", "malformed_request"}
    assert nothing_written()


@pytest.mark.django_db
def test_a_batch_the_balance_does_not_cover_is_422_with_each_shortfall_and_writes_nothing(
    api: APIClient, organization: Organization
) -> None:
    available = rub(organization).available

    half = available / 2  # each item within the single payout's maximum
    response = send(api, [item(f"{half:.2f}"), item(f"{half:.2f}"), item("0.01"), item("1", "USD")])

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "insufficient_funds"
    assert error["details"]["shortfalls"] == [
        {
            "currency": "RUB",
            "available": f"{available:.2f}",
            "requested": f"{available + Decimal('0.01'):.2f}",
            "shortfall": "0.01",
        }
    ]
    assert nothing_written()
    assert rub(organization).available == available


@pytest.mark.django_db(transaction=True)
def test_two_batches_racing_for_the_same_funds_one_wins() -> None:
    organization = OrganizationFactory(inn="7707083893")
    fund(organization, "100.00")
    clients = [client_for(organization) for _ in range(2)]

    def race(i: int) -> int:
        return int(send(clients[i], [item("30.00"), item("40.00")], key=f"race-{i}").status_code)

    statuses = sorted(run_at_once(race, 2))

    assert statuses == [201, 422]
    assert PayoutBatch.objects.count() == 1
    assert rub(organization).available == Decimal("30.00")
    assert ledger_check().violations == []


@pytest.mark.django_db
def test_a_batch_is_idempotent_by_key_and_body(api: APIClient) -> None:
    first = send(api, [item(reference="r1")], key="same")
    replay = send(api, [item(reference="r1")], key="same")
    other = send(api, [item("20.00", reference="r1")], key="same")
    csv_first = send_csv(api, CSV_FILE, key="csv-same")
    csv_replay = send_csv(api, CSV_FILE, key="csv-same")

    assert (first.status_code, replay.status_code, other.status_code) == (201, 200, 409)
    assert replay.json()["id"] == first.json()["id"]
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert (csv_first.status_code, csv_replay.status_code) == (201, 200)
    assert PayoutBatch.objects.count() == 2
    assert Payout.objects.count() == 4


@pytest.mark.django_db
def test_a_batch_is_counted_as_its_items_finish_and_completed_once_all_are_final(
    api: APIClient,
) -> None:
    batch = send(api, [item(), item(), item()]).json()
    first, second, third = Payout.objects.filter(batch_id=batch["id"]).order_by("id")
    payout_transition(payout_id=first.pk, to_status=S.PROCESSING, actor=Actor.WORKER)
    payout_transition(payout_id=first.pk, to_status=S.PAID, actor=Actor.BANK)
    payout_transition(payout_id=second.pk, to_status=S.PROCESSING, actor=Actor.WORKER)
    payout_transition(payout_id=second.pk, to_status=S.FAILED, actor=Actor.BANK, failure_code="declined")

    assert payout_batches_complete() == 0
    shown = api.get(f"{URL}{batch['id']}/").json()
    assert shown["status"] == "processing"
    assert {k: v for k, v in shown["counts"].items() if v} == {"paid": 1, "failed": 1, "new": 1}

    payout_transition(payout_id=third.pk, to_status=S.CANCELED, actor=Actor.CLIENT)
    assert payout_batches_complete() == 1
    assert payout_batches_complete() == 0  # told once
    done = api.get(f"{URL}{batch['id']}/").json()
    assert (done["status"], done["completed_at"] is not None) == ("completed", True)
    assert Event.objects.get(type="payout_batch.completed").data["object"]["counts"]["paid"] == 1


@pytest.mark.django_db
def test_cancel_cancels_the_items_still_new_and_leaves_the_rest(
    api: APIClient, organization: Organization
) -> None:
    before = rub(organization).available
    batch = send(api, [item("10.00"), item("20.00"), item("30.00")]).json()
    taken = Payout.objects.filter(batch_id=batch["id"], amount=Decimal("30.00")).get()
    payout_transition(payout_id=taken.pk, to_status=S.PROCESSING, actor=Actor.WORKER)

    response = api.post(f"{URL}{batch['id']}/cancel/")

    assert response.status_code == 200
    assert response.json()["canceled"] == 2
    assert response.json()["batch"]["counts"]["canceled"] == 2
    assert Payout.objects.get(pk=taken.pk).status == "processing"
    assert Event.objects.filter(type="payout.canceled").count() == 2
    assert rub(organization).available == before - Decimal("30.00")  # the two holds released
    assert api.post(f"{URL}{batch['id']}/cancel/").json()["canceled"] == 0


@pytest.mark.django_db
def test_a_batch_is_its_organisations_own(
    api: APIClient, other_api: APIClient, operator_api: APIClient
) -> None:
    batch = send(api, [item()]).json()

    for path in ("", "items.csv"):
        assert other_api.get(f"{URL}{batch['id']}/{path}").status_code == 404
    assert other_api.post(f"{URL}{batch['id']}/cancel/").status_code == 404
    assert other_api.get(URL).json()["results"] == []
    assert [b["id"] for b in api.get(URL).json()["results"]] == [batch["id"]]
    assert (
        operator_api.post(URL, {"items": [item()]}, format="json", HTTP_IDEMPOTENCY_KEY="op").status_code
        == 403
    )
    assert Payout.objects.get().status == "new"


@pytest.mark.django_db
def test_the_items_report_escapes_cells_a_spreadsheet_would_run(api: APIClient) -> None:
    hostile = ['=HYPERLINK("http://evil")', "+1+1", "-2", "@SUM(A1)"]
    batch = send(api, [item(description=text, reference=f"r{n}") for n, text in enumerate(hostile)]).json()

    response = api.get(f"{URL}{batch['id']}/items.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    assert response["Content-Type"].startswith("text/csv")
    assert sorted(row["description"] for row in rows) == sorted(f"'{text}" for text in hostile)
    assert {row["status"] for row in rows} == {"new"}
    assert {row["account_number"] for row in rows} == {ACCOUNT["account_number"]}


@pytest.mark.django_db
def test_a_batch_over_the_limits_is_refused(api: APIClient, settings: Any) -> None:
    settings.PAYOUT_BATCH_MAX_ITEMS = 2
    too_many = send(api, [item(), item(), item()])
    settings.PAYOUT_BATCH_MAX_BYTES = 100
    too_large = send(api, [item(description="x" * 200)], key="big")
    no_key = api.post(URL, {"items": [item()]}, format="json")
    not_json = api.generic("POST", URL, b"items", content_type="text/plain", HTTP_IDEMPOTENCY_KEY="k")

    assert (too_many.status_code, too_large.status_code, no_key.status_code, not_json.status_code) == (
        400,
        413,
        400,
        415,
    )
    assert too_large.json()["error"]["code"] == "payload_too_large"
    assert too_large.json()["error"]["details"] == {"max_bytes": 100}
    assert nothing_written()


@pytest.mark.django_db
def test_a_batch_item_is_submitted_to_the_bank_with_its_batch(api: APIClient) -> None:
    batch = send(api, [item()]).json()
    single = api.post("/api/payouts/", item(), format="json", HTTP_IDEMPOTENCY_KEY="single").json()

    in_batch = submission_for(Payout.objects.get(batch_id=batch["id"])).to_json()
    alone = submission_for(Payout.objects.get(pk=single["id"])).to_json()

    assert in_batch["batch_reference"] == batch["id"]
    assert "batch_reference" not in alone
