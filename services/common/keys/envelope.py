"""Field encryption under a record's data key, and keyed blind indexes for exact lookups."""

import base64
import binascii
import hashlib
import hmac
import os
import re
import unicodedata

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.common.keys.provider import DecryptionFailed

_PREFIX = "v1:"
_NONCE_BYTES = 12


def field_aad(record: str, field: str) -> str:
    """The associated data binding a ciphertext to one field of one record."""
    return f"{record}#{field}"


def seal(plaintext: bytes | str, *, key: bytes, aad: str) -> str:
    """Encrypt with AES-256-GCM under `key`, bound to `aad`: "v1:" + base64url(nonce + ciphertext)."""
    _check_key(key)
    data = plaintext.encode() if isinstance(plaintext, str) else plaintext
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, data, aad.encode())
    return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()


def open_(sealed: str, *, key: bytes, aad: str) -> bytes:
    """Decrypt what `seal` made; DecryptionFailed naming `aad` if it was altered or moved."""
    _check_key(key)
    if not sealed.startswith(_PREFIX):
        raise DecryptionFailed(f"cannot decrypt {aad}: unknown envelope format")
    try:
        raw = base64.urlsafe_b64decode(sealed[len(_PREFIX) :] + "=" * (-len(sealed) % 4))
    except (binascii.Error, ValueError):
        raise DecryptionFailed(f"cannot decrypt {aad}: malformed envelope") from None
    if len(raw) < _NONCE_BYTES + 16:
        raise DecryptionFailed(f"cannot decrypt {aad}: envelope too short")
    try:
        return AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad.encode())
    except InvalidTag:
        raise DecryptionFailed(
            f"cannot decrypt {aad}: altered, belongs to another record or field, or wrong key"
        ) from None


def open_text(sealed: str, *, key: bytes, aad: str) -> str:
    """`open_` for a field that was sealed from a str."""
    return open_(sealed, key=key, aad=aad).decode()


def normalize(value: str, purpose: str) -> str:
    """The canonical form hashed by a blind index: digits for phones, lower case for e-mails."""
    text = unicodedata.normalize("NFKC", value).strip()
    if purpose == "phone":
        return re.sub(r"\D", "", text)
    if purpose == "email":
        return text.lower()
    return " ".join(text.split()).casefold()


def blind_index(value: str, *, key: bytes, purpose: str) -> str:
    """HMAC-SHA256 of the normalized value under the purpose's index key, base64url."""
    _check_key(key)
    message = purpose.encode() + b"\x00" + normalize(value, purpose).encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _check_key(key: bytes) -> None:
    if len(key) != 32:
        raise ValueError("a 256-bit (32-byte) key is required")
