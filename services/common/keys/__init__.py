"""Keys for personal data: a provider of key-encryption keys, envelope encryption, blind indexes.

See docs/keys.md for the model, the Vault policies and the rotation procedure.
"""

from services.common.keys.envelope import blind_index, field_aad, normalize, open_, open_text, seal
from services.common.keys.local import LocalKeyProvider
from services.common.keys.provider import (
    DataKey,
    DecryptionFailed,
    KeyProvider,
    KeyProviderKind,
    KeySettings,
    KeyUnavailable,
    VaultAuth,
    key_version_of,
)
from services.common.keys.vault import VaultKeyProvider, setup_transit


def open_provider(settings: KeySettings) -> KeyProvider:
    """The key provider the settings choose."""
    if settings.key_provider is KeyProviderKind.VAULT:
        return VaultKeyProvider(settings)
    return LocalKeyProvider(settings.key_path)


__all__ = [
    "DataKey",
    "DecryptionFailed",
    "KeyProvider",
    "KeyProviderKind",
    "KeySettings",
    "KeyUnavailable",
    "LocalKeyProvider",
    "VaultAuth",
    "VaultKeyProvider",
    "blind_index",
    "field_aad",
    "key_version_of",
    "normalize",
    "open_",
    "open_provider",
    "open_text",
    "seal",
    "setup_transit",
]
