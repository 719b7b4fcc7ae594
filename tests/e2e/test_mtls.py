"""Every service serving mutual TLS, as real processes with certificates from a throwaway CA:
who gets through the handshake, what a service's own token needs, and the whole path from the
gateway through profile to auth."""

import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pyotp
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from crm.auth.v1 import auth_pb2, auth_pb2_grpc
from crm.profile.v1 import profile_pb2, profile_pb2_grpc
from scripts.stack import SERVICES, Stack, free_port
from tests.conftest import customer_data
from tests.tls import CertificateAuthority, Issued
from tests.waiting import eventually

GRPC_SERVICES = [s for s in SERVICES if s != "gateway"]


def credentials(issued: Issued, *, ca: Path | None = None) -> grpc.ChannelCredentials:
    """A client presenting `issued`, trusting `ca` (default: the CA that issued it)."""
    return grpc.ssl_channel_credentials(
        root_certificates=(ca or issued.ca).read_bytes(),
        private_key=issued.key.read_bytes(),
        certificate_chain=issued.cert.read_bytes(),
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = Path(tmp_path_factory.mktemp("mtls"))
    ca = CertificateAuthority(folder / "ca")
    stranger_ca = CertificateAuthority(folder / "stranger-ca", "someone else's CA")
    operator = ca.issue("operator")
    health_port = free_port()
    certificates = {name: ca.issue(name) for name in SERVICES}
    stack = Stack(
        data_dir=folder / "data",
        dev_identity=False,
        # Reflection off as in production (the embedded default is on).
        env={"CRM_GRPC_REFLECTION": "false"},
        service_env={name: issued.env() for name, issued in certificates.items()},
        grpc_credentials=credentials(operator),
    )
    stack.service_env["profile"]["CRM_GRPC_HEALTH_PORT"] = str(health_port)
    stack.migrate()
    stack.command("auth", "seed-demo", "--output", str(folder / "users.json"))
    admin = next(u for u in json.loads((folder / "users.json").read_text()) if u["role"] == "admin")
    with stack, httpx.Client(base_url=stack.gateway_url, timeout=10) as api:
        yield {
            "stack": stack,
            "api": api,
            "admin": admin,
            "ca": ca,
            "operator": operator,
            "certificates": certificates,
            "intruder": ca.issue("intruder"),
            "stranger": stranger_ca.issue("gateway"),
            "stranger_ca": stranger_ca.ca_file,
            "health_port": health_port,
        }


def check(address: str, channel_credentials: grpc.ChannelCredentials | None) -> Any:
    """One health check at address, over TLS with the credentials, else in plaintext."""
    channel = (
        grpc.secure_channel(address, channel_credentials)
        if channel_credentials
        else grpc.insecure_channel(address)
    )
    with channel:
        return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=3)


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_a_client_with_a_certificate_from_the_platform_ca_is_served(
    world: dict[str, Any], service: str
) -> None:
    address = getattr(world["stack"], f"{service}_address")
    assert check(address, credentials(world["operator"])).status == health_pb2.HealthCheckResponse.SERVING


def _refused(address: str, channel_credentials: grpc.ChannelCredentials | None) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        check(address, channel_credentials)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_no_certificate_another_ca_or_plaintext_is_refused(world: dict[str, Any], service: str) -> None:
    address = getattr(world["stack"], f"{service}_address")
    ca_file = world["ca"].ca_file.read_bytes()
    _refused(address, grpc.ssl_channel_credentials(root_certificates=ca_file))
    _refused(address, credentials(world["stranger"], ca=world["ca"].ca_file))
    _refused(address, None)
    # And the client side: a server whose certificate is not from the CA the client trusts.
    _refused(address, credentials(world["operator"], ca=world["stranger_ca"]))


def _first_bytes(address: str, context: ssl.SSLContext) -> bytes:
    """Open TLS as an HTTP/2 client would and send its preface; what the server sends back."""
    host, port = address.rsplit(":", 1)
    with (
        socket.create_connection((host, int(port)), timeout=3) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        return tls.recv(64)


def _client_context(ca: Path, issued: Issued | None, tls12: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    context.set_alpn_protocols(["h2"])
    if tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    if issued is not None:
        context.load_cert_chain(str(issued.cert), str(issued.key))
    return context


def test_the_refusal_happens_in_the_tls_handshake(world: dict[str, Any]) -> None:
    """The server hangs up before gRPC sees a byte: in TLS 1.2 the handshake itself fails; in
    TLS 1.3 (whose client finishes first) the server closes without its HTTP/2 settings."""
    address, ca = world["stack"].profile_address, world["ca"].ca_file
    assert _first_bytes(address, _client_context(ca, world["operator"]))  # the server's SETTINGS frame
    for refused in (None, world["stranger"]):
        assert _first_bytes(address, _client_context(ca, refused)) == b""
        with pytest.raises(ssl.SSLError):
            _first_bytes(address, _client_context(ca, refused, tls12=True))


def test_a_service_token_needs_a_platform_services_certificate(world: dict[str, Any]) -> None:
    stack = world["stack"]
    client = json.loads((stack.data_dir / "run" / "search-client.json").read_text())
    with grpc.secure_channel(stack.auth_address, credentials(world["intruder"])) as channel:
        token = (
            auth_pb2_grpc.AuthServiceStub(channel)
            .IssueClientToken(
                auth_pb2.IssueClientTokenRequest(
                    client_id=client["client_id"], client_secret=client["client_secret"], scopes=["feed:read"]
                ),
                timeout=5,
            )
            .tokens.access_token
        )
    md = [("authorization", f"Bearer {token}")]
    request = profile_pb2.ReadChangesRequest(limit=1)
    with (
        grpc.secure_channel(stack.profile_address, credentials(world["intruder"])) as channel,
        pytest.raises(grpc.RpcError) as caught,
    ):
        profile_pb2_grpc.ProfileServiceStub(channel).ReadChanges(request, metadata=md, timeout=5)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "platform service's certificate" in (caught.value.details() or "")
    # The same token over the search service's own certificate is served.
    with grpc.secure_channel(stack.profile_address, credentials(world["certificates"]["search"])) as channel:
        profile_pb2_grpc.ProfileServiceStub(channel).ReadChanges(request, metadata=md, timeout=5)


def test_the_gateway_reaches_profile_and_auth_over_mutual_tls(world: dict[str, Any]) -> None:
    api, admin = world["api"], world["admin"]
    login = api.post(
        "/api/v1/auth/login",
        json={
            "employee_id": admin["employee_id"],
            "password": admin["password"],
            "totp_code": pyotp.TOTP(admin["totp_secret"]).now(),
        },
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['tokens']['access_token']}"}
    created = api.post("/api/v1/customers", json=customer_data(name="双向认证测试有限公司"), headers=headers)
    assert created.status_code == 201, created.text
    customer_id = created.json()["id"]
    assert (
        api.get(f"/api/v1/customers/{customer_id}", headers=headers).json()["name"] == "双向认证测试有限公司"
    )
    # Search and tagging follow profile's change feed over mutual TLS too.
    found = eventually(
        lambda: api.post("/api/v1/search/customers", json={"query": "双向认证"}, headers=headers).json()[
            "total"
        ]
    )
    assert found == 1
    assert eventually(
        lambda: api.get(f"/api/v1/customers/{customer_id}/tags", headers=headers).status_code == 200
    )


def test_reflection_can_be_switched_off(world: dict[str, Any]) -> None:
    with grpc.secure_channel(world["stack"].profile_address, credentials(world["operator"])) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        with pytest.raises(grpc.RpcError) as caught:
            list(replies)
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_probes_get_plaintext_health_on_a_port_of_their_own(world: dict[str, Any]) -> None:
    """The kubelet's gRPC probes cannot present a certificate; that port answers health only."""
    address = f"127.0.0.1:{world['health_port']}"
    assert check(address, None).status == health_pb2.HealthCheckResponse.SERVING
    request = profile_pb2.ReadChangesRequest()
    with grpc.insecure_channel(address) as channel, pytest.raises(grpc.RpcError) as caught:
        profile_pb2_grpc.ProfileServiceStub(channel).ReadChanges(request, timeout=3)
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
