"""Hostile input gets a 4xx in the envelope and writes nothing (issue: no 5xx from any input)."""

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from payouts.models import Organization, Payout
from payouts.services import api_key_create
from tests.payouts.api.test_errors import assert_envelope
from tests.payouts.factories import PayoutFactory, fund

URL = "/api/payouts/"


def valid_body() -> dict[str, Any]:
    return {
        "amount": "10.00",
        "currency": "RUB",
        "recipient": {"name": "Ivan Petrov", "account_number": "40702810938000000001", "bic": "044525225"},
    }


def post_raw(api: APIClient, raw: str, content_type: str = "application/json") -> Any:
    return api.post(URL, raw, content_type=content_type, HTTP_IDEMPOTENCY_KEY="hostile-1")


@pytest.mark.django_db
@pytest.mark.parametrize("content_type", ["*/*", "text/plain", "application/jsonx", "text/json"])
def test_a_body_not_declared_as_json_is_415_and_not_parsed_on_a_guess(
    api: APIClient, content_type: str
) -> None:
    response = post_raw(api, json.dumps(valid_body()), content_type=content_type)

    assert_envelope(response, 415, "unsupported_media_type")
    assert not Payout.objects.exists()


@pytest.mark.django_db
def test_a_json_subtype_with_a_charset_is_json(api: APIClient, organization: Organization) -> None:
    fund(organization, "100.00")
    response = post_raw(api, json.dumps(valid_body()), content_type="application/json; charset=utf-8")

    assert response.status_code == 201, response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ('{"amount": "1.00", "amount": "9999.00", "currency": "RUB"}', "given twice"),
        ('{"amount": NaN, "currency": "RUB"}', "not a JSON number"),
        ('{"amount": Infinity}', "not a JSON number"),
        ("[" * 100_000 + "]" * 100_000, "nested deeper"),
        ('{"a":' * 40 + "1" + "}" * 40, "nested deeper"),
    ],
    ids=["duplicate-key", "nan", "infinity", "deep-array", "deep-object"],
)
def test_json_that_parsers_disagree_on_or_that_exhausts_the_stack_is_400(
    api: APIClient, raw: str, says: str
) -> None:
    error = assert_envelope(post_raw(api, raw), 400, "malformed_request")

    assert says in error["message"]
    assert not Payout.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["abc\x00def", "abc\x1bdef", "ключ"], ids=["nul", "escape", "non-ascii"])
def test_an_api_key_with_a_nul_control_or_non_ascii_character_is_401(key: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")

    assert_envelope(client.get(URL), 401, "authentication_failed")


@pytest.mark.django_db
def test_a_valid_key_still_works(organization: Organization) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key_create(organization=organization)}")
    assert client.get(URL).status_code == 200


ARABIC_TEN = "\u0661\u0660"  # "10" in Arabic-Indic digits
ARABIC_ACCOUNT = "".join(chr(0x0660 + int(d)) for d in "40702810938000000001")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": ARABIC_TEN}, "amount"),
        ({"amount": "10\n"}, "amount"),
        ({"recipient": {"name": "Ivan", "account_number": ARABIC_ACCOUNT, "bic": "044525225"}}, "recipient"),
        (
            {"recipient": {"name": 123, "account_number": "40702810938000000001", "bic": "044525225"}},
            "recipient",
        ),
        (
            {"recipient": {"name": "Ivan", "account_number": 40702810938000000001, "bic": "044525225"}},
            "recipient",
        ),
        ({"description": 1.5}, "description"),
        ({"description": "March\x1b[31m fee"}, "description"),
        ({"description": "a\x00b"}, "description"),
        ({"currency": 643}, "currency"),
    ],
    ids=[
        "arabic-digits-amount",
        "amount-newline",
        "arabic-digits-account",
        "number-name",
        "integer-account",
        "number-description",
        "escape-in-description",
        "nul-in-description",
        "number-currency",
    ],
)
def test_a_field_of_the_wrong_type_or_with_foreign_digits_or_control_characters_is_400(
    api: APIClient, organization: Organization, change: dict[str, Any], field: str
) -> None:
    fund(organization, "1000.00")

    response = api.post(URL, valid_body() | change, format="json", HTTP_IDEMPOTENCY_KEY="hostile-2")

    error = assert_envelope(response, 400, "validation_error")
    assert field in error["details"]
    assert not Payout.objects.exists()


@pytest.mark.django_db
def test_patch_with_a_control_character_in_the_reason_is_400(operator_api: APIClient) -> None:
    payout = PayoutFactory()
    response = operator_api.patch(
        f"{URL}{payout.pk}/", {"status": "canceled", "reason": "typo\x07"}, format="json"
    )

    assert_envelope(response, 400, "validation_error")
    payout.refresh_from_db()
    assert payout.status == "new"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/payouts/not-a-uuid/", "/api/nothing/here", "/api/payouts/1/events/"])
def test_under_api_a_path_that_does_not_exist_is_the_envelopes_404_in_development_too(
    api: APIClient, settings: Any, path: str
) -> None:
    settings.DEBUG = True  # where Django would answer with its HTML page

    assert_envelope(api.get(path), 404, "not_found")


@pytest.mark.django_db
def test_under_api_a_bad_host_is_the_envelopes_400_and_elsewhere_djangos_page(api: APIClient) -> None:
    assert_envelope(api.get(URL, HTTP_HOST="evil.example"), 400, "bad_request")

    page = api.get("/admin/login/", HTTP_HOST="evil.example")
    assert page.status_code == 400
    assert not page["Content-Type"].startswith("application/json")


@pytest.mark.django_db
def test_outside_api_a_missing_page_keeps_djangos_html(client: Any) -> None:
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_is_413_in_the_envelope(api: APIClient, settings: Any) -> None:
    body = '{"description": "' + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + '"}'

    error = assert_envelope(post_raw(api, body), 413, "payload_too_large")

    assert error["details"] == {"max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
    assert not Payout.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("offset", ["+16:00", "-23:59", "+23:59"])
def test_a_date_filter_with_an_offset_postgresql_cannot_hold_is_compared_in_utc(
    api: APIClient, organization: Organization, offset: str
) -> None:
    payout = PayoutFactory(organization=organization)

    response = api.get(URL, {"created_after": f"2000-01-01T00:00:00{offset}"})

    assert response.status_code == 200, response.content
    assert [item["id"] for item in response.json()["results"]] == [str(payout.pk)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/api/nothing/here/"), ("patch", "/api/payouts/not-a-uuid/"), ("delete", "/api/payouts/1/")],
)
def test_a_write_to_a_path_that_does_not_exist_is_the_envelopes_404_not_a_csrf_page(
    organization: Organization, method: str, path: str
) -> None:
    # a client with a key and no CSRF cookie, as every API client is (Django's CSRF check is on)
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key_create(organization=organization)}")
    assert_envelope(getattr(client, method)(path, {}, format="json"), 404, "not_found")
