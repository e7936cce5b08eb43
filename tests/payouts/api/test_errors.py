"""Every error the API returns has the one envelope."""

from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from rest_framework.test import APIClient

from payouts import selectors
from payouts.models import Organization
from payouts.services import api_key_create


def assert_envelope(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return dict(body["error"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [{}, {"HTTP_AUTHORIZATION": "Api-Key nope.nope"}, {"HTTP_AUTHORIZATION": "Api-Key "}],
    ids=["missing", "wrong", "empty"],
)
def test_unauthenticated_request_is_401(headers: dict[str, str]) -> None:
    response = APIClient().get("/api/payouts/", **headers)
    error = assert_envelope(response, 401, "not_authenticated" if not headers else "authentication_failed")
    assert error["details"] == {}
    assert response["WWW-Authenticate"] == "Api-Key"


@pytest.mark.django_db
def test_revoked_key_is_401(organization: Organization) -> None:
    client = APIClient()
    key = api_key_create(organization=organization)
    organization.api_keys.update(revoked=True)
    response = client.get("/api/payouts/", HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert_envelope(response, 401, "authentication_failed")


@pytest.mark.django_db
def test_non_staff_user_is_403() -> None:
    client = APIClient()
    client.force_authenticate(User.objects.create_user("someone"))
    assert_envelope(client.get("/api/payouts/"), 403, "permission_denied")


@pytest.mark.django_db
def test_unknown_payout_and_unknown_url_are_404(api: APIClient) -> None:
    assert_envelope(api.get("/api/payouts/00000000-0000-0000-0000-000000000000/"), 404, "not_found")
    assert_envelope(api.get("/api/nothing-here/"), 404, "not_found")


@pytest.mark.django_db
def test_wrong_method_is_405(api: APIClient) -> None:
    assert_envelope(api.put("/api/payouts/", {}, format="json"), 405, "method_not_allowed")


@pytest.mark.django_db
def test_non_json_body_is_415(api: APIClient) -> None:
    response = api.post(
        "/api/payouts/",
        "amount=1",
        content_type="application/x-www-form-urlencoded",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert_envelope(response, 415, "unsupported_media_type")


@pytest.mark.django_db
def test_malformed_json_is_400(api: APIClient) -> None:
    response = api.post(
        "/api/payouts/", "{not json", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert_envelope(response, 400, "malformed_request")


@pytest.mark.django_db
def test_validation_error_is_400_with_field_details(api: APIClient) -> None:
    response = api.post("/api/payouts/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    error = assert_envelope(response, 400, "validation_error")
    assert {"amount", "currency", "recipient"} <= set(error["details"])


@pytest.mark.django_db
def test_too_many_requests_is_429_with_retry_after(api: APIClient, settings: Any) -> None:
    cache.clear()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"caller": "2/minute"}}
    responses = [api.get("/api/payouts/") for _ in range(3)]
    cache.clear()
    assert [r.status_code for r in responses[:2]] == [200, 200]
    error = assert_envelope(responses[2], 429, "rate_limited")
    assert int(responses[2]["Retry-After"]) > 0
    assert error["details"]["retry_after_seconds"] > 0


@pytest.mark.django_db
def test_unexpected_exception_is_500_in_the_envelope(api: APIClient) -> None:
    with mock.patch.object(selectors, "payout_rows_visible_to", side_effect=RuntimeError("boom")):
        response = api.get("/api/payouts/")
    error = assert_envelope(response, 500, "internal_error")
    assert "boom" not in error["message"]
