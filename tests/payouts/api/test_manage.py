"""Reading, changing and deleting payouts through the API; tenant isolation; the pinned query count."""

from datetime import timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from payouts import transitions
from payouts.models import Actor, EntryKind, LedgerEntry, Organization, Payout, PayoutEvent, PayoutStatus
from tests.payouts.bank_doubles import bank_payout_json
from tests.payouts.factories import PayoutFactory

S = PayoutStatus


def detail(payout: Payout) -> str:
    return f"/api/payouts/{payout.pk}/"


@pytest.mark.django_db
def test_get_payout_returns_it_with_its_event_history(api: APIClient, organization: Organization) -> None:
    payout = PayoutFactory(organization=organization)
    PayoutEvent.objects.create(payout=payout, to_status=S.NEW, actor="client", reason="created")

    response = api.get(detail(payout))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(payout.pk)
    [event] = body["events"]
    assert event.pop("created_at")
    assert event == {"from_status": "", "to_status": "new", "actor": "client", "reason": "created"}


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_organisations_payout_is_404(
    other_api: APIClient, organization: Organization, method: str
) -> None:
    payout = PayoutFactory(organization=organization)

    response = getattr(other_api, method)(detail(payout), {"status": "canceled"}, format="json")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    payout.refresh_from_db()
    assert payout.status == S.NEW and payout.hidden_at is None


@pytest.mark.django_db
def test_list_shows_only_the_callers_payouts_newest_first(
    api: APIClient, organization: Organization, other_organization: Organization
) -> None:
    now = timezone.now()
    mine = []
    for minutes in (3, 2, 1):
        with time_machine.travel(now - timedelta(minutes=minutes), tick=False):
            mine.append(PayoutFactory(organization=organization))
    PayoutFactory(organization=other_organization)

    response = api.get("/api/payouts/")

    assert response.status_code == 200
    assert [p["id"] for p in response.json()["results"]] == [str(p.pk) for p in reversed(mine)]


@pytest.mark.django_db
def test_operator_lists_every_organisation(
    operator_api: APIClient, organization: Organization, other_organization: Organization
) -> None:
    PayoutFactory(organization=organization)
    PayoutFactory(organization=other_organization)
    assert len(operator_api.get("/api/payouts/").json()["results"]) == 2


@pytest.mark.django_db
def test_list_cursor_pages_stay_stable_while_rows_are_inserted(
    api: APIClient, organization: Organization
) -> None:
    start = timezone.now() - timedelta(hours=1)
    for i in range(5):
        with time_machine.travel(start + timedelta(minutes=i), tick=False):
            PayoutFactory(organization=organization)
    expected = [str(p.pk) for p in Payout.objects.order_by("-created_at")]

    first = api.get("/api/payouts/", {"page_size": 2}).json()
    PayoutFactory(organization=organization)  # a new payout arrives between page requests
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()

    seen = [p["id"] for page in (first, second, third) for p in page["results"]]
    assert seen == expected
    assert third["next"] is None


@pytest.mark.django_db
def test_list_filters_by_status_currency_dates_and_amounts(
    api: APIClient, organization: Organization
) -> None:
    paid = PayoutFactory(organization=organization, status=S.PAID, amount=Decimal("10.00"))
    failed = PayoutFactory(
        organization=organization, status=S.FAILED, amount=Decimal("500.00"), currency="USD"
    )
    PayoutFactory(organization=organization, status=S.NEW, amount=Decimal("50.00"))

    def ids(**params: Any) -> set[str]:
        response = api.get("/api/payouts/", params)
        assert response.status_code == 200, response.content
        return {p["id"] for p in response.json()["results"]}

    assert ids(status=["paid", "failed"]) == {str(paid.pk), str(failed.pk)}
    assert ids(currency="USD") == {str(failed.pk)}
    assert ids(amount_min="20", amount_max="600", status="failed") == {str(failed.pk)}
    assert ids(amount_max="10") == {str(paid.pk)}
    future = (timezone.now() + timedelta(days=1)).isoformat()
    assert ids(created_after=future) == set()
    assert len(ids(created_before=future)) == 3


@pytest.mark.django_db
def test_list_with_an_unknown_status_filter_is_400(api: APIClient) -> None:
    response = api.get("/api/payouts/", {"status": "lost"})
    assert response.status_code == 400
    assert "status" in response.json()["error"]["details"]


@pytest.mark.django_db
@pytest.mark.parametrize("page_size", [1, 50])
def test_list_query_count_does_not_grow_with_page_size(
    api: APIClient, organization: Organization, django_assert_max_num_queries: Any, page_size: int
) -> None:
    for _ in range(page_size):
        payout = PayoutFactory(organization=organization)
        PayoutEvent.objects.create(payout=payout, to_status=S.NEW, actor="client")
    # api key lookup + page (items carry no events)
    with django_assert_max_num_queries(2):
        response = api.get("/api/payouts/", {"page_size": page_size})
    assert len(response.json()["results"]) == page_size


@pytest.mark.django_db
def test_patch_cancels_a_new_payout(api: APIClient, organization: Organization) -> None:
    payout = PayoutFactory(organization=organization)

    response = api.patch(detail(payout), {"status": "canceled", "reason": "typo"}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    event = PayoutEvent.objects.get(payout=payout)
    assert (event.from_status, event.to_status, event.actor, event.reason) == (
        "new",
        "canceled",
        "client",
        "typo",
    )


@pytest.mark.django_db
def test_patch_updates_the_description_of_a_new_payout(api: APIClient, organization: Organization) -> None:
    payout = PayoutFactory(organization=organization, status=S.NEW)
    response = api.patch(detail(payout), {"description": "April fee"}, format="json")
    assert response.status_code == 200
    assert response.json()["description"] == "April fee"


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.PROCESSING, S.SUBMITTED, S.PAID, S.FAILED, S.CANCELED])
def test_patch_description_once_the_payout_left_new_is_409_and_changes_nothing(
    api: APIClient, organization: Organization, status: S
) -> None:
    # given a payout the bank was sent (its description part of the body the bank's key covers)
    payout = PayoutFactory(organization=organization, status=status, description="keep")

    response = api.patch(detail(payout), {"description": "changed"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "payout_not_editable"
    assert response.json()["error"]["details"] == {"status": status}
    payout.refresh_from_db()
    assert payout.description == "keep"


@pytest.mark.django_db
def test_patch_cancel_and_description_of_a_new_payout_apply_together(
    api: APIClient, organization: Organization
) -> None:
    payout = PayoutFactory(organization=organization, status=S.NEW, description="keep")

    response = api.patch(detail(payout), {"status": "canceled", "description": "typo"}, format="json")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["description"]) == ("canceled", "typo")


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.PAID, S.FAILED, S.CANCELED, S.PROCESSING])
def test_patch_illegal_cancel_is_409_with_both_statuses(
    api: APIClient, organization: Organization, status: S
) -> None:
    payout = PayoutFactory(organization=organization, status=status, description="keep")

    response = api.patch(detail(payout), {"status": "canceled"}, format="json")

    if status == S.CANCELED:
        assert response.status_code == 200  # already there: a no-op
        return
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "invalid_transition"
    assert error["details"] == {"current_status": status, "requested_status": "canceled"}
    payout.refresh_from_db()
    assert payout.status == status
    assert payout.description == "keep"


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["amount", "currency", "recipient"])
def test_patch_immutable_field_is_400_naming_it(
    api: APIClient, organization: Organization, field: str
) -> None:
    payout = PayoutFactory(organization=organization)
    value = {
        "amount": "1.00",
        "currency": "USD",
        "recipient": {"name": "X", "iban": "DE89370400440532013000"},
    }

    response = api.patch(detail(payout), {field: value[field], "description": "x"}, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    payout.refresh_from_db()
    assert payout.description == "March fee"


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["paid", "failed", "processing", "bogus"])
def test_patch_client_may_only_ask_for_canceled(
    api: APIClient, organization: Organization, status: str
) -> None:
    payout = PayoutFactory(organization=organization, status=S.SUBMITTED)
    response = api.patch(detail(payout), {"status": status}, format="json")
    assert response.status_code == 400
    assert "status" in response.json()["error"]["details"]
    payout.refresh_from_db()
    assert payout.status == S.SUBMITTED


@pytest.mark.django_db
def test_patch_refused_status_with_a_description_changes_neither(operator_api: APIClient) -> None:
    # given a new payout, and an operator asking for `paid` (not allowed from `new`) with a description
    payout = PayoutFactory(status=S.NEW, description="keep")

    response = operator_api.patch(detail(payout), {"status": "paid", "description": "x"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"
    payout.refresh_from_db()
    assert (payout.status, payout.description) == (S.NEW, "keep")


@pytest.mark.django_db
def test_patch_operator_settles_by_hand_with_a_reason(settler_api: APIClient, bank_api: Any) -> None:
    # given an operator with `settle_by_hand`, and a bank that reports the second payout failed
    paid = PayoutFactory(status=S.SUBMITTED)
    failed = PayoutFactory(status=S.PROCESSING)
    bank_api.get(f"/payouts/by-reference/{failed.pk}").respond(
        200, json=bank_payout_json(failed, status="failed", bank_id="bp_2")
    )

    r1 = settler_api.patch(detail(paid), {"status": "paid", "reason": "confirmed by phone"}, format="json")
    r2 = settler_api.patch(
        detail(failed),
        {"status": "failed", "reason": "bank says closed", "failure_code": "account_closed"},
        format="json",
    )

    assert r1.status_code == 200 and r1.json()["status"] == "paid"
    assert r2.status_code == 200 and r2.json()["failure_code"] == "account_closed"
    assert r2.json()["failure_reason"] == "bank says closed"
    assert PayoutEvent.objects.get(payout=paid).actor == "operator"


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["paid", "failed"])
def test_patch_staff_without_the_permission_cannot_settle_a_payout_in_flight(
    operator_api: APIClient, status: str
) -> None:
    payout = PayoutFactory(status=S.SUBMITTED)

    response = operator_api.patch(detail(payout), {"status": status, "reason": "by hand"}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "settlement_not_permitted"
    payout.refresh_from_db()
    assert payout.status == S.SUBMITTED


@pytest.mark.django_db
@pytest.mark.parametrize("bank_status", ["processing", "paid"])
def test_patch_failed_is_refused_while_the_bank_still_has_the_payout(
    settler_api: APIClient, bank_api: Any, bank_status: str
) -> None:
    payout = PayoutFactory(status=S.SUBMITTED)
    bank_api.get(f"/payouts/by-reference/{payout.pk}").respond(
        200, json=bank_payout_json(payout, status=bank_status, bank_id="bp_2")
    )

    response = settler_api.patch(detail(payout), {"status": "failed", "reason": "looks lost"}, format="json")

    # then the funds stay held: the bank may still pay
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "bank_disagrees",
        "message": response.json()["error"]["message"],
        "details": {"bank_status": bank_status},
    }
    payout.refresh_from_db()
    assert payout.status == S.SUBMITTED
    assert not LedgerEntry.objects.filter(payout=payout, kind=EntryKind.VOID_PENDING).exists()


@pytest.mark.django_db
def test_patch_failed_of_a_payout_unknown_to_the_bank_needs_a_force(
    settler_api: APIClient, bank_api: Any
) -> None:
    # given the bank does not know the payout: our own submission may still be on its way to it
    payout = PayoutFactory(status=S.PROCESSING)
    bank_api.get(f"/payouts/by-reference/{payout.pk}").respond(
        404, json={"error": {"code": "not_found", "message": "no"}}
    )

    response = settler_api.patch(detail(payout), {"status": "failed", "reason": "never sent"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"bank_status": "unknown"}
    payout.refresh_from_db()
    assert payout.status == S.PROCESSING


@pytest.mark.django_db
def test_patch_failed_by_force_needs_a_reason_and_records_it(settler_api: APIClient, bank_api: Any) -> None:
    # given the bank still reports the payout processing
    payout = PayoutFactory(status=S.SUBMITTED)
    lookup = bank_api.get(f"/payouts/by-reference/{payout.pk}").respond(
        200, json=bank_payout_json(payout, status="processing", bank_id="bp_2")
    )

    without_reason = settler_api.patch(detail(payout), {"status": "failed", "force": True}, format="json")
    forced = settler_api.patch(
        detail(payout),
        {"status": "failed", "force": True, "reason": "bank confirmed by phone"},
        format="json",
    )

    assert without_reason.status_code == 400
    assert list(without_reason.json()["error"]["details"]) == ["reason"]
    assert forced.status_code == 200 and forced.json()["status"] == "failed"
    event = PayoutEvent.objects.filter(payout=payout).last()
    assert event is not None
    assert (event.actor, event.reason) == ("operator", "forced by an operator: bank confirmed by phone")
    assert not lookup.called  # a force does not ask


@pytest.mark.django_db
def test_the_admin_change_form_of_a_payout_saves_nothing(admin_client: Any) -> None:
    payout = PayoutFactory(status=S.SUBMITTED, description="keep")

    page = admin_client.get(f"/admin/payouts/payout/{payout.pk}/change/")
    post = admin_client.post(f"/admin/payouts/payout/{payout.pk}/change/", {"description": "x"})

    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert post.status_code == 403
    payout.refresh_from_db()
    assert payout.description == "keep"


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.NEW, S.PAID, S.FAILED, S.CANCELED])
def test_delete_hides_new_and_finished_payouts(api: APIClient, organization: Organization, status: S) -> None:
    payout = PayoutFactory(organization=organization, status=status)

    response = api.delete(detail(payout))

    assert response.status_code == 204
    assert api.get(detail(payout)).status_code == 404
    assert api.delete(detail(payout)).status_code == 404
    payout.refresh_from_db()  # kept for audit
    assert payout.hidden_at is not None
    assert payout.status == (S.CANCELED if status == S.NEW else status)
    assert str(payout.pk) not in {p["id"] for p in api.get("/api/payouts/").json()["results"]}


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.PROCESSING, S.SUBMITTED])
def test_delete_money_in_flight_is_409(api: APIClient, organization: Organization, status: S) -> None:
    payout = PayoutFactory(organization=organization, status=status)
    response = api.delete(detail(payout))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "payout_in_flight"
    payout.refresh_from_db()
    assert payout.hidden_at is None and payout.status == status


@pytest.mark.django_db
def test_cancel_decided_on_a_stale_read_never_cancels_a_payout_the_bank_has(
    api: APIClient, organization: Organization, bank_api: Any
) -> None:
    # given a client's cancel that read `new`, while the worker handed the payout to the bank and
    # committed `submitted` before the cancel took the row lock
    payout = PayoutFactory(organization=organization, status=S.NEW)
    bank_cancel = bank_api.post("/payouts/bp_9/cancel").respond(
        409, json={"error": {"code": "already_executed", "message": "paid"}}
    )
    real_transition = transitions.payout_transition
    raced = {"done": False}

    def worker_wins_the_race(**kwargs: Any) -> Any:
        if not raced["done"]:
            raced["done"] = True
            real_transition(payout_id=payout.pk, to_status=S.PROCESSING, actor=Actor.WORKER)
            real_transition(
                payout_id=payout.pk, to_status=S.SUBMITTED, actor=Actor.WORKER, bank_reference="bp_9"
            )
        return real_transition(**kwargs)

    with mock.patch("payouts.services.payout_transition", side_effect=worker_wins_the_race):
        response = api.patch(detail(payout), {"status": "canceled"}, format="json")

    # then the bank was asked, refused, and the payout (and its hold) carry on
    assert bank_cancel.called
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "cancel_refused"
    payout.refresh_from_db()
    assert payout.status == S.SUBMITTED
    assert not LedgerEntry.objects.filter(payout=payout).exclude(kind=EntryKind.PENDING).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("cursor", ["cD1ub3QtYS1kYXRl", "bz0xJnA9eA=="], ids=["bad-position", "bad-offset"])
def test_list_with_a_crafted_cursor_is_404_in_the_envelope(
    api: APIClient, organization: Organization, cursor: str
) -> None:
    PayoutFactory(organization=organization)
    for url in ("/api/payouts/", f"/api/organizations/{organization.inn}/balance/history/"):
        response = api.get(url, {"cursor": cursor})
        assert response.status_code == 404, (url, response.content)
        assert response.json()["error"]["code"] == "not_found"
