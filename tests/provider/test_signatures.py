import base64
import hashlib
import hmac

import pytest

from provider.signatures import (
    WebhookVerificationError,
    generate_keypair,
    load_public_keys,
    public_key_from_secret,
    sign,
    verify,
)

NOW = 1_800_000_000
MSG_ID = "msg_2b1f0c9e8d7a"
BODY = b'{"type":"payout.paid","operation_id":"op_1","data":{"id":"bp_1"}}'

OLD_SECRET, OLD_PUBLIC = generate_keypair()
NEW_SECRET, NEW_PUBLIC = generate_keypair()


def signed_header(*secrets: str, timestamp: int = NOW, body: bytes = BODY) -> str:
    return sign(secret_keys=secrets, msg_id=MSG_ID, timestamp=timestamp, body=body)


def outcome(
    *,
    public_keys: list[str],
    signature_header: str | None,
    timestamp: str | None = str(NOW),
    msg_id: str | None = MSG_ID,
    body: bytes = BODY,
) -> str:
    """``"accepted"``, or the code of the verification failure, for a check made at ``NOW``."""
    try:
        verify(
            public_keys=public_keys,
            msg_id=msg_id,
            timestamp=timestamp,
            signature_header=signature_header,
            body=body,
            now=NOW,
        )
    except WebhookVerificationError as error:
        return error.code
    return "accepted"


# Keys


def test_generate_keypair_texts_carry_prefixes_and_32_byte_keys() -> None:
    # given / when
    secret, public = generate_keypair()

    # then
    assert secret.startswith("whsk_")
    assert public.startswith("whpk_")
    assert len(base64.b64decode(secret.removeprefix("whsk_"))) == 32
    assert len(base64.b64decode(public.removeprefix("whpk_"))) == 32
    assert public_key_from_secret(secret) == public


@pytest.mark.parametrize(
    "text",
    [
        "",
        OLD_SECRET,
        "whpk_not base64!",
        "whpk_" + base64.b64encode(b"short").decode(),
        "whpk_" + base64.b64encode(bytes(64)).decode(),
    ],
    ids=["empty", "secret-key", "bad-base64", "too-short", "too-long"],
)
def test_load_public_keys_malformed_key_raises_value_error(text: str) -> None:
    # given / when / then
    with pytest.raises(ValueError, match="key"):
        load_public_keys([OLD_PUBLIC, text])


def test_sign_one_v1a_entry_per_key() -> None:
    # given / when
    header = signed_header(OLD_SECRET, NEW_SECRET)

    # then
    entries = header.split(" ")
    assert len(entries) == 2
    assert all(entry.startswith("v1a,") for entry in entries)
    assert all(len(base64.b64decode(entry.removeprefix("v1a,"))) == 64 for entry in entries)


# Verification


def test_verify_valid_signature_passes() -> None:
    # given
    header = signed_header(OLD_SECRET)

    # when / then
    assert outcome(public_keys=[OLD_PUBLIC], signature_header=header) == "accepted"


def test_verify_tampered_body_is_invalid_signature() -> None:
    # given
    header = signed_header(OLD_SECRET)
    tampered = BODY.replace(b"payout.paid", b"payout.failed")

    # when
    code = outcome(public_keys=[OLD_PUBLIC], signature_header=header, body=tampered)

    # then
    assert code == "invalid_signature"


def test_verify_reserialised_body_is_invalid_signature() -> None:
    # given the same JSON with other whitespace: verification is over the raw bytes
    header = signed_header(OLD_SECRET)
    reserialised = BODY.replace(b",", b", ")

    # when
    code = outcome(public_keys=[OLD_PUBLIC], signature_header=header, body=reserialised)

    # then
    assert code == "invalid_signature"


def test_verify_timestamp_swapped_within_tolerance_is_invalid_signature() -> None:
    # given a signature for one timestamp presented with another, still fresh
    header = signed_header(OLD_SECRET, timestamp=NOW - 10)

    # when
    code = outcome(public_keys=[OLD_PUBLIC], signature_header=header, timestamp=str(NOW))

    # then
    assert code == "invalid_signature"


def test_verify_wrong_key_is_invalid_signature() -> None:
    # given
    header = signed_header(NEW_SECRET)

    # when
    code = outcome(public_keys=[OLD_PUBLIC], signature_header=header)

    # then
    assert code == "invalid_signature"


def test_verify_rotation_new_key_signature_passes_with_old_and_new_keys() -> None:
    # given the bank already signs with the new key only; the service holds both
    header = signed_header(NEW_SECRET)

    # when / then
    assert outcome(public_keys=[OLD_PUBLIC, NEW_PUBLIC], signature_header=header) == "accepted"


@pytest.mark.parametrize("public_key", [OLD_PUBLIC, NEW_PUBLIC], ids=["old-key", "new-key"])
def test_verify_rotation_signed_by_both_keys_passes_with_either_key(public_key: str) -> None:
    # given the bank signs with both keys during the rotation
    header = signed_header(OLD_SECRET, NEW_SECRET)

    # when / then
    assert outcome(public_keys=[public_key], signature_header=header) == "accepted"


@pytest.mark.parametrize("offset", [-301, 301, -86_400], ids=["stale", "future", "a-day-old"])
def test_verify_timestamp_beyond_tolerance_is_refused(offset: int) -> None:
    # given a correctly signed message whose timestamp is too far from now
    header = signed_header(OLD_SECRET, timestamp=NOW + offset)

    # when
    code = outcome(public_keys=[OLD_PUBLIC], signature_header=header, timestamp=str(NOW + offset))

    # then
    assert code == "timestamp_out_of_tolerance"


@pytest.mark.parametrize("offset", [-300, 300], ids=["oldest-accepted", "newest-accepted"])
def test_verify_timestamp_at_tolerance_edge_passes(offset: int) -> None:
    # given
    header = signed_header(OLD_SECRET, timestamp=NOW + offset)

    # when
    result = outcome(public_keys=[OLD_PUBLIC], signature_header=header, timestamp=str(NOW + offset))

    # then
    assert result == "accepted"


@pytest.mark.parametrize(
    ("msg_id", "timestamp", "signature"),
    [
        (None, str(NOW), True),
        (MSG_ID, None, True),
        (MSG_ID, str(NOW), False),
        ("", str(NOW), True),
        (MSG_ID, "", True),
    ],
    ids=["no-id", "no-timestamp", "no-signature", "empty-id", "empty-timestamp"],
)
def test_verify_missing_headers_is_refused(
    msg_id: str | None, timestamp: str | None, signature: bool
) -> None:
    # given
    header = signed_header(OLD_SECRET) if signature else None

    # when
    code = outcome(public_keys=[OLD_PUBLIC], msg_id=msg_id, timestamp=timestamp, signature_header=header)

    # then
    assert code == "missing_headers"


@pytest.mark.parametrize(
    "timestamp", ["soon", "1800000000.5", "-1800000000", " 1800000000", "1e9", "9" * 5000]
)
def test_verify_non_integer_timestamp_is_refused(timestamp: str) -> None:
    # given
    header = signed_header(OLD_SECRET)

    # when
    code = outcome(public_keys=[OLD_PUBLIC], signature_header=header, timestamp=timestamp)

    # then
    assert code == "invalid_timestamp"


def test_verify_v1_hmac_entry_is_ignored() -> None:
    # given a v1 (HMAC) entry that would be valid for a verifier using the public key text as secret
    content = f"{MSG_ID}.{NOW}.".encode() + BODY
    hmac_signature = base64.b64encode(hmac.new(OLD_PUBLIC.encode(), content, hashlib.sha256).digest())
    v1_entry = f"v1,{hmac_signature.decode()}"
    # and the valid Ed25519 signature relabelled as v1
    relabelled = signed_header(OLD_SECRET).replace("v1a,", "v1,")

    # when
    code = outcome(public_keys=[OLD_PUBLIC], signature_header=f"{v1_entry} {relabelled}")

    # then
    assert code == "invalid_signature"


def test_verify_v1_entry_next_to_valid_v1a_entry_passes() -> None:
    # given
    header = f"v1,{base64.b64encode(bytes(32)).decode()} {signed_header(OLD_SECRET)}"

    # when / then
    assert outcome(public_keys=[OLD_PUBLIC], signature_header=header) == "accepted"


@pytest.mark.parametrize(
    "entry",
    ["v1a,!!!not-base64!!!", "v1a,", "v1a", "v1a,c2hvcnQ=", ","],
    ids=["garbage", "empty", "no-comma", "short-signature", "bare-comma"],
)
def test_verify_garbage_entry_does_not_match(entry: str) -> None:
    # given / when
    code = outcome(public_keys=[OLD_PUBLIC], signature_header=entry)

    # then
    assert code == "invalid_signature"


def test_verify_garbage_entry_next_to_valid_entry_passes() -> None:
    # given
    header = f"v1a,!!!not-base64!!! {signed_header(OLD_SECRET)}"

    # when / then
    assert outcome(public_keys=[OLD_PUBLIC], signature_header=header) == "accepted"


def test_verify_without_public_keys_raises_value_error() -> None:
    # given / when / then: a configuration error, not the sender's fault
    with pytest.raises(ValueError, match="no webhook public keys"):
        outcome(public_keys=[], signature_header=signed_header(OLD_SECRET))
