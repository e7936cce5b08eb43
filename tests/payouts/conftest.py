"""Fixtures of the payouts tests: funded organisations, API clients for them and for an operator, a
valid payout body, the bank's webhook keys and a respx-mocked bank."""

from typing import Any

import pytest
import respx
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient

from payouts.bank.adapter import bank_client
from payouts.models import Organization
from provider.signatures import generate_keypair
from tests.payouts.bank_doubles import BANK_URL
from tests.payouts.factories import VALID_ACCOUNT, OrganizationFactory, client_for, fund
from tests.payouts.receiver import receiver  # noqa: F401 (a fixture for every payouts test)


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
def settler_api(db: Any) -> APIClient:
    """An operator who may also settle payouts in flight by hand (`settle_by_hand`)."""
    user = User.objects.create_user("settler", password="settler-pass", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="settle_by_hand"))
    client = APIClient()
    client.force_authenticate(User.objects.get(pk=user.pk))  # a fresh instance: no stale permission cache
    return client


@pytest.fixture
def payout_body() -> dict[str, Any]:
    return {
        "amount": "100.50",
        "currency": "RUB",
        "recipient": dict(VALID_ACCOUNT),
        "description": "March fee",
    }


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
