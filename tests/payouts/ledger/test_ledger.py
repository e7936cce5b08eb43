"""The ledger: holds, settlement and release exactly once, incoming transfers, balances, invariants."""

from decimal import Decimal
from io import StringIO
from typing import Any

import pgtrigger
import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.test import Client
from rest_framework.test import APIClient

from payouts.ledger import entries
from payouts.ledger.incoming import IncomingTransferAlreadyCredited, incoming_transfer_assign
from payouts.models import (
    AccountKind,
    Actor,
    BankWebhookEvent,
    EntryKind,
    IncomingTransfer,
    LedgerAccount,
    LedgerEntry,
    Organization,
    Payout,
    PayoutStatus,
)
from payouts.transitions import payout_transition
from tests.concurrency import run_at_once
from tests.payouts.bank_doubles import signed_webhook
from tests.payouts.factories import VALID_ACCOUNT, OrganizationFactory, PayoutFactory, client_for, fund

S = PayoutStatus


def balance(api: APIClient, inn: str, currency: str = "RUB") -> dict[str, str]:
    response = api.get(f"/api/organizations/{inn}/balance/")
    assert response.status_code == 200, response.content
    [row] = [b for b in response.json()["balances"] if b["currency"] == currency]
    return dict(row)


def create(api: APIClient, amount: str, key: str) -> Any:
    body = {"amount": amount, "currency": "RUB", "recipient": VALID_ACCOUNT}
    return api.post("/api/payouts/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.fixture
def lean_org(db: Any) -> Organization:
    """An organisation holding exactly 1,000.00 RUB."""
    organization = OrganizationFactory(inn="7728168971", name="Lean LLC")
    fund(organization, "1000.00")
    return organization


@pytest.mark.django_db
def test_payout_create_holds_funds_and_replay_does_not_hold_twice(lean_org: Organization) -> None:
    api = client_for(lean_org)

    first = create(api, "300.00", "k1")
    replay = create(api, "300.00", "k1")

    assert (first.status_code, replay.status_code) == (201, 200)
    assert balance(api, lean_org.inn) == {
        "currency": "RUB",
        "available": "700.00",
        "pending": "300.00",
        "posted": "1000.00",
    }
    assert LedgerEntry.objects.filter(kind=EntryKind.PENDING).count() == 1


@pytest.mark.django_db
def test_payout_beyond_available_is_422_and_creates_nothing(lean_org: Organization) -> None:
    api = client_for(lean_org)
    create(api, "900.00", "k1")

    response = create(api, "100.01", "k2")

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "insufficient_funds"
    assert error["details"] == {"available": "100.00", "requested": "100.01", "currency": "RUB"}
    assert Payout.objects.count() == 1
    assert balance(api, lean_org.inn)["available"] == "100.00"


@pytest.mark.django_db
def test_payout_in_a_currency_never_funded_is_422(lean_org: Organization) -> None:
    api = client_for(lean_org)
    body = {"amount": "1.00", "currency": "EUR", "recipient": VALID_ACCOUNT}
    response = api.post("/api/payouts/", body, format="json", HTTP_IDEMPOTENCY_KEY="eur")
    assert response.status_code == 422
    assert response.json()["error"]["details"]["available"] == "0.00"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "available", "pending", "posted"),
    [
        ([S.PROCESSING, S.SUBMITTED, S.PAID], "700.00", "0.00", "700.00"),
        ([S.PROCESSING, S.FAILED], "1000.00", "0.00", "1000.00"),
        ([S.PROCESSING, S.SUBMITTED, S.FAILED], "1000.00", "0.00", "1000.00"),
        ([S.CANCELED], "1000.00", "0.00", "1000.00"),
        ([S.PROCESSING, S.SUBMITTED, S.CANCELED], "1000.00", "0.00", "1000.00"),
        ([S.PROCESSING, S.SUBMITTED], "700.00", "300.00", "1000.00"),
    ],
    ids=["paid", "refused", "failed", "canceled-new", "canceled-submitted", "in-flight"],
)
def test_payout_statuses_leave_the_balances_the_readme_says(
    lean_org: Organization, path: list[S], available: str, pending: str, posted: str
) -> None:
    api = client_for(lean_org)
    payout_id = create(api, "300.00", "k1").json()["id"]

    for status in path:
        payout_transition(payout_id=payout_id, to_status=status, actor=Actor.WORKER)

    assert balance(api, lean_org.inn) == {
        "currency": "RUB",
        "available": available,
        "pending": pending,
        "posted": posted,
    }
    call_command("ledger_check", stdout=StringIO())


@pytest.mark.django_db
def test_hold_resolves_once_a_second_post_or_void_is_a_noop(lean_org: Organization) -> None:
    payout = PayoutFactory(organization=lean_org, amount=Decimal("10.00"), status=S.SUBMITTED)
    payout_transition(payout_id=payout.pk, to_status=S.PAID, actor=Actor.BANK)
    account = LedgerAccount.objects.get(organization=lean_org, currency="RUB")

    assert entries.hold_post(payout=payout) is None
    assert entries.hold_void(payout=payout) is None

    assert LedgerAccount.objects.get(pk=account.pk).debits_posted == account.debits_posted
    assert LedgerEntry.objects.filter(payout=payout).count() == 2


@pytest.mark.django_db
def test_database_refuses_a_second_resolution_of_one_hold(lean_org: Organization) -> None:
    payout = PayoutFactory(organization=lean_org, status=S.PAID)
    hold = LedgerEntry.objects.get(payout=payout, kind=EntryKind.PENDING)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            kind=EntryKind.VOID_PENDING,
            debit_account=hold.debit_account,
            credit_account=hold.credit_account,
            amount=hold.amount,
            currency="RUB",
            pending_entry=hold,
            payout=payout,
        )


@pytest.mark.django_db
def test_database_refuses_a_negative_available_balance(lean_org: Organization) -> None:
    account = LedgerAccount.objects.get(organization=lean_org, currency="RUB")
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccount.objects.filter(pk=account.pk).update(
            debits_pending=F("debits_pending") + Decimal("1000.01")
        )


@pytest.mark.django_db
def test_settlement_account_keeps_no_totals_its_entries_are_its_balance(lean_org: Organization) -> None:
    # given money in, one payout paid, one failed and one in flight
    PayoutFactory(organization=lean_org, status=S.PAID, amount=Decimal("100.00"))
    PayoutFactory(organization=lean_org, status=S.FAILED, amount=Decimal("30.00"))
    PayoutFactory(organization=lean_org, status=S.SUBMITTED, amount=Decimal("20.00"))

    # then the shared settlement row was never written, the entries hold its side, and they balance
    settlement = LedgerAccount.objects.get(kind=AccountKind.BANK_SETTLEMENT, currency="RUB")
    assert (settlement.credits_posted, settlement.debits_posted) == (0, 0)
    assert (settlement.credits_pending, settlement.debits_pending) == (0, 0)
    credited = LedgerEntry.objects.filter(credit_account=settlement, kind=EntryKind.POST_PENDING)
    assert [entry.amount for entry in credited] == [Decimal("100.00")]
    assert set(LedgerEntry.objects.values_list("organization", flat=True)) == {lean_org.pk}
    out = StringIO()
    call_command("ledger_check", stdout=out)
    assert "ledger OK" in out.getvalue()


@pytest.mark.django_db
def test_database_refuses_totals_on_a_settlement_account(lean_org: Organization) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccount.objects.filter(kind=AccountKind.BANK_SETTLEMENT).update(credits_posted=1)


@pytest.mark.django_db
def test_deleted_payout_keeps_its_ledger_entries(lean_org: Organization) -> None:
    api = client_for(lean_org)
    payout_id = create(api, "50.00", "k1").json()["id"]

    assert api.delete(f"/api/payouts/{payout_id}/").status_code == 204

    kinds = sorted(LedgerEntry.objects.filter(payout_id=payout_id).values_list("kind", flat=True))
    assert kinds == [EntryKind.PENDING, EntryKind.VOID_PENDING]
    assert balance(api, lean_org.inn)["available"] == "1000.00"


@pytest.mark.django_db(transaction=True)
def test_fifty_simultaneous_payouts_against_funds_for_ten(db: Any) -> None:
    # given an organisation holding exactly ten payouts' worth
    organization = OrganizationFactory(inn="7728168971", name="Lean LLC")
    fund(organization, "1000.00")
    count = 50
    clients = [client_for(organization) for _ in range(count)]
    statuses = run_at_once(lambda i: create(clients[i], "100.00", f"key-{i}").status_code, count)

    # then ten are created, forty are refused, and nothing is left
    assert statuses.count(201) == 10
    assert statuses.count(422) == 40
    assert Payout.objects.count() == 10
    assert balance(clients[0], organization.inn) == {
        "currency": "RUB",
        "available": "0.00",
        "pending": "1000.00",
        "posted": "1000.00",
    }
    call_command("ledger_check", stdout=StringIO())


def incoming_event(inn: str, operation_id: str = "op_in_1", amount: int = 150_000) -> dict[str, Any]:
    return {
        "type": "transfer.incoming",
        "operation_id": operation_id,
        "occurred_at": "2026-11-22T08:00:00+00:00",
        "data": {
            "amount": amount,
            "currency": "RUB",
            "payer_inn": inn,
            "document_number": "42",
            "document_date": "2026-11-21",
        },
    }


def post_webhook(raw: bytes, headers: dict[str, str]) -> Any:
    return Client().post("/api/webhooks/bank/", raw, content_type="application/json", **headers)


@pytest.mark.django_db
def test_incoming_transfer_webhook_credits_the_organisation_once(
    lean_org: Organization, bank_keys: list[str]
) -> None:
    raw, headers = signed_webhook(incoming_event(lean_org.inn), secret_keys=bank_keys)

    first = post_webhook(raw, headers)
    again = post_webhook(raw, headers)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["duplicate"] is True
    assert balance(client_for(lean_org), lean_org.inn)["available"] == "2500.00"
    incoming = IncomingTransfer.objects.get(operation_id="op_in_1")
    assert (incoming.organization, incoming.status, incoming.document_number) == (lean_org, "credited", "42")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        {"amount": 0},
        {"amount": "15.00"},
        {"currency": "XXX"},
        {"payer_inn": "123"},
        {"document_date": "2026-13-01"},
    ],
    ids=["zero", "string-amount", "currency", "inn", "date"],
)
def test_incoming_transfer_with_bad_data_is_an_anomaly(
    lean_org: Organization, bank_keys: list[str], change: dict[str, Any]
) -> None:
    body = incoming_event(lean_org.inn)
    body["data"].update(change)
    response = post_webhook(*signed_webhook(body, secret_keys=bank_keys))
    assert response.json()["outcome"] == "anomaly"
    assert not IncomingTransfer.objects.filter(operation_id="op_in_1").exists()


@pytest.mark.django_db
def test_incoming_transfer_for_unknown_inn_is_parked_then_assigned_once(bank_keys: list[str]) -> None:
    raw, headers = signed_webhook(incoming_event("500100732259"), secret_keys=bank_keys)
    post_webhook(raw, headers)
    incoming = IncomingTransfer.objects.get(operation_id="op_in_1")
    assert incoming.status == "unmatched"
    assert not LedgerEntry.objects.filter(incoming_transfer=incoming).exists()
    assert "parked" in BankWebhookEvent.objects.get(operation_id="op_in_1").anomaly

    organization = OrganizationFactory(inn="500100732259", name="Late Signup")
    incoming_transfer_assign(incoming_transfer_id=incoming.pk, organization=organization)
    with pytest.raises(IncomingTransferAlreadyCredited):
        incoming_transfer_assign(incoming_transfer_id=incoming.pk, organization=organization)

    assert LedgerEntry.objects.filter(incoming_transfer=incoming).count() == 1
    assert balance(client_for(organization), organization.inn)["available"] == "1500.00"
    call_command("ledger_check", stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_fifty_identical_incoming_transfer_webhooks_at_once_credit_once(bank_keys: list[str]) -> None:
    organization = OrganizationFactory(inn="7728168971", name="Lean LLC")
    raw, headers = signed_webhook(incoming_event(organization.inn, "op_storm"), secret_keys=bank_keys)
    count = 50
    statuses = run_at_once(lambda _: post_webhook(raw, headers).status_code, count)

    assert statuses == [200] * count
    assert IncomingTransfer.objects.count() == 1
    assert LedgerEntry.objects.filter(incoming_transfer__operation_id="op_storm").count() == 1
    assert balance(client_for(organization), organization.inn)["available"] == "1500.00"


@pytest.mark.django_db
def test_balance_of_another_organisation_is_404_and_operators_see_any(
    api: APIClient, operator_api: APIClient, other_organization: Organization
) -> None:
    assert api.get(f"/api/organizations/{other_organization.inn}/balance/").status_code == 404
    assert api.get(f"/api/organizations/{other_organization.inn}/balance/history/").status_code == 404
    response = operator_api.get(f"/api/organizations/{other_organization.inn}/balance/")
    assert response.status_code == 200
    assert response.json()["balance"] == "1000000.00"
    assert response.json()["currency"] == "RUB"


@pytest.mark.django_db
def test_balance_history_names_causes_newest_first(
    lean_org: Organization, django_assert_max_num_queries: Any
) -> None:
    api = client_for(lean_org)
    payout_id = create(api, "300.00", "k1").json()["id"]
    payout_transition(payout_id=payout_id, to_status=S.CANCELED, actor=Actor.CLIENT)
    for _ in range(5):
        fund(lean_org, "1.00")

    with django_assert_max_num_queries(4):
        response = api.get(f"/api/organizations/{lean_org.inn}/balance/history/", {"page_size": 20})

    entries = response.json()["results"]
    assert len(entries) == 8
    assert [e["cause"]["type"] for e in entries[:5]] == ["incoming_transfer"] * 5
    release, hold, first_credit = entries[5], entries[6], entries[7]
    assert release["cause"] == {"type": "payout", "payout_id": payout_id, "event": "released"}
    assert (release["direction"], release["amount"]) == ("debit", "300.00")
    assert hold["cause"]["event"] == "held"
    assert first_credit["direction"] == "credit"
    assert first_credit["cause"]["document_number"] == "T-1"


@pytest.mark.django_db
def test_ledger_check_passes_then_reports_a_tampered_account(lean_org: Organization) -> None:
    PayoutFactory(organization=lean_org, status=S.PAID)
    PayoutFactory(organization=lean_org, status=S.SUBMITTED)
    out = StringIO()
    call_command("ledger_check", stdout=out)
    assert "ledger OK" in out.getvalue()
    assert "holds match the status of 2 payouts" in out.getvalue()

    LedgerAccount.objects.filter(kind=AccountKind.ORGANIZATION, organization=lean_org).update(
        credits_posted=F("credits_posted") + 1
    )
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("ledger_check", stdout=StringIO(), stderr=err)
    assert "credits_posted" in err.getvalue()
    assert "postings sum to" in err.getvalue()


@pytest.mark.django_db
def test_ledger_check_reports_a_payout_whose_hold_does_not_match(lean_org: Organization) -> None:
    payout = PayoutFactory(organization=lean_org, status=S.SUBMITTED)
    Payout.objects.filter(pk=payout.pk).update(status=S.PAID)  # behind the transition function's back
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("ledger_check", stdout=StringIO(), stderr=err)
    assert f"payout {payout.pk} is paid but its hold is pending" in err.getvalue()


@pytest.mark.django_db
def test_ledger_check_reports_an_entry_that_names_another_organisation(lean_org: Organization) -> None:
    payout = PayoutFactory(organization=lean_org, status=S.PAID)
    other = OrganizationFactory(inn="7736207543")
    call_command("ledger_check", stdout=StringIO())

    with pgtrigger.ignore(APPEND_ONLY):  # entries are append-only: tampering has to go around it
        LedgerEntry.objects.filter(payout=payout, kind=EntryKind.PENDING).update(organization=other)

    err = StringIO()
    with pytest.raises(CommandError):
        call_command("ledger_check", stdout=StringIO(), stderr=err)
    assert "names another organisation" in err.getvalue()


APPEND_ONLY = "payouts.LedgerEntry:ledger_entry_append_only"


def _ledger_check_errors() -> str:
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("ledger_check", stdout=StringIO(), stderr=err)
    return err.getvalue()


@pytest.mark.django_db
def test_the_database_refuses_to_change_or_delete_a_ledger_entry(lean_org: Organization) -> None:
    payout = PayoutFactory(organization=lean_org, status=S.PAID)
    hold = LedgerEntry.objects.get(payout=payout, kind=EntryKind.PENDING)

    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.filter(pk=hold.pk).update(amount=1)
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.filter(payout=payout, kind=EntryKind.POST_PENDING).delete()

    assert LedgerEntry.objects.get(pk=hold.pk).amount == payout.amount
    assert LedgerEntry.objects.filter(payout=payout).count() == 2


@pytest.mark.django_db
def test_ledger_check_reports_a_resolution_that_does_not_match_its_hold(lean_org: Organization) -> None:
    payout = PayoutFactory(organization=lean_org, status=S.PAID)
    resolution = LedgerEntry.objects.get(payout=payout, kind=EntryKind.POST_PENDING)
    with pgtrigger.ignore(APPEND_ONLY):
        LedgerEntry.objects.filter(pk=resolution.pk).update(amount=F("amount") - 1)

    assert f"ledger entry {resolution.pk} does not match its hold" in _ledger_check_errors()


@pytest.mark.django_db
def test_ledger_check_reports_a_hold_on_another_organisations_account(lean_org: Organization) -> None:
    payout = PayoutFactory(organization=lean_org, status=S.SUBMITTED)
    other = OrganizationFactory(inn="7736207543")
    fund(other, "500.00")
    other_account = LedgerAccount.objects.get(kind=AccountKind.ORGANIZATION, organization=other)
    hold = LedgerEntry.objects.get(payout=payout, kind=EntryKind.PENDING)
    with pgtrigger.ignore(APPEND_ONLY):
        LedgerEntry.objects.filter(pk=hold.pk).update(debit_account=other_account, organization=other)

    assert f"ledger entry {hold.pk} holds another organisation's money" in _ledger_check_errors()


@pytest.mark.django_db
def test_ledger_check_reports_a_credit_that_does_not_match_its_transfer(lean_org: Organization) -> None:
    transfer = fund(lean_org, "250.00")
    credit = LedgerEntry.objects.get(incoming_transfer=transfer)
    with pgtrigger.ignore(APPEND_ONLY):
        LedgerEntry.objects.filter(pk=credit.pk).update(currency="USD")

    assert f"ledger entry {credit.pk} does not match its incoming transfer" in _ledger_check_errors()


@pytest.mark.django_db
def test_ledger_check_reports_an_entry_without_a_cause(lean_org: Organization) -> None:
    transfer = fund(lean_org, "250.00")
    credit = LedgerEntry.objects.get(incoming_transfer=transfer)
    orphan = LedgerEntry.objects.create(
        kind=EntryKind.POSTED,
        debit_account_id=credit.debit_account_id,
        credit_account_id=credit.credit_account_id,
        organization=lean_org,
        amount=Decimal("1.00"),
        currency="RUB",
        description="no transfer behind it",
    )

    assert f"ledger entry {orphan.pk} has no cause" in _ledger_check_errors()
