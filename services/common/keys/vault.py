"""Key provider backed by Vault's (or OpenBao's) transit engine, with derived keys per context."""

import base64
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import hvac
import requests
from hvac import exceptions as vault_errors

from services.common.keys.provider import DataKey, DecryptionFailed, KeySettings, KeyUnavailable, VaultAuth

log = logging.getLogger(__name__)

T = TypeVar("T")

# The version of the index key whose HMAC derives the blind-index keys; pinned so that an
# accidental rotation of that key never changes existing indexes.
_INDEX_KEY_VERSION = 1


class VaultKeyProvider:
    """Data keys generated and wrapped by transit; the key-encryption key never leaves Vault."""

    name = "vault"

    def __init__(self, settings: KeySettings, client: hvac.Client | None = None) -> None:
        self._settings = settings
        self._mount = settings.vault_transit_mount
        self._key = settings.vault_key_name
        self._index_key = settings.vault_index_key_name
        self._client = client or hvac.Client(
            url=settings.vault_addr,
            verify=str(settings.vault_cacert) if settings.vault_cacert else True,
            timeout=settings.vault_timeout_seconds,
        )
        self._token_lock = threading.Lock()
        self._expires_at: float | None = None  # monotonic; None: the token never expires
        self._lease = 0.0
        self._renewable = False
        self._logged_in = False
        self._index_keys: dict[str, bytes] = {}

    # -- the KeyProvider operations ------------------------------------------------------------

    def generate_data_key(self, context: str) -> DataKey:
        """A new 256-bit data key from transit/datakey/plaintext, bound to `context`."""
        response = self._call(
            lambda t: t.generate_data_key(
                self._key, key_type="plaintext", context=_b64(context), mount_point=self._mount
            )
        )
        data = response["data"]
        return DataKey(base64.b64decode(data["plaintext"]), data["ciphertext"].encode(), data["key_version"])

    def unwrap(self, wrapped: bytes, context: str) -> bytes:
        """The data key inside `wrapped`, decrypted by transit under `context`."""
        response = self._call(
            lambda t: t.decrypt_data(
                self._key, wrapped.decode(), context=_b64(context), mount_point=self._mount
            ),
            decrypting=f"data key of {context}",
        )
        return base64.b64decode(response["data"]["plaintext"])

    def rewrap(self, wrapped: bytes, context: str) -> bytes:
        """The same data key wrapped under the newest version, without leaving Vault."""
        response = self._call(
            lambda t: t.rewrap_data(
                self._key, wrapped.decode(), context=_b64(context), mount_point=self._mount
            ),
            decrypting=f"data key of {context}",
        )
        return str(response["data"]["ciphertext"]).encode()

    def rotate(self) -> None:
        """Add a new key version (needs the ops policy)."""
        self._call(lambda t: t.rotate_key(self._key, mount_point=self._mount))

    def latest_version(self) -> int:
        """The transit key's newest version."""
        key = self._call(lambda t: t.read_key(self._key, mount_point=self._mount))
        return int(key["data"]["latest_version"])

    def retire(self, version: int) -> None:
        """Raise min_decryption_version above `version` (needs the ops policy)."""
        latest = self.latest_version()
        if version >= latest:
            raise ValueError(f"cannot retire version {version}: the newest is {latest}")
        self._call(
            lambda t: t.update_key_configuration(
                self._key, min_decryption_version=version + 1, mount_point=self._mount
            )
        )

    def index_key(self, purpose: str) -> bytes:
        """HMAC of the purpose under the pinned version of the transit index key, cached."""
        cached = self._index_keys.get(purpose)
        if cached is not None:
            return cached
        response = self._call(
            lambda t: t.generate_hmac(
                self._index_key,
                hash_input=_b64("crm-blind-index/v1:" + purpose),
                key_version=_INDEX_KEY_VERSION,
                algorithm="sha2-256",
                mount_point=self._mount,
            )
        )
        key = base64.b64decode(response["data"]["hmac"].split(":", 2)[2])
        self._index_keys[purpose] = key
        return key

    def health(self) -> bool:
        """Whether Vault is unsealed, the token valid and the transit key readable."""
        try:
            self._call(lambda t: t.read_key(self._key, mount_point=self._mount))
        except KeyUnavailable as exc:
            log.warning("vault key provider not ready: %s", exc.message)
            return False
        return True

    # -- authentication and token lifetime: the one place ------------------------------------

    def _call(self, operation: Callable[[Any], T], *, decrypting: str | None = None) -> T:
        """Run one transit call with a fresh token, mapping Vault's failures to domain errors."""
        transit = self._client.secrets.transit
        self._ensure_token()
        try:
            try:
                return operation(transit)
            except (vault_errors.Forbidden, vault_errors.Unauthorized):
                if self._settings.vault_auth is VaultAuth.TOKEN:
                    raise
                # The token may have been revoked or expired early: log in again, once.
                with self._token_lock:
                    self._login()
                return operation(transit)
        except vault_errors.InvalidRequest as exc:
            if decrypting:
                raise DecryptionFailed(f"{decrypting}: {_reason(exc)}") from None
            raise KeyUnavailable(f"vault refused the request: {_reason(exc)}") from None
        except (vault_errors.Forbidden, vault_errors.Unauthorized) as exc:
            raise KeyUnavailable(
                f"vault denied the request (token expired or revoked, or policy): {_reason(exc)}"
            ) from None
        except vault_errors.InvalidPath as exc:
            raise KeyUnavailable(
                f"transit key not found under {self._mount}/ (run setup_transit): {_reason(exc)}"
            ) from None
        except vault_errors.VaultError as exc:
            raise KeyUnavailable(f"vault error: {_reason(exc)}") from None
        except requests.RequestException as exc:
            raise KeyUnavailable(f"vault unreachable at {self._settings.vault_addr}: {exc}") from None

    def _ensure_token(self) -> None:
        """Log in on first use; renew when the lease runs low; log in again if renewal cannot help."""
        with self._token_lock:
            if not self._logged_in:
                self._login()
                return
            if self._expires_at is None:
                return
            remaining = self._expires_at - time.monotonic()
            if remaining > min(self._settings.vault_renew_below_seconds, self._lease / 2):
                return
            if self._renewable and self._renew(remaining):
                return
            if self._settings.vault_auth is not VaultAuth.TOKEN:
                self._login()
            elif remaining <= 0:
                raise KeyUnavailable(
                    "the vault token has expired and cannot be renewed; set a new VAULT_TOKEN"
                )

    def _renew(self, remaining: float) -> bool:
        try:
            auth = self._client.auth.token.renew_self()["auth"]
        except (vault_errors.VaultError, requests.RequestException) as exc:
            log.warning("vault token renewal failed: %s", exc)
            return False
        self._track(auth["lease_duration"], auth["renewable"])
        # Capped by its max TTL, a renewal may not extend the token any more.
        extended = auth["lease_duration"] > remaining + 0.5
        log.info("vault token renewed for %ss", auth["lease_duration"])
        return extended

    def _login(self) -> None:
        settings = self._settings
        try:
            if settings.vault_auth is VaultAuth.TOKEN:
                assert settings.vault_token is not None
                self._client.token = settings.vault_token.get_secret_value()
                data = self._client.auth.token.lookup_self()["data"]
                # A ttl of 0 either never expires (no expire_time, e.g. root) or is about to.
                self._track(data["ttl"], data["renewable"], expires=data.get("expire_time") is not None)
            elif settings.vault_auth is VaultAuth.APPROLE:
                assert settings.vault_role_id is not None and settings.vault_secret_id is not None
                auth = self._client.auth.approle.login(
                    settings.vault_role_id,
                    settings.vault_secret_id.get_secret_value(),
                    mount_point=settings.vault_approle_mount,
                )["auth"]
                self._track(auth["lease_duration"], auth["renewable"])
            else:
                assert settings.vault_k8s_role is not None
                try:
                    jwt = settings.vault_k8s_jwt_file.read_text().strip()
                except OSError as exc:
                    raise KeyUnavailable(f"cannot read the service-account token: {exc}") from None
                auth = self._client.auth.kubernetes.login(
                    settings.vault_k8s_role, jwt, mount_point=settings.vault_k8s_mount
                )["auth"]
                self._track(auth["lease_duration"], auth["renewable"])
        except vault_errors.VaultError as exc:
            self._logged_in = False
            raise KeyUnavailable(f"vault login ({settings.vault_auth}) failed: {_reason(exc)}") from None
        except requests.RequestException as exc:
            self._logged_in = False
            raise KeyUnavailable(f"vault unreachable at {settings.vault_addr}: {exc}") from None
        self._logged_in = True
        log.info("logged in to vault with %s", settings.vault_auth)

    def _track(self, lease: float, renewable: bool, *, expires: bool | None = None) -> None:
        self._lease = float(lease)
        self._renewable = bool(renewable)
        expires = bool(lease) if expires is None else expires
        self._expires_at = time.monotonic() + lease if expires else None


def setup_transit(client: hvac.Client, *, mount: str = "transit", key_name: str, index_key_name: str) -> None:
    """Create the transit mount and keys if absent (an ops step, needs an admin token)."""
    if f"{mount}/" not in client.sys.list_mounted_secrets_engines()["data"]:
        client.sys.enable_secrets_engine("transit", path=mount)
    existing: set[str] = set()
    with contextlib.suppress(vault_errors.InvalidPath):  # raised while the mount has no keys
        existing = set(client.secrets.transit.list_keys(mount_point=mount)["data"]["keys"])
    if key_name not in existing:
        client.secrets.transit.create_key(key_name, key_type="aes256-gcm96", derived=True, mount_point=mount)
    if index_key_name not in existing:
        client.secrets.transit.create_key(index_key_name, key_type="aes256-gcm96", mount_point=mount)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _reason(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    return "; ".join(map(str, errors)) if errors else str(exc)
