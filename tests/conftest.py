from typing import Any

import pytest
import respx
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from payouts import tasks
from payouts.bank.adapter import bank_client
from payouts.models import Organization
from payouts.services import api_key_create
from provider.signatures import generate_keypair
from tests.bank_doubles import BANK_URL
from tests.factories import VALID_ACCOUNT, OrganizationFactory, fund


@pytest.fixture
def organization(db: Any) -> Organization:
    """The calling organisation, funded through incoming transfers (RUB and USD)."""
    organization = OrganizationFactory(inn="7707083893", name="Demo LLC")
    fund(organization, "20000000.00", "RUB")
    fund(organization, "1000.00", "USD")
    return organization


@pytest.fixture
def other_organization(db: Any) -> Organization:
    organization = OrganizationFactory(inn="7736207543", name="Other LLC")
    fund(organization, "1000000.00")
    return organization


def client_for(organization: Organization) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key_create(organization=organization)}")
    return client


@pytest.fixture
def api(organization: Organization) -> APIClient:
    """An API client authenticated as `organization`."""
    return client_for(organization)


@pytest.fixture
def other_api(other_organization: Organization) -> APIClient:
    return client_for(other_organization)


@pytest.fixture
def operator_api(db: Any) -> APIClient:
    user = User.objects.create_user("operator", password="operator-pass", is_staff=True)
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def payout_body() -> dict[str, Any]:
    return {
        "amount": "100.50",
        "currency": "RUB",
        "recipient": dict(VALID_ACCOUNT),
        "description": "March fee",
    }


@pytest.fixture(autouse=True)
def _no_real_task_queueing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests never publish to the broker by accident; tests that want the real thing are
    marked `e2e`. `.delay` is the edge we own, so it is the one we stub."""
    if request.node.get_closest_marker("e2e") is None:
        monkeypatch.setattr(tasks.process_payout, "delay", lambda *args, **kwargs: None)


@pytest.fixture
def bank_keys(settings: Any) -> list[str]:
    """A fresh webhook key pair for the test; the service trusts its public half."""
    secret, public = generate_keypair()
    settings.BANK_WEBHOOK_PUBLIC_KEYS = [public]
    return [secret]


@pytest.fixture
def bank_api(settings: Any) -> Any:
    """The service's bank client pointed at a respx-mocked bank."""
    settings.BANK_API_URL = BANK_URL
    bank_client.cache_clear()
    with respx.mock(base_url=BANK_URL, assert_all_called=False) as router:
        yield router
    bank_client.cache_clear()
