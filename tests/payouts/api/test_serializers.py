import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.test import override_settings
from rest_framework.serializers import ModelSerializer
from rest_framework.test import APIClient

from payouts.api.serializers import PayoutSerializer
from payouts.models import Payout, PayoutEvent, PayoutStatus
from tests.payouts.factories import PayoutFactory

URL = "/api/payouts/"
RU = {"name": "Ivan Petrov", "account_number": "40702810938000000001", "bic": "044525225"}


def post(api: APIClient, body: dict[str, Any]) -> Any:
    return api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="validation")


def with_(payout_body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**payout_body, **changes}


BAD_CASES: list[tuple[str, dict[str, Any], str]] = [
    # (case id, changes to the valid body, the field the 400 must name)
    ("amount-missing", {"amount": None}, "amount"),
    ("amount-zero", {"amount": "0"}, "amount"),
    ("amount-negative", {"amount": "-1.00"}, "amount"),
    ("amount-float", {"amount": 100.5}, "amount"),
    ("amount-bool", {"amount": True}, "amount"),
    ("amount-text", {"amount": "ten"}, "amount"),
    ("amount-exponent", {"amount": "1e3"}, "amount"),
    ("amount-too-precise", {"amount": "1.005"}, "amount"),
    ("amount-over-max", {"amount": "10000000.01"}, "amount"),
    ("currency-unknown", {"currency": "XYZ"}, "currency"),
    ("currency-lowercase", {"currency": "rub"}, "currency"),
    ("recipient-missing", {"recipient": None}, "recipient"),
    ("name-empty", {"recipient": {**RU, "name": ""}}, "recipient"),
    ("name-too-long", {"recipient": {**RU, "name": "x" * 141}}, "recipient"),
    ("name-unprintable", {"recipient": {**RU, "name": "Ivan\x00Petrov"}}, "recipient"),
    ("account-short", {"recipient": {**RU, "account_number": "4070281093800000000"}}, "recipient"),
    ("account-letters", {"recipient": {**RU, "account_number": "4070281093800000000A"}}, "recipient"),
    ("account-control-key", {"recipient": {**RU, "account_number": "40702810938000000002"}}, "recipient"),
    ("bic-short", {"recipient": {**RU, "bic": "04452522"}}, "recipient"),
    ("bic-not-russian", {"recipient": {**RU, "bic": "144525225"}}, "recipient"),
    ("bic-missing", {"recipient": {"name": "Ivan", "account_number": RU["account_number"]}}, "recipient"),
    ("account-missing", {"recipient": {"name": "Ivan", "bic": RU["bic"]}}, "recipient"),
    ("iban-invalid", {"recipient": {"name": "Hans", "iban": "DE89370400440532013001"}}, "recipient"),
    ("iban-and-account", {"recipient": {**RU, "iban": "DE89370400440532013000"}}, "recipient"),
    ("recipient-unknown-field", {"recipient": {**RU, "swift": "X"}}, "recipient"),
    ("unknown-field", {"status": "paid"}, "status"),
    ("description-too-long", {"description": "d" * 501}, "description"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("changes", "field"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_create_payout_refuses_bad_input_naming_the_field(
    api: APIClient, payout_body: dict[str, Any], changes: dict[str, Any], field: str
) -> None:
    body = {k: v for k, v in with_(payout_body, **changes).items() if v is not None}

    response = post(api, body)

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]
    assert not Payout.objects.exists()


GOOD_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("integer-amount", {"amount": 100}, "100.00"),
    ("one-decimal", {"amount": "7.5"}, "7.50"),
    ("max-amount", {"amount": "10000000"}, "10000000.00"),
    ("usd", {"currency": "USD", "amount": "0.01"}, "0.01"),
    ("iban", {"recipient": {"name": "Hans Muller", "iban": "DE89 3704 0044 0532 0130 00"}}, "100.50"),
    ("unicode-name", {"recipient": {**RU, "name": "Иван Петров"}}, "100.50"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("changes", "amount"), [c[1:] for c in GOOD_CASES], ids=[c[0] for c in GOOD_CASES])
def test_create_payout_accepts_valid_input(
    api: APIClient, payout_body: dict[str, Any], changes: dict[str, Any], amount: str
) -> None:
    response = post(api, with_(payout_body, **changes))
    assert response.status_code == 201, response.content
    assert response.json()["amount"] == amount


@pytest.mark.django_db
def test_create_payout_stores_iban_in_compact_form(api: APIClient, payout_body: dict[str, Any]) -> None:
    body = with_(payout_body, recipient={"name": "Hans Muller", "iban": "DE89 3704 0044 0532 0130 00"})
    response = post(api, body)
    assert response.json()["recipient"] == {"name": "Hans Muller", "iban": "DE89370400440532013000"}


@pytest.mark.django_db
@override_settings(PAYOUT_CURRENCIES=["RUB"], PAYOUT_MAX_AMOUNT=Decimal("50"))
def test_create_payout_follows_configured_currencies_and_maximum(
    api: APIClient, payout_body: dict[str, Any]
) -> None:
    assert post(api, with_(payout_body, currency="USD")).status_code == 400
    assert post(api, with_(payout_body, amount="50.01")).status_code == 400
    assert post(api, with_(payout_body, amount="50")).status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize("status", list(PayoutStatus))
def test_payout_rendering_equals_drfs_field_by_field_rendering(status: PayoutStatus) -> None:
    # given payouts of every status, with both kinds of recipient, and their event histories
    by_account = PayoutFactory(
        status=status, failure_code="declined", failure_reason="no", bank_reference="bp_9"
    )
    by_iban = PayoutFactory(status=status, recipient={"name": "Anna", "iban": "DE89370400440532013000"})
    for payout in (by_account, by_iban):
        PayoutEvent.objects.create(
            payout=payout, from_status="new", to_status=status, actor="bank", reason="r"
        )
    payouts = list(Payout.objects.prefetch_related("events").filter(pk__in=[by_account.pk, by_iban.pk]))

    for payout in payouts:
        # when rendered directly, and by the declared fields as DRF's ModelSerializer does it
        fast = PayoutSerializer(payout).data
        generic = ModelSerializer.to_representation(PayoutSerializer(), payout)

        # then the JSON is the same, to the character
        assert json.dumps(fast, cls=DjangoJSONEncoder) == json.dumps(generic, cls=DjangoJSONEncoder)
        assert len(fast["events"]) == payout.events.count()


@pytest.mark.django_db
def test_a_list_page_shows_each_payout_exactly_as_its_detail_does_but_its_events(
    api: APIClient, organization: Any
) -> None:
    # given payouts in every status, with events, for the caller
    for status in PayoutStatus:
        payout = PayoutFactory(organization=organization, status=status, bank_reference="bp_1")
        PayoutEvent.objects.create(
            payout=payout, from_status="new", to_status=status, actor="bank", reason="r"
        )

    # when listed (rows, no model instances) and fetched one by one (the model serializer)
    listed = api.get(URL, {"page_size": 100}).json()["results"]

    # then every item is its detail without the history, to the character
    assert len(listed) == len(PayoutStatus)
    for item in listed:
        detail = api.get(f"{URL}{item['id']}/").json()
        assert detail.pop("events")
        assert item == detail
