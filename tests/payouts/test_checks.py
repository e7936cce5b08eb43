"""System checks: configuration the service cannot work with stops `manage.py check` and start-up."""

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from provider.signatures import generate_keypair


@pytest.mark.parametrize("bad_key", ["whpk_not-base64!", "whsk_AAAA", "whpk_" + "A" * 8])
def test_check_deploy_fails_on_a_malformed_bank_webhook_key(settings: Any, bad_key: str, caplog: Any) -> None:
    _, public = generate_keypair()
    settings.BANK_WEBHOOK_PUBLIC_KEYS = [public, bad_key]

    with pytest.raises(SystemCheckError, match=r"payouts\.E002.*entry 2"):
        call_command("check", "--deploy", stdout=StringIO(), stderr=StringIO())

    assert any(
        r.levelname == "ERROR" and "bank_webhook_public_key_invalid" in r.getMessage() for r in caplog.records
    )


def test_check_passes_with_well_formed_bank_webhook_keys(settings: Any) -> None:
    settings.BANK_WEBHOOK_PUBLIC_KEYS = [generate_keypair()[1], generate_keypair()[1]]

    call_command("check", stdout=StringIO(), stderr=StringIO())
