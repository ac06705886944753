"""Signatures, expiring tokens and token encryption at rest (sociallab.crypto)."""

from __future__ import annotations

import base64
import os

import pytest

from sociallab.crypto import (
    DecryptionError,
    ExpiredTokenError,
    InvalidSignatureError,
    TokenCipher,
    generate_key_setting,
    make_signed_token,
    read_signed_token,
    sign,
    verify,
)
from sociallab.errors import AuthenticationError, ConfigurationError

pytestmark = pytest.mark.unit

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
NOW = 1_750_000_000.0


def _setting(*pairs: tuple[str, bytes], urlsafe: bool = True) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.standard_b64encode
    return ",".join(f"{kid}:{encode(key).decode()}" for kid, key in pairs)


# --- sign / verify --------------------------------------------------------------------------------


def test_sign_is_unpadded_base64url_hmac_sha256_and_verifies() -> None:
    signature = sign("payload", key=KEY)

    assert len(signature) == 43  # 32 bytes, no padding
    assert set(signature) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert signature == sign(b"payload", key=KEY)
    assert verify(b"payload", signature, key=KEY)


@pytest.mark.parametrize(
    ("payload", "key", "mutate"),
    [
        (b"payloaD", KEY, lambda s: s),
        (b"payload", OTHER_KEY, lambda s: s),
        (b"payload", KEY, lambda s: s[:-1]),
        (b"payload", KEY, lambda s: s + "A"),
        (b"payload", KEY, lambda s: ""),
        (b"payload", KEY, lambda s: "é" * 43),
    ],
)
def test_verify_refuses_other_payload_key_or_signature(payload: bytes, key: bytes, mutate: object) -> None:
    signature = mutate(sign(b"payload", key=KEY))  # type: ignore[operator]

    assert verify(payload, signature, key=key) is False


def test_an_empty_signing_key_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        sign("x", key=b"")


# --- expiring signed tokens -----------------------------------------------------------------------


def test_signed_token_round_trip_until_expiry() -> None:
    token = make_signed_token({"b": "media", "p": "a/b.jpg"}, key=KEY, purpose="t", ttl_seconds=60, now=NOW)

    assert read_signed_token(token, key=KEY, purpose="t", now=NOW) == {"b": "media", "p": "a/b.jpg"}
    assert read_signed_token(token, key=KEY, purpose="t", now=NOW + 59.9) == {"b": "media", "p": "a/b.jpg"}
    with pytest.raises(ExpiredTokenError):
        read_signed_token(token, key=KEY, purpose="t", now=NOW + 60)


def test_signed_token_is_url_safe() -> None:
    token = make_signed_token({"x": "?&=/+ é"}, key=KEY, purpose="t", ttl_seconds=60, now=NOW)

    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_expired_token_is_an_authentication_error() -> None:
    token = make_signed_token({}, key=KEY, purpose="t", ttl_seconds=1, now=NOW)

    with pytest.raises(AuthenticationError) as caught:
        read_signed_token(token, key=KEY, purpose="t", now=NOW + 3600)

    assert caught.value.status == 401


def test_token_for_another_purpose_or_key_is_refused() -> None:
    token = make_signed_token({"a": 1}, key=KEY, purpose="oauth.state", ttl_seconds=60, now=NOW)

    with pytest.raises(InvalidSignatureError):
        read_signed_token(token, key=KEY, purpose="storage.sign", now=NOW)
    with pytest.raises(InvalidSignatureError):
        read_signed_token(token, key=OTHER_KEY, purpose="oauth.state", now=NOW)


def test_tampered_token_payload_is_refused_even_when_it_would_extend_the_expiry() -> None:
    token = make_signed_token({"a": 1}, key=KEY, purpose="t", ttl_seconds=60, now=NOW)
    _, signature = token.split(".")
    forged_body = base64.urlsafe_b64encode(b'{"d":{"a":1},"exp":9999999999}').rstrip(b"=").decode()

    with pytest.raises(InvalidSignatureError):
        read_signed_token(f"{forged_body}.{signature}", key=KEY, purpose="t", now=NOW)


@pytest.mark.parametrize(
    "token",
    ["", ".", "abc", "abc.", ".abc", "a.b.c", "é.é", "not base64!.sig", "\x00.\x00"],
)
def test_malformed_tokens_are_invalid_not_crashes(token: str) -> None:
    with pytest.raises(InvalidSignatureError):
        read_signed_token(token, key=KEY, purpose="t", now=NOW)


@pytest.mark.parametrize("claims", [b"[]", b'{"d":[],"exp":1}', b'{"d":{}}', b'{"d":{},"exp":"1"}', b"\xff"])
def test_well_signed_but_malformed_claims_are_invalid(claims: bytes) -> None:
    from sociallab.crypto import _token_mac_input

    body = base64.urlsafe_b64encode(claims).rstrip(b"=").decode()
    token = f"{body}.{sign(_token_mac_input('t', body), key=KEY)}"

    with pytest.raises(InvalidSignatureError):
        read_signed_token(token, key=KEY, purpose="t", now=NOW)


def test_token_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        make_signed_token({}, key=KEY, purpose="t", ttl_seconds=0)
    with pytest.raises(ValueError, match="purpose"):
        make_signed_token({}, key=KEY, purpose="", ttl_seconds=1)


def test_token_defaults_to_the_current_time() -> None:
    token = make_signed_token({"a": 1}, key=KEY, purpose="t", ttl_seconds=60)

    assert read_signed_token(token, key=KEY, purpose="t") == {"a": 1}


# --- TokenCipher ----------------------------------------------------------------------------------


def test_encrypt_decrypt_round_trip_with_associated_data() -> None:
    cipher = TokenCipher.from_setting(_setting(("k1", KEY)))

    key_id, blob = cipher.encrypt("IGAAT-secret-token", associated_data=b"account-1")

    assert key_id == "k1"
    assert b"IGAAT-secret-token" not in blob
    assert len(blob) == 12 + len("IGAAT-secret-token") + 16
    assert cipher.decrypt(key_id, blob, associated_data=b"account-1") == "IGAAT-secret-token"


def test_nonces_are_random_so_equal_plaintexts_differ() -> None:
    cipher = TokenCipher.from_setting(_setting(("k1", KEY)))

    blobs = {cipher.encrypt("same")[1] for _ in range(50)}

    assert len(blobs) == 50
    assert len({blob[:12] for blob in blobs}) == 50


def test_ciphertext_is_bound_to_its_associated_data() -> None:
    cipher = TokenCipher.from_setting(_setting(("k1", KEY)))
    key_id, blob = cipher.encrypt("secret", associated_data=b"account-1")

    with pytest.raises(DecryptionError):
        cipher.decrypt(key_id, blob, associated_data=b"account-2")
    with pytest.raises(DecryptionError):
        cipher.decrypt(key_id, blob)


@pytest.mark.parametrize("position", [0, 11, 12, -1])
def test_tampered_blob_is_refused(position: int) -> None:
    cipher = TokenCipher.from_setting(_setting(("k1", KEY)))
    key_id, blob = cipher.encrypt("secret")
    tampered = bytearray(blob)
    tampered[position] ^= 0x01

    with pytest.raises(DecryptionError, match="failed authentication"):
        cipher.decrypt(key_id, bytes(tampered))


def test_truncated_blob_is_refused() -> None:
    cipher = TokenCipher.from_setting(_setting(("k1", KEY)))

    with pytest.raises(DecryptionError, match="truncated"):
        cipher.decrypt("k1", b"\x00" * 27)


def test_key_rotation_new_key_encrypts_old_key_still_decrypts() -> None:
    old = TokenCipher.from_setting(_setting(("k1", KEY)))
    old_id, old_blob = old.encrypt("before rotation", associated_data=b"a")
    rotated = TokenCipher.from_setting(_setting(("k2", OTHER_KEY), ("k1", KEY)))

    new_id, new_blob = rotated.encrypt("after rotation", associated_data=b"a")

    assert (old_id, new_id) == ("k1", "k2")
    assert rotated.key_ids == ["k2", "k1"]
    assert rotated.decrypt(old_id, old_blob, associated_data=b"a") == "before rotation"
    assert rotated.decrypt(new_id, new_blob, associated_data=b"a") == "after rotation"
    assert rotated.needs_reencryption(old_id) and not rotated.needs_reencryption(new_id)


def test_unknown_key_id_is_a_clear_decryption_error() -> None:
    cipher = TokenCipher.from_setting(_setting(("k2", OTHER_KEY)))
    _, blob = TokenCipher.from_setting(_setting(("k1", KEY))).encrypt("secret")

    with pytest.raises(DecryptionError, match=r"Unknown encryption key id 'k1'.*TOKEN_ENCRYPTION_KEY"):
        cipher.decrypt("k1", blob)


def test_key_id_swap_to_another_configured_key_fails() -> None:
    cipher = TokenCipher.from_setting(_setting(("k2", OTHER_KEY), ("k1", KEY)))
    _, blob = cipher.encrypt("secret")

    with pytest.raises(DecryptionError):
        cipher.decrypt("k1", blob)


def test_setting_accepts_standard_and_urlsafe_base64_with_or_without_padding_and_spaces() -> None:
    key = bytes(range(256))[-32:]  # encodes with '+'/'/' vs '-'/'_' and needs padding
    standard = base64.standard_b64encode(key).decode()
    assert "=" in standard

    variants = [
        f"k1:{standard}",
        f"k1:{standard.rstrip('=')}",
        f"k1:{base64.urlsafe_b64encode(key).decode()}",
        f" k1 : {base64.urlsafe_b64encode(key).decode().rstrip('=')} , ",
    ]
    _, blob = TokenCipher.from_setting(variants[0]).encrypt("x")

    for setting in variants:
        assert TokenCipher.from_setting(setting).decrypt("k1", blob) == "x"


SECRET_LOOKING = base64.urlsafe_b64encode(b"S" * 16).decode()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty"),
        (" , ", "empty"),
        (SECRET_LOOKING, "entry 1 is malformed"),
        (f"k1:{base64.urlsafe_b64encode(KEY).decode()},{SECRET_LOOKING}", "entry 2 is malformed"),
        (f"bad id!:{SECRET_LOOKING}", "entry 1 is malformed"),
        (f"k1:{SECRET_LOOKING}", "'k1' must decode to 32 bytes, not 16"),
        ("k1:" + "*" * 44, "'k1' is not valid base64"),
        (_setting(("k1", KEY), ("k1", OTHER_KEY)), "key id 'k1' twice"),
    ],
)
def test_malformed_setting_names_the_variable_but_never_the_key(value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        TokenCipher.from_setting(value)

    assert "TOKEN_ENCRYPTION_KEY" in caught.value.message
    assert SECRET_LOOKING not in caught.value.message
    assert SECRET_LOOKING.rstrip("=") not in caught.value.message


def test_generate_key_setting_makes_a_fresh_usable_current_key() -> None:
    first, second = generate_key_setting(), generate_key_setting("dev1")

    assert first.startswith("k1:") and second.startswith("dev1:")
    assert first != generate_key_setting()
    cipher = TokenCipher.from_setting(f"{second},{first}")
    assert cipher.current_key_id == "dev1"
    key_id, blob = cipher.encrypt("hello")
    assert cipher.decrypt(key_id, blob) == "hello"
    with pytest.raises(ValueError):
        generate_key_setting("no spaces")


def test_constructor_checks_keys() -> None:
    with pytest.raises(ValueError):
        TokenCipher([])
    with pytest.raises(ValueError):
        TokenCipher([("k1", os.urandom(16))])
    with pytest.raises(ValueError):
        TokenCipher([("k1", KEY), ("k1", KEY)])
