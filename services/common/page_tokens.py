"""Page tokens the caller can neither read nor forge.

A list's next-page position holds the last row's sort value, which may be a field the caller
may not see (an amount sorted on by an administrator, say). Servicers seal the position with
AES-GCM under a key every replica of the service shares, bound to the caller and the query it
belongs to: a token read, edited, forged, or replayed by someone else or for another query is
refused as "not a token this API issued".
"""

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.common.errors import FieldViolation, InvalidArgument
from services.common.identity import Caller
from services.common.settings import Mode, ServiceSettings

_NONCE = 12
KEY_FILE = "page-tokens.key"


def _bad() -> InvalidArgument:
    return InvalidArgument(
        "invalid page token", [FieldViolation("page_token", "not a token this API issued")]
    )


class PageTokens:
    """Seals a page position into an opaque token and opens it again."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the page token secret must be at least 16 bytes")
        self._aead = AESGCM(hashlib.sha256(b"crm-page-tokens\0" + secret).digest())

    @staticmethod
    def _context(caller: Caller, query: Any) -> bytes:
        return json.dumps([caller.kind, caller.id, query], sort_keys=True, default=str).encode()

    def seal(self, position: str, *, caller: Caller, query: Any) -> str:
        """The token for `position` (a service's own cursor); "" stays "" (no next page)."""
        if not position:
            return ""
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, position.encode(), self._context(caller, query))
        return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, token: str, *, caller: Caller, query: Any) -> str:
        """The position a token holds; InvalidArgument unless we sealed it for this caller and query."""
        if not token:
            return ""
        if len(token) > 4096:
            raise _bad()
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            plain = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], self._context(caller, query))
        except (ValueError, InvalidTag):
            raise _bad() from None
        return plain.decode()


def from_settings(settings: ServiceSettings) -> PageTokens:
    """Tokens under CRM_PAGE_TOKEN_SECRET, or in embedded mode a key file kept in data_dir."""
    secret = settings.page_token_secret.get_secret_value().encode()
    if secret:
        return PageTokens(secret)
    if settings.mode == Mode.PRODUCTION:
        raise ValueError("CRM_PAGE_TOKEN_SECRET is required in production mode (the same for every replica)")
    return PageTokens(_key_file(settings.data_dir / KEY_FILE))


def _key_file(path: Path) -> bytes:
    """The embedded key, made once (whole, by a hard link: services starting together race for
    it); services sharing the data folder share it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(base64.b64encode(os.urandom(32)).decode())
        try:
            os.link(fresh, path)
        except FileExistsError:
            pass
        finally:
            fresh.unlink()
    return path.read_text().strip().encode()
