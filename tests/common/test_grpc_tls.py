"""The gRPC transport settings and the server side of mutual TLS, in one process: which modes may
run plaintext, reflection by mode, and a renewed certificate taken without a restart."""

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import ValidationError

from services.common import grpc_client, grpc_server
from services.common.errors import Unauthenticated
from services.common.settings import ServiceSettings
from tests.tls import CertificateAuthority, Issued

TLS_VARIABLES = ("CRM_GRPC_TLS_CERT", "CRM_GRPC_TLS_KEY", "CRM_GRPC_TLS_CA", "CRM_GRPC_PLAINTEXT", "CRM_MODE")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*TLS_VARIABLES, "CRM_GRPC_REFLECTION", "CRM_GRPC_HEALTH_PORT"):
        monkeypatch.delenv(name, raising=False)


def settings_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> ServiceSettings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return ServiceSettings(_env_file=None)  # type: ignore[call-arg]


def test_production_refuses_plaintext_grpc_unless_told_a_mesh_does_mutual_tls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    production = settings_with(monkeypatch, CRM_MODE="production")
    with pytest.raises(ValueError, match="CRM_GRPC_PLAINTEXT=true where a service mesh"):
        production.grpc_tls()
    with pytest.raises(ValueError, match="mutual TLS only"):
        grpc_client.channel("127.0.0.1:1", production)
    opted_out = settings_with(monkeypatch, CRM_MODE="production", CRM_GRPC_PLAINTEXT="true")
    assert opted_out.grpc_tls() is None


def test_the_embedded_mode_is_plaintext_on_loopback_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    embedded = settings_with(monkeypatch)
    assert embedded.grpc_tls() is None
    assert embedded.metrics_host() == "127.0.0.1"
    assert (
        settings_with(monkeypatch, CRM_MODE="production", CRM_GRPC_PLAINTEXT="true").metrics_host()
        == "0.0.0.0"
    )


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"CRM_GRPC_TLS_CERT": "/tls/tls.crt"}, "or none"),
        (
            {
                "CRM_GRPC_TLS_CERT": "/c",
                "CRM_GRPC_TLS_KEY": "/k",
                "CRM_GRPC_TLS_CA": "/a",
                "CRM_GRPC_PLAINTEXT": "1",
            },
            "contradicts",
        ),
    ],
)
def test_half_or_contradictory_tls_settings_fail_at_start_up(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], error: str
) -> None:
    with pytest.raises(ValidationError, match=error):
        settings_with(monkeypatch, **env)


def test_reflection_is_on_in_the_embedded_mode_and_off_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings_with(monkeypatch).reflection_enabled() is True
    assert settings_with(monkeypatch, CRM_GRPC_REFLECTION="false").reflection_enabled() is False
    production = settings_with(monkeypatch, CRM_MODE="production", CRM_GRPC_PLAINTEXT="true")
    assert production.reflection_enabled() is False
    assert settings_with(monkeypatch, CRM_GRPC_REFLECTION="true").reflection_enabled() is True


def _nobody(metadata: Any) -> Any:
    raise Unauthenticated("no callers in this test")


@pytest.fixture
def tls_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Issued, ServiceSettings]]:
    """A server with only the health service, over mutual TLS from files in tmp_path."""
    ca = CertificateAuthority(tmp_path / "ca")
    served = ca.issue("profile")
    settings = settings_with(monkeypatch, **served.env())
    server, port, readiness = grpc_server.create_server(
        service="tlstest",
        address="127.0.0.1:0",
        settings=settings,
        register=lambda _: None,
        service_names=[],
        ready_check=lambda: True,
        authenticate=_nobody,
        permissions={},
    )
    readiness.servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    server.start()
    yield f"127.0.0.1:{port}", served, settings
    server.stop(0).wait()


def _serving(address: str, credentials: grpc.ChannelCredentials) -> bool:
    with grpc.secure_channel(address, credentials) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=3)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def _client(issued: Issued) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        issued.ca.read_bytes(),
        private_key=issued.key.read_bytes(),
        certificate_chain=issued.cert.read_bytes(),
    )


def test_the_shared_channel_helper_speaks_mutual_tls(tls_server: tuple[str, Issued, ServiceSettings]) -> None:
    address, _, settings = tls_server
    with grpc_client.channel(address, settings) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=3)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_a_renewed_certificate_is_served_without_a_restart(
    tls_server: tuple[str, Issued, ServiceSettings], tmp_path: Path
) -> None:
    address, served, _ = tls_server
    assert _serving(address, _client(served))
    assert not _serving(address, _client(CertificateAuthority(tmp_path / "stranger").issue("gateway")))
    # Renewal under a new CA (the harshest case): the files change in place, as a mounted
    # Secret's do; the next handshake uses them.
    renewed_ca = CertificateAuthority(tmp_path / "renewed")
    renewed = renewed_ca.issue("profile")
    served.cert.write_bytes(renewed.cert.read_bytes())
    served.key.write_bytes(renewed.key.read_bytes())
    served.ca.write_bytes(renewed.ca.read_bytes())
    assert _serving(address, _client(renewed_ca.issue("gateway")))


def _renew(issued: Issued, renewed: Issued) -> None:
    """Replace the files of `issued` with those of `renewed`, in place, as a renewal does."""
    for old, new in ((issued.cert, renewed.cert), (issued.key, renewed.key), (issued.ca, renewed.ca)):
        old.write_bytes(new.read_bytes())


def test_a_channel_presents_the_renewed_client_certificate(
    tls_server: tuple[str, Issued, ServiceSettings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stub made before the renewal connects with the new files; the old certificate would be
    refused (the renewed server trusts only the new CA)."""
    address, served, settings = tls_server
    monkeypatch.setattr(grpc_client, "RENEWAL_CHECK_SECONDS", 0.0)
    before = _client(served)
    with grpc_client.channel(address, settings) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        _renew(served, CertificateAuthority(tmp_path / "renewed").issue("profile"))
        assert not _serving(address, before)
        reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=3)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_the_asyncio_channel_presents_the_renewed_client_certificate(
    tls_server: tuple[str, Issued, ServiceSettings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    address, served, settings = tls_server
    monkeypatch.setattr(grpc_client, "RENEWAL_CHECK_SECONDS", 0.0)

    async def check_after_renewal() -> int:
        async with grpc_client.aio_channel(address, settings) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            _renew(served, CertificateAuthority(tmp_path / "renewed").issue("profile"))
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=3)
            return int(reply.status)

    assert asyncio.run(check_after_renewal()) == health_pb2.HealthCheckResponse.SERVING


def test_every_service_channel_comes_from_the_shared_helper() -> None:
    """A channel opened by hand would skip mutual TLS: only grpc_client.py opens them."""
    services = Path(__file__).resolve().parents[2] / "services"
    by_hand = [
        str(path.relative_to(services))
        for path in services.rglob("*.py")
        if path.name != "grpc_client.py" and re.search(r"\b(insecure|secure)_channel\(", path.read_text())
    ]
    assert by_hand == []
