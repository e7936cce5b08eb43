import base64
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.test import override_settings


def test_fake_bank_keys_writes_a_key_pair_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given no keys file (its folder does not exist either)
    path = tmp_path / "var" / "dev-webhook-keys.json"
    with override_settings(DEV_WEBHOOK_KEYS_FILE=path):
        # when
        call_command("fake_bank_keys")
        # then a private file holds a matching pair
        keys = json.loads(path.read_text())
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        [secret], [public] = keys["private"], keys["public"]
        assert secret.startswith("whsk_")
        assert public.startswith("whpk_")
        private_key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(secret[5:]))
        assert private_key.public_key().public_bytes_raw() == base64.b64decode(public[5:])
        # when it runs again
        content = path.read_text()
        call_command("fake_bank_keys")
        # then nothing changed
        assert path.read_text() == content
    assert "exists" in capsys.readouterr().out


@pytest.mark.parametrize("content", ['{"private": ["whsk_mine"], "public": ["whpk_mine"]}', "not json"])
def test_fake_bank_keys_leaves_an_existing_file_alone(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(content)
    with override_settings(DEV_WEBHOOK_KEYS_FILE=path):
        call_command("fake_bank_keys")
    assert path.read_text() == content
