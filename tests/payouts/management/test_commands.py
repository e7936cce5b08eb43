"""The management commands an operator runs: organisations and their API keys."""

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from payouts.models import Organization, OrganizationAPIKey


@pytest.mark.django_db
def test_create_organization_is_idempotent_and_checks_the_inn() -> None:
    out = StringIO()
    call_command("create_organization", "7707083893", "Demo LLC", stdout=out)
    call_command("create_organization", "7707083893", "Renamed", stdout=out)
    assert Organization.objects.get().name == "Demo LLC"
    assert "Already exists" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("create_organization", "7707083894", "Bad checksum")


@pytest.mark.django_db
def test_create_api_key_prints_a_working_key_on_its_last_line(organization: Any) -> None:
    out = StringIO()
    call_command("create_api_key", organization.inn, stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    assert OrganizationAPIKey.objects.get_from_key(key).organization == organization
    assert OrganizationAPIKey.objects.get().hashed_key != key
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get("/api/payouts/").status_code == 200


@pytest.mark.django_db
def test_create_api_key_for_unknown_inn_fails() -> None:
    with pytest.raises(CommandError):
        call_command("create_api_key", "7707083893")
