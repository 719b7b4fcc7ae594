"""Authentication hardening through a real auth process: every login step audited, no password
oracle, revocation published within seconds, bounded hashing, who may record and acknowledge."""

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pyotp
import pytest
from google.protobuf import field_mask_pb2

from crm.auth.v1 import auth_pb2 as pb
from crm.auth.v1 import auth_pb2_grpc
from scripts.stack import ROOT, free_port, wait_grpc_serving
from services.common import authn
from services.common.errors import Unauthenticated, violations_of
from services.common.identity import Caller
from services.common.tokens import TokenVerifier
from tests.auth.conftest import FAST_HASHING
from tests.conftest import PG_HOST, PG_PORT, PG_USER, _create_pg_database, _drop_pg_database

ADMIN = Caller(id="A0001", roles=("admin",), scope="all", permissions=("*",)).to_metadata()
AUDITOR = Caller(id="Q1001", roles=("auditor",), permissions=("audit:read",)).to_metadata()
PASSWORD = "Harbour-Lantern-42"


def start_auth(data_dir: Path, **extra: str) -> tuple[subprocess.Popen[bytes], str]:
    address = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        **FAST_HASHING,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}",
        "CRM_DATA_DIR": str(data_dir),
        "CRM_AUTH_LISTEN_ADDRESS": address,
        "CRM_DEV_IDENTITY": "true",
        "OTEL_SERVICE_NAME": "auth",
        **extra,
    }
    with open(data_dir / "auth.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.auth"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_grpc_serving(address)
    except TimeoutError:
        proc.kill()
        raise
    return proc, address


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[auth_pb2_grpc.AuthServiceStub]:
    proc, address = start_auth(tmp_path_factory.mktemp("auth-security"))
    try:
        with grpc.insecure_channel(address) as channel:
            yield auth_pb2_grpc.AuthServiceStub(channel)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@dataclass
class User:
    employee_id: str
    totp_secret: str
    recovery_codes: list[str]
    tokens: pb.Tokens


def new_user(
    stub: auth_pb2_grpc.AuthServiceStub, employee_id: str, roles: tuple[str, ...] = ("sales",)
) -> User:
    """A user taken through the first-login steps; a session from its TOTP verification."""
    made = stub.CreateUser(
        pb.CreateUserRequest(user=pb.User(employee_id=employee_id, display_name="测试", roles=list(roles))),
        metadata=ADMIN,
        timeout=5,
    )
    first = stub.Login(pb.LoginRequest(employee_id=employee_id, password=made.initial_password), timeout=5)
    changed = stub.ChangePassword(
        pb.ChangePasswordRequest(
            setup_token=first.challenge.setup_token,
            current_password=made.initial_password,
            new_password=PASSWORD,
        ),
        timeout=5,
    )
    secret = changed.challenge.totp_secret
    verified = stub.VerifyTotp(
        pb.VerifyTotpRequest(setup_token=changed.challenge.setup_token, totp_code=pyotp.TOTP(secret).now()),
        timeout=5,
    )
    return User(employee_id, secret, list(verified.recovery_codes), verified.tokens)


def log_in(stub: auth_pb2_grpc.AuthServiceStub, user: User) -> pb.Tokens:
    """A new session, with one of the user's recovery codes (each works once, at any time)."""
    return stub.Login(
        pb.LoginRequest(employee_id=user.employee_id, password=PASSWORD, totp_code=user.recovery_codes.pop()),
        timeout=5,
    ).tokens


def events(stub: auth_pb2_grpc.AuthServiceStub, **filters: str) -> list[pb.AuditEvent]:
    reply = stub.ListAuditEvents(
        pb.ListAuditEventsRequest(
            page=pb.crm_dot_common_dot_v1_dot_common__pb2.PageRequest(page_size=500), **filters
        ),
        metadata=AUDITOR,
        timeout=5,
    )
    return list(reply.events)


def outcomes(stub: auth_pb2_grpc.AuthServiceStub, actor: str) -> list[tuple[str, str]]:
    """(action, outcome) of the actor's events, oldest first."""
    return [(e.action, e.outcome) for e in reversed(events(stub, actor=actor))]


def refused(call: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()  # type: ignore[operator]
    return caught.value


def verifier(stub: auth_pb2_grpc.AuthServiceStub) -> TokenVerifier:
    return TokenVerifier(
        lambda: stub.GetJwks(pb.GetJwksRequest(), timeout=5).jwks_json,
        fetch_revocations=lambda: authn.revocations_of(
            stub.ListRevocations(pb.ListRevocationsRequest(), timeout=5)
        ),
        revocation_interval=0.2,
    )


def test_every_login_step_is_audited(stub: auth_pb2_grpc.AuthServiceStub) -> None:
    user = new_user(stub, "S5001")
    assert outcomes(stub, "S5001") == [
        ("auth.login", "success"),
        ("auth.password_change", "success"),
        ("auth.totp_verify", "success"),
    ]
    renewed = stub.Refresh(pb.RefreshRequest(refresh_token=user.tokens.refresh_token), timeout=5).tokens
    stub.Logout(pb.LogoutRequest(refresh_token=renewed.refresh_token), timeout=5)
    refused(lambda: stub.Refresh(pb.RefreshRequest(refresh_token="never-issued"), timeout=5))
    assert outcomes(stub, "S5001")[3:] == [("auth.refresh", "success"), ("auth.logout", "success")]
    anonymous = events(stub, action="auth.refresh", outcome="denied")[0]
    assert (anonymous.actor, anonymous.actor_kind, anonymous.source) == ("-", "anonymous", "127.0.0.1")


def test_refresh_token_reuse_is_audited_and_alerts(stub: auth_pb2_grpc.AuthServiceStub) -> None:
    user = new_user(stub, "S5002")
    stub.Refresh(pb.RefreshRequest(refresh_token=user.tokens.refresh_token), timeout=5)
    error = refused(
        lambda: stub.Refresh(pb.RefreshRequest(refresh_token=user.tokens.refresh_token), timeout=5)
    )
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert outcomes(stub, "S5002")[-1] == ("auth.refresh_reuse", "denied")
    alerts = stub.ListSecurityAlerts(pb.ListSecurityAlertsRequest(status="open"), metadata=AUDITOR, timeout=5)
    theft = [a for a in alerts.alerts if a.kind == "refresh_token_reuse" and a.actor == "S5002"]
    assert len(theft) == 1 and "127.0.0.1" in theft[0].summary


def test_a_password_change_tells_nothing_without_the_second_factor(
    stub: auth_pb2_grpc.AuthServiceStub,
) -> None:
    user = new_user(stub, "S5003")

    def change(current: str, code: str) -> grpc.RpcError:
        return refused(
            lambda: stub.ChangePassword(
                pb.ChangePasswordRequest(
                    employee_id="S5003",
                    current_password=current,
                    new_password="Brand-New-Lantern-9",
                    totp_code=code,
                ),
                timeout=5,
            )
        )

    # Right or wrong current password: the same answer without a code, and with a wrong one.
    for code in ("", "000000"):
        right, wrong = change(PASSWORD, code), change("Wrong-Password-1", code)
        assert (right.code(), right.details()) == (wrong.code(), wrong.details())
    assert [v.field for v in violations_of(change(PASSWORD, ""))] == ["totp_code"]
    assert change(PASSWORD, "000000").code() == grpc.StatusCode.UNAUTHENTICATED
    stub.ChangePassword(
        pb.ChangePasswordRequest(
            employee_id="S5003",
            current_password=PASSWORD,
            new_password="Brand-New-Lantern-9",
            totp_code=user.recovery_codes.pop(),
        ),
        timeout=5,
    )
    changes = [o for a, o in outcomes(stub, "S5003") if a == "auth.password_change"]
    assert changes[-1] == "success" and changes.count("denied") >= 2 and "failed" in changes


def test_totp_enrolment_steps_and_replayed_codes_are_audited(stub: auth_pb2_grpc.AuthServiceStub) -> None:
    made = stub.CreateUser(
        pb.CreateUserRequest(user=pb.User(employee_id="S5004", display_name="测试", roles=["sales"])),
        metadata=ADMIN,
        timeout=5,
    )
    first = stub.Login(pb.LoginRequest(employee_id="S5004", password=made.initial_password), timeout=5)
    changed = stub.ChangePassword(
        pb.ChangePasswordRequest(
            setup_token=first.challenge.setup_token,
            current_password=made.initial_password,
            new_password=PASSWORD,
        ),
        timeout=5,
    )
    setup = changed.challenge.setup_token
    secret = stub.EnrollTotp(pb.EnrollTotpRequest(setup_token=setup), timeout=5).totp_secret
    wrong = refused(
        lambda: stub.VerifyTotp(pb.VerifyTotpRequest(setup_token=setup, totp_code="000000"), timeout=5)
    )
    assert wrong.code() == grpc.StatusCode.INVALID_ARGUMENT
    code = pyotp.TOTP(secret).now()
    stub.VerifyTotp(pb.VerifyTotpRequest(setup_token=setup, totp_code=code), timeout=5)
    replayed = refused(
        lambda: stub.Login(pb.LoginRequest(employee_id="S5004", password=PASSWORD, totp_code=code), timeout=5)
    )
    assert replayed.code() == grpc.StatusCode.UNAUTHENTICATED and "already used" in replayed.details()
    assert outcomes(stub, "S5004")[2:] == [
        ("auth.totp_enroll", "success"),
        ("auth.totp_verify", "failed"),
        ("auth.totp_verify", "success"),
        ("auth.login", "denied"),
    ]


def test_malformed_credentials_are_refused_and_audited(stub: auth_pb2_grpc.AuthServiceStub) -> None:
    long_id = "S" * 5000
    for request in (
        pb.LoginRequest(employee_id=long_id, password="x"),
        pb.LoginRequest(employee_id="S5005", password="p" * 100_000),
        pb.LoginRequest(employee_id="S5005", password="x", totp_code="1" * 1000),
    ):
        error = refused(lambda request=request: stub.Login(request, timeout=5))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    failed = [e for e in events(stub, action="auth.login", outcome="failed")]
    assert {e.actor for e in failed} >= {"S" * 64, "S5005"} and all(len(e.details_json) < 400 for e in failed)
    partner = refused(
        lambda: stub.IssueClientToken(
            pb.IssueClientTokenRequest(client_id="c" * 65, client_secret="s"), timeout=5
        )
    )
    assert partner.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert events(stub, action="auth.client_token", outcome="failed")


def test_partner_token_issuance_is_audited(stub: auth_pb2_grpc.AuthServiceStub) -> None:
    made = stub.CreateApiClient(
        pb.CreateApiClientRequest(client=pb.ApiClient(name="ERP", scopes=["customer:read"])),
        metadata=ADMIN,
        timeout=5,
    )
    client_id = made.client.client_id
    stub.IssueClientToken(
        pb.IssueClientTokenRequest(client_id=client_id, client_secret=made.client_secret), timeout=5
    )
    refused(
        lambda: stub.IssueClientToken(
            pb.IssueClientTokenRequest(client_id=client_id, client_secret="x"), timeout=5
        )
    )
    issued = events(stub, actor=client_id, action="auth.client_token")
    assert [(e.outcome, e.actor_kind) for e in issued] == [("denied", "client"), ("success", "client")]
    assert json.loads(issued[1].details_json) == {"scopes": ["customer:read"]}


def test_revocations_reach_verifiers_within_seconds(stub: auth_pb2_grpc.AuthServiceStub) -> None:
    check = verifier(stub)
    try:
        rep, manager = new_user(stub, "S5006"), new_user(stub, "S5007")
        kept = log_in(stub, rep)
        for tokens in (rep.tokens, kept, manager.tokens):
            check.verify(tokens.access_token)
        # Logout ends one session: its access token too, not the user's other sessions.
        stub.Logout(pb.LogoutRequest(refresh_token=rep.tokens.refresh_token), timeout=5)
        # A role change makes every token of the user stale (a refresh gets the new roles).
        stub.UpdateUser(
            pb.UpdateUserRequest(
                employee_id="S5007",
                user=pb.User(roles=["service"]),
                update_mask=field_mask_pb2.FieldMask(paths=["roles"]),
            ),
            metadata=ADMIN,
            timeout=5,
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                check.verify(rep.tokens.access_token)
                check.verify(manager.tokens.access_token)
            except Unauthenticated:
                break
            time.sleep(0.1)
        for token in (rep.tokens.access_token, manager.tokens.access_token):
            with pytest.raises(Unauthenticated, match="session has ended|revoked"):
                check.verify(token)
        assert check.verify(kept.access_token).id == "S5006"
        renewed = stub.Refresh(
            pb.RefreshRequest(refresh_token=manager.tokens.refresh_token), timeout=5
        ).tokens
        assert check.verify(renewed.access_token).roles == ("service",)
        # Disabling ends everything at once.
        stub.UpdateUser(
            pb.UpdateUserRequest(
                employee_id="S5006",
                user=pb.User(status="disabled"),
                update_mask=field_mask_pb2.FieldMask(paths=["status"]),
            ),
            metadata=ADMIN,
            timeout=5,
        )
        time.sleep(0.6)
        with pytest.raises(Unauthenticated, match="revoked"):
            check.verify(kept.access_token)
    finally:
        check.close()


def test_only_services_record_events_on_behalf_of_others(stub: auth_pb2_grpc.AuthServiceStub) -> None:
    writer = Caller(id="Q2001", roles=("custom",), permissions=("audit:write",))
    forged = pb.AuditEvent(actor="S1001", actor_kind="user", action="customer.delete", outcome="success")
    error = refused(
        lambda: stub.RecordAuditEvents(
            pb.RecordAuditEventsRequest(events=[forged]), metadata=writer.to_metadata(), timeout=5
        )
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    own = pb.AuditEvent(actor="Q2001", actor_kind="user", action="note.write", outcome="success")
    assert stub.RecordAuditEvents(
        pb.RecordAuditEventsRequest(events=[own]), metadata=writer.to_metadata(), timeout=5
    )
    service = Caller(id="svc-profile", kind="service", scope="all", permissions=("audit:write",))
    stub.RecordAuditEvents(
        pb.RecordAuditEventsRequest(events=[forged]), metadata=service.to_metadata(), timeout=5
    )
    assert not events(stub, actor="S1001", action="customer.delete")[0].service.startswith("Q2001")


def test_nobody_acknowledges_an_alert_about_themselves(stub: auth_pb2_grpc.AuthServiceStub) -> None:
    for _ in range(5):
        refused(
            lambda: stub.Login(pb.LoginRequest(employee_id="Q3001", password="Wrong-Password-1"), timeout=5)
        )
    alerts = stub.ListSecurityAlerts(pb.ListSecurityAlertsRequest(status="open"), metadata=AUDITOR, timeout=5)
    mine = next(a for a in alerts.alerts if a.kind == "failed_logins" and a.actor == "Q3001")
    themselves = Caller(id="Q3001", roles=("auditor",), permissions=("audit:read",)).to_metadata()
    error = refused(
        lambda: stub.AcknowledgeSecurityAlert(
            pb.AcknowledgeSecurityAlertRequest(alert_id=mine.id), metadata=themselves, timeout=5
        )
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert outcomes(stub, "Q3001")[-1] == ("security.acknowledge_alert", "denied")
    done = stub.AcknowledgeSecurityAlert(
        pb.AcknowledgeSecurityAlertRequest(alert_id=mine.id), metadata=AUDITOR, timeout=5
    ).alert
    assert (done.status, done.acknowledged_by) == ("acknowledged", "Q1001")


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_login_flood_is_refused_fast_instead_of_hashing_without_bound(
    tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    # Passwords are hashed outside any transaction, so on SQLite too logins hash in parallel
    # (and would otherwise have held its only write lock, audit events included, meanwhile).
    extra, name, admin = {}, "", ""
    if database == "postgresql":
        admin = request.getfixturevalue("pg_admin_url")
        name = _create_pg_database(admin)
        extra["CRM_AUTH_DATABASE_URL"] = f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    proc, address = start_auth(
        tmp_path,
        **extra,
        CRM_AUTH_ARGON2_TIME_COST="2",
        CRM_AUTH_ARGON2_MEMORY_KIB="32768",
        CRM_AUTH_ARGON2_CONCURRENCY="1",
        CRM_AUTH_ARGON2_WAIT_SECONDS="0",
    )
    answers: list[grpc.StatusCode] = []
    try:
        with grpc.insecure_channel(address) as channel:
            flood = auth_pb2_grpc.AuthServiceStub(channel)

            def attempt(i: int) -> None:
                try:
                    flood.Login(
                        pb.LoginRequest(employee_id=f"ghost{i}", password="Wrong-Password-1"), timeout=10
                    )
                except grpc.RpcError as exc:
                    answers.append(exc.code())

            threads = [threading.Thread(target=attempt, args=(i,)) for i in range(12)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if name:
            _drop_pg_database(admin, name)
    assert len(answers) == 12
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in answers and grpc.StatusCode.UNAUTHENTICATED in answers
