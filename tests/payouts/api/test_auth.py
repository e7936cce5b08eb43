"""API keys: verified once, then trusted in-process for `API_KEY_CACHE_SECONDS`."""

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from payouts.api import auth
from payouts.models import Organization
from payouts.services import api_key_create

URL = "/api/payouts/"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: now[0])
    return now


@pytest.mark.django_db
def test_a_verified_key_is_not_looked_up_again_within_the_cache_time(
    organization: Organization, clock: list[float]
) -> None:
    client = APIClient(HTTP_AUTHORIZATION=f"Api-Key {api_key_create(organization=organization)}")
    assert client.get(URL).status_code == 200

    with CaptureQueriesContext(connection) as queries:
        assert client.get(URL).status_code == 200

    assert not [q for q in queries.captured_queries if "organizationapikey" in q["sql"]]


@pytest.mark.django_db
def test_a_revoked_key_stops_working_once_the_cache_time_has_passed(
    organization: Organization, settings: Any, clock: list[float]
) -> None:
    settings.API_KEY_CACHE_SECONDS = 5
    client = APIClient(HTTP_AUTHORIZATION=f"Api-Key {api_key_create(organization=organization)}")
    assert client.get(URL).status_code == 200
    organization.api_keys.update(revoked=True)

    clock[0] += 4.9
    within = client.get(URL)
    clock[0] += 0.2
    after = client.get(URL)

    assert within.status_code == 200
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "authentication_failed"


@pytest.mark.django_db
def test_a_wrong_secret_with_a_cached_keys_prefix_is_refused(organization: Organization) -> None:
    key = api_key_create(organization=organization)
    assert APIClient(HTTP_AUTHORIZATION=f"Api-Key {key}").get(URL).status_code == 200
    prefix, _, secret = key.partition(".")
    forged = f"{prefix}.{'x' * len(secret)}"

    response = APIClient(HTTP_AUTHORIZATION=f"Api-Key {forged}").get(URL)

    assert response.status_code == 401


@pytest.mark.django_db
def test_with_no_cache_time_every_request_checks_the_key(organization: Organization, settings: Any) -> None:
    settings.API_KEY_CACHE_SECONDS = 0
    client = APIClient(HTTP_AUTHORIZATION=f"Api-Key {api_key_create(organization=organization)}")
    assert client.get(URL).status_code == 200
    organization.api_keys.update(revoked=True)

    assert client.get(URL).status_code == 401
