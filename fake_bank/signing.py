"""Standard Webhooks ``v1a`` signatures (Ed25519), the sending side.

Keys travel as text: ``whsk_<base64 of the 32-byte raw private key>`` and ``whpk_<base64 of the
32-byte raw public key>``. The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``.
The simulator keeps its own copy of this code: it shares nothing with the service but HTTP.
"""

import base64
import binascii
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SECRET_KEY_PREFIX = "whsk_"  # noqa: S105 (the marker of a key's text form, not a secret)
PUBLIC_KEY_PREFIX = "whpk_"
SIGNATURE_VERSION = "v1a"


def keypair_generate() -> tuple[str, str]:
    """A new key pair as ``(whsk_..., whpk_...)`` text."""
    private_key = Ed25519PrivateKey.generate()
    secret = SECRET_KEY_PREFIX + base64.b64encode(private_key.private_bytes_raw()).decode()
    return secret, public_key_for(secret)


def public_key_for(secret: str) -> str:
    """The ``whpk_...`` public key of a ``whsk_...`` secret key."""
    public_raw = _private_key(secret).public_key().public_bytes_raw()
    return PUBLIC_KEY_PREFIX + base64.b64encode(public_raw).decode()


def signed_content(*, msg_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{msg_id}.{timestamp}.".encode() + body


def signature_header(*, secret_keys: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one ``v1a,<base64>`` entry per key (two during a rotation).

    Raises ``ValueError`` when there is no key or a key is malformed (a configuration error).
    """
    if not secret_keys:
        raise ValueError("no signing keys configured (FAKE_BANK_SIGNING_KEYS)")
    content = signed_content(msg_id=msg_id, timestamp=timestamp, body=body)
    return " ".join(
        f"{SIGNATURE_VERSION},{base64.b64encode(_private_key(secret).sign(content)).decode()}"
        for secret in secret_keys
    )


def _private_key(secret: str) -> Ed25519PrivateKey:
    if not secret.startswith(SECRET_KEY_PREFIX):
        raise ValueError(f"a signing key must start with {SECRET_KEY_PREFIX!r}")
    try:
        raw = base64.b64decode(secret.removeprefix(SECRET_KEY_PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a signing key is not valid base64") from exc
    if len(raw) != 32:
        raise ValueError(f"a signing key holds 32 bytes, not {len(raw)}")
    return Ed25519PrivateKey.from_private_bytes(raw)
