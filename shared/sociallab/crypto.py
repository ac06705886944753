"""Our cryptography: HMAC signatures, expiring signed tokens, and token encryption at rest.

Signatures (HMAC-SHA256, base64url without padding, compared in constant time)::

    signature = sign(b"payload", key=key)
    verify(b"payload", signature, key=key)          # -> bool

Expiring signed tokens (OAuth `state`, local storage's signed URLs). The `purpose` is part of
the MAC, so a token minted for one use is refused for another even under the same key::

    token = make_signed_token({"p": "a.jpg"}, key=key, purpose="storage.sign", ttl_seconds=3600)
    read_signed_token(token, key=key, purpose="storage.sign")   # -> {"p": "a.jpg"}

Encryption at rest (AES-256-GCM; the key id is stored beside the ciphertext so keys can rotate)::

    cipher = TokenCipher.from_setting(settings.secret("token_encryption_key"))
    key_id, blob = cipher.encrypt(access_token, associated_data=account_id.encode())
    cipher.decrypt(key_id, blob, associated_data=account_id.encode())

`TOKEN_ENCRYPTION_KEY` is `kid:base64key[,kid:base64key...]`: 32-byte keys in standard or
urlsafe base64; the first entry encrypts, every entry decrypts.

Errors::

    AuthenticationError (401)
     ├── InvalidSignatureError    malformed, forged, or minted for another purpose
     └── ExpiredTokenError        well signed but past its expiry
    AppError (500)
     └── DecryptionError          unknown key id, tampered blob, or wrong associated data
    ConfigurationError (500)      malformed TOKEN_ENCRYPTION_KEY (never echoes the key)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import os
import re
import time
from typing import TYPE_CHECKING, Any

from sociallab.errors import AppError, AuthenticationError, ConfigurationError

if TYPE_CHECKING:  # cryptography is loaded by the first TokenCipher (cold start: issue 7)
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
KEY_BYTES = 32
_TAG_BYTES = 16
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class InvalidSignatureError(AuthenticationError):
    """The signed token is malformed or its signature does not match."""


class ExpiredTokenError(AuthenticationError):
    """The signed token has expired."""


class DecryptionError(AppError):
    """A stored secret could not be decrypted."""


# --- signatures ---------------------------------------------------------------------------------


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    """Decode standard or urlsafe base64, padded or not.

    Raises:
        ValueError: not base64.
    """
    normalized = text.strip().replace("-", "+").replace("_", "/").rstrip("=")
    try:
        return base64.b64decode(normalized + "=" * (-len(normalized) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64") from exc


def sign(payload: bytes | str, *, key: bytes) -> str:
    """The base64url (unpadded) HMAC-SHA256 of `payload` under `key`.

    Raises:
        ValueError: `key` is empty.
    """
    if not key:
        raise ValueError("the signing key must not be empty")
    return _b64encode(hmac.new(key, _as_bytes(payload), hashlib.sha256).digest())


def verify(payload: bytes | str, signature: str, *, key: bytes) -> bool:
    """Whether `signature` is `sign(payload, key=key)`, compared in constant time.

    Never raises for a malformed signature (that is simply `False`).

    Raises:
        ValueError: `key` is empty.
    """
    expected = sign(payload, key=key)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "surrogatepass"))


# --- expiring signed tokens ---------------------------------------------------------------------


def _token_mac_input(purpose: str, body: str) -> bytes:
    return purpose.encode("utf-8") + b"\x00" + body.encode("ascii")


def _check_purpose(purpose: str) -> None:
    if not purpose or "\x00" in purpose:
        raise ValueError("purpose must be a non-empty string without NUL")


def make_signed_token(
    data: dict[str, Any],
    *,
    key: bytes,
    purpose: str,
    ttl_seconds: int,
    now: float | None = None,
) -> str:
    """A URL-safe token carrying `data` (JSON-serialisable), valid for `ttl_seconds` from `now`.

    The token is `base64url(json).base64url(hmac)`; `data` is signed, not encrypted, so never put a
    secret in it. `now` is Unix time in seconds (default: the current time).

    Raises:
        ValueError: empty key or purpose, or `ttl_seconds` < 1.
        TypeError: `data` is not JSON-serialisable.
    """
    _check_purpose(purpose)
    if ttl_seconds < 1:
        raise ValueError("ttl_seconds must be at least 1")
    issued = time.time() if now is None else now
    claims = {"d": data, "exp": math.ceil(issued + ttl_seconds)}
    body = _b64encode(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return f"{body}.{sign(_token_mac_input(purpose, body), key=key)}"


def read_signed_token(token: str, *, key: bytes, purpose: str, now: float | None = None) -> dict[str, Any]:
    """The `data` of a token made by `make_signed_token` with the same key and purpose.

    The signature is checked before anything in the token is parsed.

    Raises:
        InvalidSignatureError: malformed token, wrong signature, key or purpose.
        ExpiredTokenError: the token was valid but `now` is at or past its expiry.
        ValueError: empty key or purpose.
    """
    _check_purpose(purpose)
    body, dot, signature = token.partition(".")
    if not dot or not body or not signature or not body.isascii():
        raise InvalidSignatureError()
    if not verify(_token_mac_input(purpose, body), signature, key=key):
        raise InvalidSignatureError()
    try:
        claims = json.loads(_b64decode(body))
    except (ValueError, UnicodeDecodeError):
        raise InvalidSignatureError() from None
    if not isinstance(claims, dict) or not isinstance(claims.get("d"), dict):
        raise InvalidSignatureError()
    expires = claims.get("exp")
    if not isinstance(expires, int) or isinstance(expires, bool):
        raise InvalidSignatureError()
    if (time.time() if now is None else now) >= expires:
        raise ExpiredTokenError()
    data: dict[str, Any] = claims["d"]
    return data


# --- encryption at rest -------------------------------------------------------------------------


class TokenCipher:
    """AES-256-GCM with named keys: the first key encrypts, every key decrypts.

    A blob is `nonce (12 random bytes) + ciphertext + tag`; store it with the key id returned by
    `encrypt`. Associated data (e.g. the account id) is authenticated, not stored: decrypting with
    different associated data fails, so a ciphertext cannot be moved to another row.
    """

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        """Build from `(key_id, 32-byte key)` pairs, current key first.

        Raises:
            ValueError: no keys, a bad key id, a duplicate key id, or a key that is not 32 bytes.
        """
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not keys:
            raise ValueError("at least one key is required")
        self._keys: dict[str, AESGCM] = {}
        for key_id, key in keys:
            if not _KEY_ID.match(key_id):
                raise ValueError("key ids are 1-64 characters of A-Z a-z 0-9 _ . -")
            if key_id in self._keys:
                raise ValueError(f"duplicate key id {key_id!r}")
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {key_id!r} must be {KEY_BYTES} bytes")
            self._keys[key_id] = AESGCM(key)
        self.current_key_id = keys[0][0]

    @classmethod
    def from_setting(cls, value: str) -> TokenCipher:
        """Parse `TOKEN_ENCRYPTION_KEY` (`kid:base64key[,kid:base64key...]`).

        Raises:
            ConfigurationError: empty or malformed value; names TOKEN_ENCRYPTION_KEY and the entry,
                never the key material.
        """
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        if not entries:
            raise ConfigurationError("TOKEN_ENCRYPTION_KEY is empty; expected 'kid:base64key[,...]'.")
        keys: list[tuple[str, bytes]] = []
        for number, entry in enumerate(entries, start=1):
            key_id, colon, encoded = (part.strip() for part in entry.partition(":"))
            if not colon or not _KEY_ID.match(key_id):
                raise ConfigurationError(
                    f"TOKEN_ENCRYPTION_KEY entry {number} is malformed: expected 'kid:base64key' with a "
                    "key id of 1-64 characters A-Z a-z 0-9 _ . -"
                )
            try:
                key = _b64decode(encoded)
            except ValueError:
                raise ConfigurationError(f"TOKEN_ENCRYPTION_KEY key {key_id!r} is not valid base64.") from None
            if len(key) != KEY_BYTES:
                raise ConfigurationError(
                    f"TOKEN_ENCRYPTION_KEY key {key_id!r} must decode to {KEY_BYTES} bytes, not {len(key)}."
                )
            if any(key_id == known for known, _ in keys):
                raise ConfigurationError(f"TOKEN_ENCRYPTION_KEY lists key id {key_id!r} twice.")
            keys.append((key_id, key))
        return cls(keys)

    @property
    def key_ids(self) -> list[str]:
        """Every key id this cipher can decrypt, current first."""
        return list(self._keys)

    def needs_reencryption(self, key_id: str) -> bool:
        """Whether a blob under `key_id` should be re-encrypted with the current key."""
        return key_id != self.current_key_id

    def encrypt(self, plaintext: str, *, associated_data: bytes = b"") -> tuple[str, bytes]:
        """Encrypt with the current key; returns `(key_id, nonce + ciphertext)`.

        Never raises for valid input.
        """
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self.current_key_id].encrypt(nonce, plaintext.encode("utf-8"), associated_data)
        return self.current_key_id, nonce + sealed

    def decrypt(self, key_id: str, blob: bytes, *, associated_data: bytes = b"") -> str:
        """The plaintext of a blob made by `encrypt` under `key_id` with the same associated data.

        Raises:
            DecryptionError: the key id is not configured (any more), or the blob is truncated,
                tampered with, or bound to other associated data.
        """
        from cryptography.exceptions import InvalidTag

        aead = self._keys.get(key_id)
        if aead is None:
            raise DecryptionError(
                f"Unknown encryption key id {key_id!r}; it must stay listed in TOKEN_ENCRYPTION_KEY "
                "until every secret encrypted with it has been re-encrypted."
            )
        raw = bytes(blob)
        if len(raw) < NONCE_BYTES + _TAG_BYTES:
            raise DecryptionError("The encrypted secret is truncated.")
        try:
            plaintext = aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated_data)
            return plaintext.decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            raise DecryptionError(
                "The encrypted secret failed authentication (tampered, or bound to another row)."
            ) from None


def generate_key_setting(kid: str = "k1") -> str:
    """A fresh `TOKEN_ENCRYPTION_KEY` value with one random 256-bit key (for the dev server).

    Raises:
        ValueError: `kid` is not 1-64 characters of A-Z a-z 0-9 _ . -.
    """
    if not _KEY_ID.match(kid):
        raise ValueError("key ids are 1-64 characters of A-Z a-z 0-9 _ . -")
    return f"{kid}:{base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode('ascii')}"
