"""The management commands an operator runs: organisations and their API keys; the demo's seed."""

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from payouts.models import LedgerCheckRun, Organization, OrganizationAPIKey


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


@pytest.mark.django_db
def test_seed_demo_makes_the_development_operator_once_with_its_kept_password(
    settings: Any, tmp_path: Path
) -> None:
    settings.ENVIRONMENT = "development"
    settings.WEBHOOK_INBOX_ENABLED = False
    settings.OPS_PASSWORD_FILE = tmp_path / "ops-password"

    call_command("seed_demo", stdout=StringIO())
    password = settings.OPS_PASSWORD_FILE.read_text().strip()
    call_command("seed_demo", stdout=StringIO())

    operator = User.objects.get(username="ops")
    assert operator.is_staff and not operator.is_superuser
    assert operator.check_password(password)
    assert settings.OPS_PASSWORD_FILE.read_text().strip() == password
    assert len(password) >= 16
    assert Client().login(username="ops", password=password)
    assert operator.has_perm("payouts.view_payout") and not operator.has_perm("payouts.change_payout")


@pytest.mark.django_db
def test_ledger_check_with_record_keeps_its_result_as_the_periodic_check_does(organization: Any) -> None:
    call_command("ledger_check", "--record", stdout=StringIO())
    call_command("ledger_check", stdout=StringIO())  # without it, nothing is recorded

    [run] = LedgerCheckRun.objects.all()
    assert run.ok and run.violation_count == 0
