"""Contract of the key providers (local file and Vault/OpenBao), envelopes and blind indexes."""

import base64
import json
import os
import re
import stat
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import hvac
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from services.common.keys import (
    DecryptionFailed,
    KeySettings,
    KeyUnavailable,
    LocalKeyProvider,
    VaultKeyProvider,
    blind_index,
    field_aad,
    key_version_of,
    normalize,
    open_,
    open_provider,
    open_text,
    seal,
    setup_transit,
)
from services.profile.keyring import KeyDestroyed, Keyring, keystore_url
from tests.common.conftest import OpenBao, Target, vault_settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "keys.md"
CUSTOMER = "customer:C20240501001"
OTHER = "customer:C20240501002"


def _tamper(wrapped: bytes) -> bytes:
    """Change one character in the middle of the encoded ciphertext."""
    text = wrapped.decode()
    i = len(text) - 20
    return (text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1 :]).encode()


# -- the provider contract, for every provider ---------------------------------------------------


def test_data_key_round_trip(target: Target) -> None:
    provider = target.provider
    key = provider.generate_data_key(CUSTOMER)
    assert len(key.plaintext) == 32
    assert key_version_of(key.wrapped) == key.version == 1
    assert key.plaintext not in key.wrapped
    assert provider.unwrap(key.wrapped, CUSTOMER) == key.plaintext
    assert target.reopen().unwrap(key.wrapped, CUSTOMER) == key.plaintext
    assert provider.generate_data_key(CUSTOMER).plaintext != key.plaintext
    assert "plaintext" not in repr(key)


def test_wrapped_key_is_bound_to_its_context(target: Target) -> None:
    key = target.provider.generate_data_key(CUSTOMER)
    with pytest.raises(DecryptionFailed, match=OTHER):
        target.provider.unwrap(key.wrapped, OTHER)


def test_tampered_wrapped_key_fails_clearly(target: Target) -> None:
    key = target.provider.generate_data_key(CUSTOMER)
    with pytest.raises(DecryptionFailed, match=CUSTOMER):
        target.provider.unwrap(_tamper(key.wrapped), CUSTOMER)
    with pytest.raises(DecryptionFailed):
        target.provider.unwrap(b"not a wrapped key", CUSTOMER)


def test_customer_keyring_over_the_provider(target: Target, tmp_path: Path) -> None:
    """Customers' data keys: made once, found again by another process, rewrapped, shredded."""
    ring = Keyring(target.provider, keystore_url("", tmp_path))
    other = Keyring(target.reopen(), keystore_url("", tmp_path))
    try:
        key = ring.ensure("C20240501001")
        assert ring.ensure("C20240501001") == key == other.key("C20240501001")
        assert ring.prefetch(["C20240501001"]) == {"C20240501001": key}
        with pytest.raises(KeyDestroyed):
            ring.prefetch(["C20240501001", "C20249999999"])
        assert ring.prefetch(["C20240501001", "C20249999999"], missing_ok=True) == {"C20240501001": key}
        first = target.provider.latest_version()
        target.provider.rotate()
        second = ring.ensure("C20240501002")
        assert ring.versions() == {first: 1, first + 1: 1}
        assert sum(ring.rewrap_all(batch=1)) == 1
        assert list(ring.versions()) == [target.provider.latest_version()]
        other._cache.clear()  # noqa: SLF001 - read the rewrapped key from the store
        assert other.key("C20240501001") == key and other.key("C20240501002") == second
        assert ring.destroy("C20240501001") is True
        other._cache.clear()  # noqa: SLF001
        with pytest.raises(KeyDestroyed, match="C20240501001"):
            other.key("C20240501001")
        with pytest.raises(KeyDestroyed):
            other.ensure("C20240501001")
        assert other.key("C20240501002") == second
    finally:
        ring.dispose()
        other.dispose()


def test_rotation_rewrap_and_retirement(target: Target) -> None:
    provider = target.provider
    old = provider.generate_data_key(CUSTOMER)
    assert provider.latest_version() == old.version
    provider.rotate()
    new = provider.generate_data_key(OTHER)
    assert new.version == key_version_of(new.wrapped) == old.version + 1 == provider.latest_version()
    assert provider.unwrap(old.wrapped, CUSTOMER) == old.plaintext
    # Another instance (another process) sees the new version too.
    assert target.reopen().generate_data_key(CUSTOMER).version == new.version

    rewrapped = provider.rewrap(old.wrapped, CUSTOMER)
    assert key_version_of(rewrapped) == new.version
    assert provider.unwrap(rewrapped, CUSTOMER) == old.plaintext
    with pytest.raises(DecryptionFailed):
        provider.rewrap(old.wrapped, OTHER)

    with pytest.raises(ValueError, match="newest"):
        provider.retire(new.version)
    provider.retire(old.version)
    with pytest.raises(DecryptionFailed, match=CUSTOMER):
        provider.unwrap(old.wrapped, CUSTOMER)
    assert provider.unwrap(rewrapped, CUSTOMER) == old.plaintext
    assert target.reopen().unwrap(rewrapped, CUSTOMER) == old.plaintext
    assert provider.unwrap(new.wrapped, OTHER) == new.plaintext


def test_index_keys_are_stable_per_purpose_and_survive_rotation(target: Target) -> None:
    provider = target.provider
    phone = provider.index_key("phone")
    assert len(phone) == 32
    assert provider.index_key("email") != phone
    provider.rotate()
    assert target.reopen().index_key("phone") == phone


def test_health(target: Target) -> None:
    assert target.provider.health()


def test_envelope_with_provider_keys(target: Target) -> None:
    key = target.provider.generate_data_key(CUSTOMER)
    aad = field_aad(CUSTOMER, "phone")
    sealed = seal("13800138000", key=key.plaintext, aad=aad)
    assert re.fullmatch(r"v1:[A-Za-z0-9_-]+", sealed)
    unwrapped = target.reopen().unwrap(key.wrapped, CUSTOMER)
    assert open_text(sealed, key=unwrapped, aad=aad) == "13800138000"


# -- envelopes and blind indexes -----------------------------------------------------------------

KEY = bytes(range(32))


def test_seal_round_trip_is_randomized() -> None:
    aad = field_aad(CUSTOMER, "name")
    first, second = seal("张三丰", key=KEY, aad=aad), seal("张三丰", key=KEY, aad=aad)
    assert first != second
    assert open_text(first, key=KEY, aad=aad) == "张三丰"
    assert open_(seal(b"\x00\xff", key=KEY, aad=aad), key=KEY, aad=aad) == b"\x00\xff"
    assert open_(seal(b"", key=KEY, aad=aad), key=KEY, aad=aad) == b""


def test_tampered_ciphertext_fails_naming_the_field() -> None:
    aad = field_aad(CUSTOMER, "phone")
    sealed = seal("13800138000", key=KEY, aad=aad)
    tampered = _tamper(sealed.encode()).decode()
    with pytest.raises(DecryptionFailed, match=f"{CUSTOMER}#phone"):
        open_(tampered, key=KEY, aad=aad)
    for broken in ("v1:", "v1:***", "v2:" + sealed[3:], sealed[:-5]):
        with pytest.raises(DecryptionFailed, match="phone"):
            open_(broken, key=KEY, aad=aad)


def test_ciphertext_moved_to_another_record_or_field_fails() -> None:
    sealed = seal("13800138000", key=KEY, aad=field_aad(CUSTOMER, "phone"))
    with pytest.raises(DecryptionFailed, match=f"{OTHER}#phone"):
        open_(sealed, key=KEY, aad=field_aad(OTHER, "phone"))
    with pytest.raises(DecryptionFailed, match="mobile"):
        open_(sealed, key=KEY, aad=field_aad(CUSTOMER, "mobile"))
    with pytest.raises(DecryptionFailed):
        open_(sealed, key=bytes(32), aad=field_aad(CUSTOMER, "phone"))


def test_keys_must_be_256_bit() -> None:
    with pytest.raises(ValueError, match="256-bit"):
        seal("x", key=b"short", aad="a")


def test_blind_index_is_deterministic_per_value_and_purpose() -> None:
    index = blind_index("13800138000", key=KEY, purpose="phone")
    assert index == blind_index("13800138000", key=KEY, purpose="phone")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", index)
    assert index != blind_index("13800138001", key=KEY, purpose="phone")
    assert index != blind_index("13800138000", key=KEY, purpose="mobile")
    assert index != blind_index("13800138000", key=bytes(32), purpose="phone")


def test_blind_index_normalizes() -> None:
    phone = blind_index("13800138000", key=KEY, purpose="phone")
    for same in ("138-0013-8000", " 138 0013 8000 ", "(138)00138000", "１３８００１３８０００"):
        assert blind_index(same, key=KEY, purpose="phone") == phone
    email = blind_index("zhang.san@example.com", key=KEY, purpose="email")
    assert blind_index(" Zhang.San@Example.COM ", key=KEY, purpose="email") == email
    assert normalize("+86 138-0013-8000", "phone") == "8613800138000"
    assert normalize("  Ａbc   DEF ", "id_number") == "abc def"


# -- the local key file --------------------------------------------------------------------------


def test_key_file_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "keyfile.json"
    LocalKeyProvider(path).generate_data_key(CUSTOMER)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == ["keyfile.json", "keyfile.json.lock"]


@pytest.mark.parametrize(("what", "mode"), [("file", 0o644), ("file", 0o640), ("folder", 0o755)])
def test_key_file_with_loose_permissions_is_refused(tmp_path: Path, what: str, mode: int) -> None:
    path = tmp_path / "keys" / "keyfile.json"
    key = LocalKeyProvider(path).generate_data_key(CUSTOMER)
    (path if what == "file" else path.parent).chmod(mode)
    provider = LocalKeyProvider(path)
    with pytest.raises(KeyUnavailable, match=f"mode {'600' if what == 'file' else '700'}"):
        provider.unwrap(key.wrapped, CUSTOMER)
    assert not provider.health()


def test_existing_loose_folder_is_refused_before_creating_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    with pytest.raises(KeyUnavailable, match="key folder"):
        LocalKeyProvider(folder / "keyfile.json").generate_data_key(CUSTOMER)
    assert not (folder / "keyfile.json").exists()


def test_damaged_key_file_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "keyfile.json"
    LocalKeyProvider(path).rotate()
    path.write_text("{not json")
    with pytest.raises(KeyUnavailable, match="unreadable"):
        LocalKeyProvider(path).generate_data_key(CUSTOMER)


def test_concurrent_rotations_lose_no_version(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "keyfile.json"
    providers = [LocalKeyProvider(path) for _ in range(4)]
    providers[0].health()
    threads = [threading.Thread(target=p.rotate) for p in providers for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert LocalKeyProvider(path).generate_data_key(CUSTOMER).version == 13
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


# -- settings ------------------------------------------------------------------------------------


def test_settings_choose_the_provider(tmp_path: Path) -> None:
    local = KeySettings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    assert local.key_path == tmp_path / "keys" / "keyfile.json"
    assert isinstance(open_provider(local), LocalKeyProvider)
    vault = vault_settings("http://127.0.0.1:1", vault_token="s.token")
    assert isinstance(open_provider(vault), VaultKeyProvider)


def test_settings_read_vault_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_KEY_PROVIDER", "vault")
    monkeypatch.setenv("VAULT_ADDR", "https://vault.internal:8200")
    monkeypatch.setenv("VAULT_TOKEN", "s.from-env")
    monkeypatch.setenv("CRM_VAULT_TRANSIT_MOUNT", "pii-transit")
    settings = KeySettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.vault_addr == "https://vault.internal:8200"
    assert settings.vault_token is not None and settings.vault_token.get_secret_value() == "s.from-env"
    assert settings.vault_transit_mount == "pii-transit"
    assert "s.from-env" not in repr(settings)


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"key_provider": "local"}, "embedded mode"),
        ({"key_provider": "vault", "vault_token": "s.real"}, "VAULT_ADDR is required"),
        ({"key_provider": "vault", "vault_addr": "https://v", "vault_token": "root"}, "placeholder"),
        ({"key_provider": "vault", "vault_addr": "https://v", "vault_token": "changeme"}, "placeholder"),
        ({"key_provider": "vault", "vault_addr": "https://v"}, "VAULT_TOKEN is required"),
        (
            {
                "key_provider": "vault",
                "vault_addr": "https://v",
                "vault_auth": "approle",
                "vault_role_id": "r",
            },
            "CRM_VAULT_SECRET_ID is required",
        ),
        (
            {
                "key_provider": "vault",
                "vault_addr": "https://v",
                "vault_auth": "approle",
                "vault_role_id": "r",
                "vault_secret_id": "secret",
            },
            "placeholder",
        ),
        ({"key_provider": "vault", "vault_addr": "https://v", "vault_auth": "kubernetes"}, "K8S_ROLE"),
    ],
)
def test_production_settings_refuse_local_and_placeholders(
    values: dict[str, str], error: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "VAULT_ADDR",
        "VAULT_TOKEN",
        "CRM_VAULT_ROLE_ID",
        "CRM_VAULT_SECRET_ID",
        "CRM_VAULT_K8S_ROLE",
    ):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValidationError, match=error) as caught:
        KeySettings(_env_file=None, mode="production", **values)  # type: ignore[arg-type]
    assert "changeme" not in str(caught.value) and "s.real" not in str(caught.value)


def test_embedded_mode_accepts_a_dev_token() -> None:
    assert vault_settings("http://127.0.0.1:8200", vault_token="root").vault_token is not None


# -- Vault specifics: unreachable, token lifetime, least-privilege policies ----------------------


def test_unreachable_vault_is_unavailable() -> None:
    provider = VaultKeyProvider(
        vault_settings("http://127.0.0.1:9", vault_token="s.x", vault_timeout_seconds=1)
    )
    with pytest.raises(KeyUnavailable, match="127.0.0.1:9"):
        provider.generate_data_key(CUSTOMER)
    assert not provider.health()


@pytest.fixture
def transit_key(openbao: OpenBao) -> str:
    """A fresh transit key (and its index key) on the OpenBao dev server."""
    name = f"crm-test-{os.urandom(5).hex()}"
    setup_transit(openbao.client(), key_name=name, index_key_name=f"{name}-index")
    return name


def test_short_lived_token_is_renewed_before_expiry(openbao: OpenBao, transit_key: str) -> None:
    child = openbao.client().auth.token.create(ttl="2s", renewable=True)["auth"]["client_token"]
    provider = VaultKeyProvider(
        vault_settings(openbao.addr, vault_token=child, vault_key_name=transit_key, vault_index_key_name="x")
    )
    key = provider.generate_data_key(CUSTOMER)
    started = time.monotonic()
    while time.monotonic() - started < 3.5:  # past the token's first 2 s
        time.sleep(0.3)
        assert provider.unwrap(key.wrapped, CUSTOMER) == key.plaintext
    # Used 3.5 s into a 2 s token: it was renewed, and the server recorded it.
    assert openbao.client().auth.token.lookup(child)["data"].get("last_renewal_time")


def test_expired_token_without_renewal_is_unavailable(openbao: OpenBao, transit_key: str) -> None:
    child = openbao.client().auth.token.create(ttl="1s", renewable=False)["auth"]["client_token"]
    provider = VaultKeyProvider(
        vault_settings(openbao.addr, vault_token=child, vault_key_name=transit_key, vault_index_key_name="x")
    )
    provider.generate_data_key(CUSTOMER)
    time.sleep(1.5)
    with pytest.raises(KeyUnavailable, match="VAULT_TOKEN"):
        provider.generate_data_key(CUSTOMER)


def _policy(name: str) -> str:
    """The HCL block that docs/keys.md gives for a policy."""
    match = re.search(rf"<!-- policy:{name} -->\s*```hcl\n(.*?)```", DOCS.read_text(), re.S)
    assert match, f"docs/keys.md has no policy {name}"
    return match.group(1)


@pytest.fixture(scope="module")
def approle(openbao: OpenBao) -> hvac.Client:
    """OpenBao with the documented policies and the default keys, and AppRole auth enabled."""
    admin = openbao.client()
    setup_transit(admin, key_name="crm-pii", index_key_name="crm-pii-index")
    admin.sys.create_or_update_policy("crm-service", _policy("crm-service"))
    admin.sys.create_or_update_policy("crm-keys-ops", _policy("crm-keys-ops"))
    admin.sys.enable_auth_method("approle")
    return admin


def _approle_settings(openbao: OpenBao, admin: hvac.Client, role: str, **token: object) -> KeySettings:
    admin.auth.approle.create_or_update_approle(role, **token)
    role_id = admin.auth.approle.read_role_id(role)["data"]["role_id"]
    secret_id = admin.auth.approle.generate_secret_id(role)["data"]["secret_id"]
    return vault_settings(
        openbao.addr, vault_auth="approle", vault_role_id=role_id, vault_secret_id=secret_id
    )


def test_approle_with_the_documented_service_policy(openbao: OpenBao, approle: hvac.Client) -> None:
    provider = VaultKeyProvider(
        _approle_settings(openbao, approle, "profile", token_policies=["crm-service"])
    )
    assert provider.health()
    key = provider.generate_data_key(CUSTOMER)
    assert provider.unwrap(key.wrapped, CUSTOMER) == key.plaintext
    assert key_version_of(provider.rewrap(key.wrapped, CUSTOMER)) >= 1
    assert len(provider.index_key("phone")) == 32
    # Least privilege: a service can neither rotate nor retire, nor read another key.
    with pytest.raises(KeyUnavailable, match="denied"):
        provider.rotate()
    with pytest.raises(KeyUnavailable, match="denied"):
        provider.retire(0)
    other = VaultKeyProvider(
        _approle_settings(openbao, approle, "profile", token_policies=["crm-service"]).model_copy(
            update={"vault_key_name": "crm-pii-index"}
        )
    )
    with pytest.raises(KeyUnavailable, match="denied"):
        other.generate_data_key(CUSTOMER)


def test_ops_policy_rotates_and_retires(openbao: OpenBao, approle: hvac.Client) -> None:
    service = VaultKeyProvider(_approle_settings(openbao, approle, "profile", token_policies=["crm-service"]))
    ops = VaultKeyProvider(_approle_settings(openbao, approle, "keys-ops", token_policies=["crm-keys-ops"]))
    old = service.generate_data_key(CUSTOMER)
    ops.rotate()
    rewrapped = service.rewrap(old.wrapped, CUSTOMER)
    ops.retire(old.version)
    with pytest.raises(DecryptionFailed):
        service.unwrap(old.wrapped, CUSTOMER)
    assert service.unwrap(rewrapped, CUSTOMER) == old.plaintext
    with pytest.raises(KeyUnavailable, match="denied"):
        ops.generate_data_key(CUSTOMER)


def test_approle_logs_in_again_when_the_token_cannot_be_renewed(
    openbao: OpenBao, approle: hvac.Client
) -> None:
    settings = _approle_settings(
        openbao, approle, "short", token_policies=["crm-service"], token_ttl="2s", token_max_ttl="2s"
    )
    provider = VaultKeyProvider(settings)
    key = provider.generate_data_key(CUSTOMER)
    first_token = provider._client.token
    started = time.monotonic()
    while time.monotonic() - started < 3.5:
        time.sleep(0.3)
        assert provider.unwrap(key.wrapped, CUSTOMER) == key.plaintext
    assert provider._client.token != first_token


def test_revoked_approle_token_is_replaced(openbao: OpenBao, approle: hvac.Client) -> None:
    provider = VaultKeyProvider(
        _approle_settings(openbao, approle, "profile", token_policies=["crm-service"])
    )
    key = provider.generate_data_key(CUSTOMER)
    openbao.client().auth.token.revoke(provider._client.token)
    assert provider.unwrap(key.wrapped, CUSTOMER) == key.plaintext


class _TokenReview(BaseHTTPRequestHandler):
    """A stand-in for the Kubernetes API's TokenReview: accepts the service account 'crm/profile'."""

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers["Content-Length"]))
        body = (
            b'{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","status":{"authenticated":true,'
            b'"user":{"username":"system:serviceaccount:crm:profile","uid":"uid-1"}}}'
        )
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _self_signed_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_kubernetes_auth(openbao: OpenBao, approle: hvac.Client, tmp_path: Path) -> None:
    api = HTTPServer(("127.0.0.1", 0), _TokenReview)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    try:
        approle.sys.enable_auth_method("kubernetes")
        approle.auth.kubernetes.configure(
            f"http://127.0.0.1:{api.server_port}",
            kubernetes_ca_cert=_self_signed_pem(),  # required by the API; unused over plain HTTP
            token_reviewer_jwt="reviewer",
            disable_local_ca_jwt=True,
        )
        approle.auth.kubernetes.create_role(
            "profile",
            bound_service_account_names=["profile"],
            bound_service_account_namespaces=["crm"],
            policies=["crm-service"],
            ttl="1h",
        )
        claims = {
            "iss": "kubernetes/serviceaccount",
            "sub": "system:serviceaccount:crm:profile",
            "kubernetes.io/serviceaccount/namespace": "crm",
            "kubernetes.io/serviceaccount/service-account.name": "profile",
            "kubernetes.io/serviceaccount/service-account.uid": "uid-1",
        }
        jwt = ".".join(
            base64.urlsafe_b64encode(part.encode()).rstrip(b"=").decode()
            for part in ('{"alg":"RS256","typ":"JWT"}', json.dumps(claims), "signature")
        )
        jwt_file = tmp_path / "token"
        jwt_file.write_text(jwt)
        provider = VaultKeyProvider(
            vault_settings(
                openbao.addr, vault_auth="kubernetes", vault_k8s_role="profile", vault_k8s_jwt_file=jwt_file
            )
        )
        key = provider.generate_data_key(CUSTOMER)
        assert provider.unwrap(key.wrapped, CUSTOMER) == key.plaintext
        missing = VaultKeyProvider(
            vault_settings(
                openbao.addr,
                vault_auth="kubernetes",
                vault_k8s_role="profile",
                vault_k8s_jwt_file=tmp_path / "none",
            )
        )
        with pytest.raises(KeyUnavailable, match="service-account token"):
            missing.generate_data_key(CUSTOMER)
        assert not missing.health()
    finally:
        api.shutdown()
