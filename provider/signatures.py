"""Standard Webhooks signatures, version ``v1a`` (Ed25519): the bank signs, the service verifies.

Keys travel as text: ``whsk_<base64 of the 32-byte private key>`` (the bank's secret) and
``whpk_<base64 of the 32-byte raw public key>`` (what the service holds). The signed content is
``{webhook-id}.{webhook-timestamp}.{raw body}``, over the exact bytes received.
"""

import base64
import binascii
import re
import time
from collections.abc import Iterable, Sequence
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SECRET_KEY_PREFIX = "whsk_"  # noqa: S105 (the marker of a key's text form, not a secret)
PUBLIC_KEY_PREFIX = "whpk_"
SIGNATURE_VERSION = "v1a"
DEFAULT_TOLERANCE_SECONDS = 300

VerificationFailure = Literal[
    "missing_headers", "invalid_timestamp", "timestamp_out_of_tolerance", "invalid_signature"
]

# Digits only, and short enough that int() never meets Python's huge-integer limit.
_TIMESTAMP = re.compile(r"[0-9]{1,15}")


class WebhookKeyError(ValueError):
    """A configured key is missing or malformed: our configuration is wrong, not the message."""


class WebhookVerificationError(Exception):
    """The message is not proven to come from the bank; ``code`` says why."""

    def __init__(self, code: VerificationFailure, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code: VerificationFailure = code
        self.message = message


def generate_keypair() -> tuple[str, str]:
    """A new (secret, public) key pair as ``whsk_...`` and ``whpk_...`` text."""
    private_key = Ed25519PrivateKey.generate()
    return _secret_text(private_key), _public_text(private_key.public_key())


def public_key_from_secret(secret: str) -> str:
    return _public_text(_load_secret_key(secret).public_key())


def load_public_keys(texts: Iterable[str]) -> list[Ed25519PublicKey]:
    """Parse ``whpk_...`` keys; raise ``WebhookKeyError`` on a malformed one (a configuration error)."""
    return [Ed25519PublicKey.from_public_bytes(_key_bytes(text, PUBLIC_KEY_PREFIX)) for text in texts]


def sign(*, secret_keys: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value: one ``v1a,<base64>`` entry per key, space-separated."""
    if not secret_keys:
        raise ValueError("at least one secret key is needed to sign")
    content = _signed_content(msg_id, str(timestamp), body)
    return " ".join(
        f"{SIGNATURE_VERSION},{base64.b64encode(_load_secret_key(secret).sign(content)).decode()}"
        for secret in secret_keys
    )


def verify(
    *,
    public_keys: Sequence[str],
    msg_id: str | None,
    timestamp: str | None,
    signature_header: str | None,
    body: bytes,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Return when any ``v1a`` entry of the header verifies with any of the keys; raise otherwise.

    Raises ``WebhookVerificationError`` for a message that fails, ``WebhookKeyError`` when
    ``public_keys`` is empty or malformed (that is our configuration, not the sender's fault).
    """
    keys = load_public_keys(public_keys)
    if not keys:
        raise WebhookKeyError("no webhook public keys configured")
    if not (msg_id and timestamp and signature_header):
        raise WebhookVerificationError(
            "missing_headers", "webhook-id, -timestamp and -signature are required"
        )
    if not _TIMESTAMP.fullmatch(timestamp):
        raise WebhookVerificationError("invalid_timestamp", f"not integer seconds: {timestamp[:20]!r}")
    drift = (time.time() if now is None else now) - int(timestamp)
    if abs(drift) > tolerance_seconds:
        raise WebhookVerificationError(
            "timestamp_out_of_tolerance", f"{drift:+.0f} s from now, tolerance {tolerance_seconds} s"
        )

    content = _signed_content(msg_id, timestamp, body)
    for signature in _v1a_signatures(signature_header):
        for key in keys:
            # Ed25519 verification recomputes the signature equation rather than comparing bytes
            # against a secret, so trying entries and keys one by one leaks nothing through timing.
            try:
                key.verify(signature, content)
            except InvalidSignature:
                continue
            return
    raise WebhookVerificationError("invalid_signature", "no v1a signature verified with a configured key")


def _signed_content(msg_id: str, timestamp: str, body: bytes) -> bytes:
    return f"{msg_id}.{timestamp}.".encode() + body


def _v1a_signatures(header: str) -> Iterable[bytes]:
    """The decoded ``v1a`` signatures; other versions (``v1`` HMAC) and undecodable entries are skipped."""
    for entry in header.split():
        version, _, encoded = entry.partition(",")
        if version != SIGNATURE_VERSION:
            continue
        try:
            yield base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue


def _load_secret_key(text: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_key_bytes(text, SECRET_KEY_PREFIX))


def _key_bytes(text: str, prefix: str) -> bytes:
    if not text.startswith(prefix):
        raise WebhookKeyError(f"a key must start with {prefix!r}")
    try:
        raw = base64.b64decode(text.removeprefix(prefix), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookKeyError(f"a {prefix!r} key is not valid base64") from exc
    if len(raw) != 32:
        raise WebhookKeyError(f"a {prefix!r} key must hold 32 bytes, not {len(raw)}")
    return raw


def _secret_text(key: Ed25519PrivateKey) -> str:
    return SECRET_KEY_PREFIX + base64.b64encode(key.private_bytes_raw()).decode()


def _public_text(key: Ed25519PublicKey) -> str:
    return PUBLIC_KEY_PREFIX + base64.b64encode(key.public_bytes_raw()).decode()
