"""The auth service over real gRPC, in its own process: public login steps, admin RPCs, JWKS."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import grpc
import pyotp
import pytest
from google.protobuf import field_mask_pb2

from crm.auth.v1 import auth_pb2 as pb
from crm.auth.v1 import auth_pb2_grpc
from scripts.stack import ROOT, free_port, wait_grpc_serving
from services.common.errors import violations_of
from services.common.identity import CLIENT_ADDRESS, Caller
from services.common.tokens import TokenVerifier
from services.gateway.policy import permissions as role_permissions
from tests.auth.conftest import FAST_HASHING

ADMIN = Caller(id="A0001", roles=("admin",), scope="all", permissions=("*",)).to_metadata()
REP = Caller(
    id="S1001", roles=("sales",), scope="own", permissions=role_permissions(("sales",))
).to_metadata()


# The gateway under the development identity, passing on a partner's address.
GATEWAY = Caller(id="svc-gateway", kind="service", scope="all").to_metadata()
VOUCHED = [*GATEWAY, (CLIENT_ADDRESS, "10.2.3.4")]


class Running:
    """The auth process and the demo credentials it was seeded with."""

    def __init__(self, address: str, demo: list[dict[str, str]]) -> None:
        self.address = address
        self.demo = {entry["role"]: entry for entry in demo}


@pytest.fixture(scope="module")
def auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data_dir = tmp_path_factory.mktemp("auth")
    address = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        **FAST_HASHING,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}",
        "CRM_DATA_DIR": str(data_dir),
        "CRM_AUTH_LISTEN_ADDRESS": address,
        "CRM_DEV_IDENTITY": "true",
        "OTEL_SERVICE_NAME": "auth",
    }
    output = data_dir / "demo-users.json"
    command = [sys.executable, "-m", "services.auth"]
    subprocess.run(
        [*command, "seed-demo", "--output", str(output)], cwd=ROOT, env=env, check=True, capture_output=True
    )
    with open(data_dir / "auth.log", "ab") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_grpc_serving(address)
        yield Running(address, json.loads(output.read_text()))
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture
def stub(auth: Running) -> Iterator[auth_pb2_grpc.AuthServiceStub]:
    with grpc.insecure_channel(auth.address) as channel:
        yield auth_pb2_grpc.AuthServiceStub(channel)


def code(error: pytest.ExceptionInfo[grpc.RpcError]) -> grpc.StatusCode:
    return error.value.code()


def demo_login(stub: auth_pb2_grpc.AuthServiceStub, entry: dict[str, str], **kwargs: Any) -> pb.LoginResponse:
    return stub.Login(
        pb.LoginRequest(
            employee_id=entry["employee_id"],
            password=entry["password"],
            totp_code=pyotp.TOTP(entry["totp_secret"]).now(),
            **kwargs,
        ),
        timeout=5,
    )


def test_demo_users_log_in_and_their_tokens_verify(
    stub: auth_pb2_grpc.AuthServiceStub, auth: Running
) -> None:
    reply = demo_login(stub, auth.demo["manager"])
    assert reply.WhichOneof("result") == "tokens" and reply.tokens.token_type == "Bearer"
    verifier = TokenVerifier(lambda: stub.GetJwks(pb.GetJwksRequest(), timeout=5).jwks_json)
    caller = verifier.verify(reply.tokens.access_token)
    assert (caller.id, caller.roles, caller.scope) == ("M1001", ("manager",), "team")
    assert caller.teammates == ("S1001",) and caller.org_unit == "ou-east-sales"


def test_admin_methods_need_an_admin(stub: auth_pb2_grpc.AuthServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListUsers(pb.ListUsersRequest(), timeout=5)
    assert code(caught) == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListUsers(pb.ListUsersRequest(), metadata=REP, timeout=5)
    assert code(caught) == grpc.StatusCode.PERMISSION_DENIED
    users = stub.ListUsers(pb.ListUsersRequest(), metadata=ADMIN, timeout=5).users
    assert {u.employee_id for u in users} >= {"A0001", "M1001", "S1001", "V1001", "K1001"}
    roles = {r.name: r for r in stub.ListRoles(pb.ListRolesRequest(), metadata=ADMIN, timeout=5).roles}
    assert roles["service"].field_rules["financial"] == "hidden" and roles["admin"].permissions == ["*"]


def test_a_new_user_goes_through_the_first_login_steps(stub: auth_pb2_grpc.AuthServiceStub) -> None:
    created = stub.CreateUser(
        pb.CreateUserRequest(user=pb.User(employee_id="S3001", display_name="周杰", roles=["sales"])),
        metadata=ADMIN,
        timeout=5,
    )
    assert created.user.must_change_password and created.initial_password
    first = stub.Login(pb.LoginRequest(employee_id="S3001", password=created.initial_password), timeout=5)
    assert first.challenge.kind == "password_change_required"
    with pytest.raises(grpc.RpcError) as caught:
        stub.ChangePassword(
            pb.ChangePasswordRequest(
                setup_token=first.challenge.setup_token,
                current_password=created.initial_password,
                new_password="s3001",
            ),
            timeout=5,
        )
    assert code(caught) == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in violations_of(caught.value)} == {"new_password"}
    changed = stub.ChangePassword(
        pb.ChangePasswordRequest(
            setup_token=first.challenge.setup_token,
            current_password=created.initial_password,
            new_password="Harbour-Lantern-42",
        ),
        timeout=5,
    )
    assert changed.challenge.kind == "totp_enrollment_required"
    enrolled = stub.EnrollTotp(pb.EnrollTotpRequest(setup_token=changed.challenge.setup_token), timeout=5)
    verified = stub.VerifyTotp(
        pb.VerifyTotpRequest(
            setup_token=changed.challenge.setup_token, totp_code=pyotp.TOTP(enrolled.totp_secret).now()
        ),
        timeout=5,
    )
    assert len(verified.recovery_codes) == 10 and verified.tokens.access_token
    again = stub.Login(pb.LoginRequest(employee_id="S3001", password="Harbour-Lantern-42"), timeout=5)
    assert again.challenge.kind == "totp_required" and not again.challenge.setup_token
    with_code = stub.Login(
        pb.LoginRequest(
            employee_id="S3001", password="Harbour-Lantern-42", totp_code=verified.recovery_codes[0]
        ),
        timeout=5,
    )
    assert with_code.tokens.refresh_token


def test_failed_logins_are_counted_across_calls(stub: auth_pb2_grpc.AuthServiceStub) -> None:
    answers = set()
    for _ in range(6):
        with pytest.raises(grpc.RpcError) as caught:
            stub.Login(pb.LoginRequest(employee_id="X404", password="Wrong-Password-1"), timeout=5)
        trailing = dict(caught.value.trailing_metadata() or ())
        answers.add((code(caught), caught.value.details(), trailing.get("retry-after")))
    assert answers == {
        (grpc.StatusCode.UNAUTHENTICATED, "the employee ID or password is incorrect", None),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "too many failed attempts; try again in 60 seconds", "60"),
    }


def test_refresh_reuse_ends_the_session(stub: auth_pb2_grpc.AuthServiceStub, auth: Running) -> None:
    tokens = demo_login(stub, auth.demo["service"]).tokens
    rotated = stub.Refresh(pb.RefreshRequest(refresh_token=tokens.refresh_token), timeout=5).tokens
    with pytest.raises(grpc.RpcError) as caught:
        stub.Refresh(pb.RefreshRequest(refresh_token=tokens.refresh_token), timeout=5)
    assert code(caught) == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as caught:  # the revocation was committed
        stub.Refresh(pb.RefreshRequest(refresh_token=rotated.refresh_token), timeout=5)
    assert "session has ended" in caught.value.details()


def test_logout(stub: auth_pb2_grpc.AuthServiceStub, auth: Running) -> None:
    tokens = demo_login(stub, auth.demo["marketing"]).tokens
    stub.Logout(pb.LogoutRequest(refresh_token=tokens.refresh_token), timeout=5)
    with pytest.raises(grpc.RpcError) as caught:
        stub.Refresh(pb.RefreshRequest(refresh_token=tokens.refresh_token), timeout=5)
    assert code(caught) == grpc.StatusCode.UNAUTHENTICATED


def test_api_clients_and_key_rotation(stub: auth_pb2_grpc.AuthServiceStub) -> None:
    made = stub.CreateApiClient(
        pb.CreateApiClientRequest(
            client=pb.ApiClient(name="ERP", scopes=["customer:read"], ip_allowlist=["10.0.0.0/8"])
        ),
        metadata=ADMIN,
        timeout=5,
    )
    request = pb.IssueClientTokenRequest(
        client_id=made.client.client_id, client_secret=made.client_secret, client_ip="10.2.3.4"
    )
    # Only a platform service (the gateway) vouches for the partner's address; anyone else is
    # checked at the address the call came from.
    with pytest.raises(grpc.RpcError) as caught:
        stub.IssueClientToken(request, timeout=5)
    assert code(caught) == grpc.StatusCode.PERMISSION_DENIED
    issued = stub.IssueClientToken(request, metadata=VOUCHED, timeout=5)
    verifier = TokenVerifier(
        lambda: stub.GetJwks(pb.GetJwksRequest(), timeout=5).jwks_json, refetch_interval=0
    )
    assert verifier.verify(issued.tokens.access_token).kind == "client"
    with pytest.raises(grpc.RpcError) as caught:
        stub.IssueClientToken(
            pb.IssueClientTokenRequest(
                client_id=made.client.client_id, client_secret=made.client_secret, client_ip="8.8.8.8"
            ),
            metadata=[*GATEWAY, (CLIENT_ADDRESS, "8.8.8.8")],
            timeout=5,
        )
    assert code(caught) == grpc.StatusCode.PERMISSION_DENIED
    kid = stub.RotateSigningKey(pb.RotateSigningKeyRequest(), metadata=ADMIN, timeout=5).kid
    fresh = stub.IssueClientToken(request, metadata=VOUCHED, timeout=5).tokens.access_token
    published = [k["kid"] for k in json.loads(stub.GetJwks(pb.GetJwksRequest(), timeout=5).jwks_json)["keys"]]
    assert published[0] == kid and len(published) >= 2
    assert (
        verifier.verify(issued.tokens.access_token).id == verifier.verify(fresh).id == made.client.client_id
    )
    stub.DisableApiClient(
        pb.DisableApiClientRequest(client_id=made.client.client_id), metadata=ADMIN, timeout=5
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.IssueClientToken(request, metadata=VOUCHED, timeout=5)
    assert code(caught) == grpc.StatusCode.UNAUTHENTICATED


def test_org_units_and_custom_roles(stub: auth_pb2_grpc.AuthServiceStub) -> None:
    unit = stub.CreateOrgUnit(
        pb.CreateOrgUnitRequest(org_unit=pb.OrgUnit(name="华东销售二组", kind="team", parent_id="ou-east")),
        metadata=ADMIN,
        timeout=5,
    ).org_unit
    assert unit.id.startswith("ou-")
    units = stub.ListOrgUnits(pb.ListOrgUnitsRequest(), metadata=ADMIN, timeout=5).org_units
    assert {u.id for u in units} >= {"ou-hq", "ou-east", unit.id}
    role = stub.CreateRole(
        pb.CreateRoleRequest(
            role=pb.Role(
                name="analyst", permissions=["customer:read"], scope="org", field_rules={"contact": "masked"}
            )
        ),
        metadata=ADMIN,
        timeout=5,
    ).role
    assert not role.builtin and role.field_rules == {"contact": "masked"}
    user = stub.UpdateUser(
        pb.UpdateUserRequest(
            employee_id="K1001",
            user=pb.User(roles=["marketing", "analyst"], org_unit_id=unit.id),
            update_mask=field_mask_pb2.FieldMask(paths=["roles", "org_unit_id"]),
        ),
        metadata=ADMIN,
        timeout=5,
    ).user
    assert list(user.roles) == ["marketing", "analyst"] and user.org_unit_id == unit.id


def test_update_user_needs_a_mask(stub: auth_pb2_grpc.AuthServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.UpdateUser(
            pb.UpdateUserRequest(employee_id="K1001", user=pb.User(status="disabled")),
            metadata=ADMIN,
            timeout=5,
        )
    assert code(caught) == grpc.StatusCode.INVALID_ARGUMENT


def test_health_reports_serving(auth: Running) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(auth.address) as channel:
        status = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="crm.auth.v1.AuthService"), timeout=5
        )
    assert status.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize(
    "call",
    [
        lambda stub: stub.CreateApiClient(
            pb.CreateApiClientRequest(client=pb.ApiClient(name="E\x00RP", scopes=["customer:read"])),
            metadata=ADMIN,
            timeout=5,
        ),
        lambda stub: stub.CreateOrgUnit(
            pb.CreateOrgUnitRequest(org_unit=pb.OrgUnit(name="华东\x00二组", kind="team")),
            metadata=ADMIN,
            timeout=5,
        ),
        lambda stub: stub.CreateRole(
            pb.CreateRoleRequest(
                role=pb.Role(
                    name="nul-role", description="a\x07b", permissions=["customer:read"], scope="own"
                )
            ),
            metadata=ADMIN,
            timeout=5,
        ),
    ],
    ids=["api-client", "org-unit", "role"],
)
def test_names_with_control_characters_are_refused_and_nothing_is_made(
    stub: auth_pb2_grpc.AuthServiceStub, call: Any
) -> None:
    clients = len(stub.ListApiClients(pb.ListApiClientsRequest(), metadata=ADMIN, timeout=5).clients)
    units = len(stub.ListOrgUnits(pb.ListOrgUnitsRequest(), metadata=ADMIN, timeout=5).org_units)
    with pytest.raises(grpc.RpcError) as caught:
        call(stub)
    assert code(caught) == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.message for v in violations_of(caught.value)] == ["must not contain control characters"]
    assert len(stub.ListApiClients(pb.ListApiClientsRequest(), metadata=ADMIN, timeout=5).clients) == clients
    assert len(stub.ListOrgUnits(pb.ListOrgUnitsRequest(), metadata=ADMIN, timeout=5).org_units) == units
