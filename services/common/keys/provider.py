"""The key-provider interface, its errors and settings: what every backend promises."""

import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import grpc
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.errors import DomainError
from services.common.settings import Mode, ServiceSettings


class KeyUnavailable(DomainError):
    """The key provider cannot serve now: unreachable, sealed, denied, or misconfigured."""

    code = grpc.StatusCode.UNAVAILABLE


class DecryptionFailed(DomainError):
    """A wrapped key or a ciphertext does not open: tampered, moved to another owner, or retired."""

    code = grpc.StatusCode.DATA_LOSS


@dataclass(frozen=True)
class DataKey:
    """A fresh per-record data key: use `plaintext` in memory only, store `wrapped`."""

    plaintext: bytes = field(repr=False)
    wrapped: bytes
    version: int


class KeyProvider(Protocol):
    """Holds the key-encryption keys; wraps and unwraps per-record data keys bound to a context.

    `context` names the owner of a data key (e.g. "customer:C20240501001"): a wrapped key
    only unwraps under the context it was made for.
    """

    name: str

    def generate_data_key(self, context: str) -> DataKey:
        """A new 256-bit data key and its wrapped form under the newest key version."""
        ...

    def unwrap(self, wrapped: bytes, context: str) -> bytes:
        """The data key inside `wrapped`; DecryptionFailed if it is not `context`'s."""
        ...

    def rewrap(self, wrapped: bytes, context: str) -> bytes:
        """The same data key wrapped under the newest key version."""
        ...

    def rotate(self) -> None:
        """Add a new key version; new data keys use it, older versions still unwrap."""
        ...

    def latest_version(self) -> int:
        """The newest key version: the one new and rewrapped data keys are wrapped under."""
        ...

    def retire(self, version: int) -> None:
        """Make key versions up to and including `version` unusable (never the newest)."""
        ...

    def index_key(self, purpose: str) -> bytes:
        """The stable 256-bit blind-index key for one purpose (e.g. "phone")."""
        ...

    def health(self) -> bool:
        """Whether the provider can serve keys now."""
        ...


_VERSION = re.compile(rb"^(?:vault|local):v(\d+):")


def key_version_of(wrapped: bytes) -> int:
    """The key version a wrapped data key was made under (both providers' formats)."""
    match = _VERSION.match(wrapped)
    if match is None:
        raise DecryptionFailed("not a wrapped data key: unknown format")
    return int(match.group(1))


class KeyProviderKind(StrEnum):
    """Where the key-encryption keys live."""

    LOCAL = "local"
    VAULT = "vault"


class VaultAuth(StrEnum):
    """How a service proves itself to Vault."""

    TOKEN = "token"  # noqa: S105 - the name of a method, not a secret
    APPROLE = "approle"
    KUBERNETES = "kubernetes"


# Values copied from examples and dev servers; refused outside the embedded mode.
PLACEHOLDER_SECRETS = frozenset({"", "root", "dev", "test", "token", "secret", "changeme", "placeholder"})


def _env(name: str) -> AliasChoices:
    # Vault's own variables keep their standard names (no CRM_ prefix) so the bao/vault CLI
    # and the service read the same environment.
    return AliasChoices(name, name.lower())


class KeySettings(ServiceSettings):
    """Key-provider settings; a service's settings class inherits them."""

    # Merged with ServiceSettings' config; settings errors never echo input (it holds secrets).
    model_config = SettingsConfigDict(populate_by_name=True, hide_input_in_errors=True)

    key_provider: KeyProviderKind = KeyProviderKind.LOCAL
    # Defaults to <data_dir>/keys/keyfile.json; see `key_path`.
    key_file: Path | None = None

    vault_addr: str | None = Field(default=None, validation_alias=_env("VAULT_ADDR"))
    vault_token: SecretStr | None = Field(default=None, validation_alias=_env("VAULT_TOKEN"))
    vault_cacert: Path | None = Field(default=None, validation_alias=_env("VAULT_CACERT"))
    vault_auth: VaultAuth = VaultAuth.TOKEN
    vault_role_id: str | None = None
    vault_secret_id: SecretStr | None = None
    vault_approle_mount: str = "approle"
    vault_k8s_role: str | None = None
    vault_k8s_mount: str = "kubernetes"
    vault_k8s_jwt_file: Path = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
    vault_transit_mount: str = "transit"
    vault_key_name: str = "crm-pii"
    # A separate transit key, never rotated, whose HMAC derives the blind-index keys.
    vault_index_key_name: str = "crm-pii-index"
    vault_timeout_seconds: float = Field(default=5.0, gt=0)
    # Renew the token when less than this (or half its lease, if shorter) remains.
    vault_renew_below_seconds: float = Field(default=300.0, gt=0)

    @property
    def key_path(self) -> Path:
        """The local key file."""
        return self.key_file or self.data_dir / "keys" / "keyfile.json"

    @model_validator(mode="after")
    def _check(self) -> "KeySettings":
        if self.key_provider is KeyProviderKind.VAULT:
            self._check_vault()
        elif self.mode is not Mode.EMBEDDED:
            raise ValueError("CRM_KEY_PROVIDER=local is for the embedded mode; use vault")
        return self

    def _check_vault(self) -> None:
        if not self.vault_addr:
            raise ValueError("VAULT_ADDR is required when CRM_KEY_PROVIDER=vault")
        required: dict[str, str | SecretStr | None]
        if self.vault_auth is VaultAuth.TOKEN:
            required = {"VAULT_TOKEN": self.vault_token}
        elif self.vault_auth is VaultAuth.APPROLE:
            required = {"CRM_VAULT_ROLE_ID": self.vault_role_id, "CRM_VAULT_SECRET_ID": self.vault_secret_id}
        else:
            required = {"CRM_VAULT_K8S_ROLE": self.vault_k8s_role}
        for name, value in required.items():
            if value is None:
                raise ValueError(f"{name} is required when CRM_VAULT_AUTH={self.vault_auth}")
            if (
                isinstance(value, SecretStr)
                and self.mode is not Mode.EMBEDDED
                and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS
            ):
                raise ValueError(f"{name} holds a placeholder value; set a real secret")
