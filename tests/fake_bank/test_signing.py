import base64

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fake_bank.signing import keypair_generate, public_key_for, signature_header


def _public(whpk: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(whpk.removeprefix("whpk_")))


def test_keypair_generate_gives_32_byte_keys_in_text_form() -> None:
    # when
    secret, public = keypair_generate()
    # then
    assert secret.startswith("whsk_")
    assert public.startswith("whpk_")
    assert len(base64.b64decode(secret[5:])) == 32
    assert len(base64.b64decode(public[5:])) == 32
    assert public_key_for(secret) == public


def test_signature_header_verifies_over_id_timestamp_and_body() -> None:
    # given
    secret, public = keypair_generate()
    body = b'{"type":"payout.paid"}'
    # when
    header = signature_header(secret_keys=[secret], msg_id="msg_1", timestamp=1700000000, body=body)
    # then one v1a entry, verifying over "{id}.{timestamp}.{body}" and nothing else
    version, encoded = header.split(",")
    assert version == "v1a"
    signature = base64.b64decode(encoded)
    _public(public).verify(signature, b"msg_1.1700000000." + body)
    with pytest.raises(InvalidSignature):
        _public(public).verify(signature, b"msg_1.1700000001." + body)


def test_signature_header_signs_with_every_key_during_rotation() -> None:
    # given an old and a new key
    (old_secret, old_public), (new_secret, new_public) = keypair_generate(), keypair_generate()
    # when
    header = signature_header(
        secret_keys=[old_secret, new_secret], msg_id="msg_1", timestamp=1700000000, body=b"{}"
    )
    # then two entries, one per key, in order
    entries = [base64.b64decode(entry.removeprefix("v1a,")) for entry in header.split(" ")]
    assert len(entries) == 2
    _public(old_public).verify(entries[0], b"msg_1.1700000000.{}")
    _public(new_public).verify(entries[1], b"msg_1.1700000000.{}")


@pytest.mark.parametrize(
    "keys",
    [[], ["whpk_" + base64.b64encode(b"x" * 32).decode()], ["whsk_not base64"], ["whsk_" + "QUJD"]],
)
def test_signature_header_refuses_missing_or_malformed_keys(keys: list[str]) -> None:
    with pytest.raises(ValueError, match="key"):
        signature_header(secret_keys=keys, msg_id="msg_1", timestamp=1, body=b"{}")
