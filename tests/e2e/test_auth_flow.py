"""The platform with real identities: no development identity, tokens from the auth service,
checked by the gateway and again by every service."""

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pyotp
import pytest

from crm.profile.v1 import profile_pb2 as pb
from crm.profile.v1 import profile_pb2_grpc
from scripts.stack import Stack
from services.common.identity import Caller
from tests.conftest import customer_data
from tests.waiting import eventually


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict[str, dict[str, Any]]]]:
    data_dir = Path(tmp_path_factory.mktemp("secured"))
    env = {
        # The partner tests come through a "load balancer" at 127.0.0.2.
        "CRM_GATEWAY_TRUSTED_PROXIES": TRUSTED_PROXY,
        "CRM_TRACE_FILE": str(data_dir / "spans.jsonl"),
    }
    stack = Stack(data_dir=data_dir, dev_identity=False, env=env)
    stack.migrate()
    stack.command("auth", "seed-demo", "--output", str(data_dir / "demo-users.json"))
    users = {u["role"]: u for u in json.loads((data_dir / "demo-users.json").read_text())}
    with stack:
        yield stack, users


TRUSTED_PROXY = "127.0.0.2"
_CODES_USED: dict[str, int] = {}
_SESSIONS: dict[str, dict[str, Any]] = {}


def login(api: httpx.Client, user: dict[str, Any], *, fresh: bool = False) -> dict[str, Any]:
    """Tokens for a demo user: the module's session, or with fresh=True a new one.

    A TOTP code works once; the service also accepts the neighbouring windows' codes, so a
    second and third login within 30 s take those.
    """
    if not fresh and user["employee_id"] in _SESSIONS:
        return _SESSIONS[user["employee_id"]]
    used = _CODES_USED.get(user["employee_id"], 0)
    _CODES_USED[user["employee_id"]] = used + 1
    code = pyotp.TOTP(user["totp_secret"]).at(time.time() + (0, 30, -30)[used % 3])
    reply = api.post(
        "/api/v1/auth/login",
        json={"employee_id": user["employee_id"], "password": user["password"], "totp_code": code},
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["cache-control"] == "no-store"
    tokens: dict[str, Any] = reply.json()["tokens"]
    if not fresh:  # a fresh session may be ended by its test (and its access token with it)
        _SESSIONS[user["employee_id"]] = tokens
    return tokens


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def test_nothing_without_a_token(secured: tuple[Stack, Any]) -> None:
    stack, _ = secured
    with httpx.Client(base_url=stack.gateway_url) as api:
        reply = api.get("/api/v1/customers")
        assert reply.status_code == 401 and reply.headers["www-authenticate"] == "Bearer"
        assert api.get("/api/v1/customers", headers={"X-Dev-Caller": "x"}).status_code == 401
        assert (
            api.get("/api/v1/customers", headers={"Authorization": "Bearer not.a.token"}).status_code == 401
        )
        assert api.get("/api/v1/customers", headers={"Authorization": "Basic abc"}).status_code == 401


def test_a_rep_works_with_own_customers_only(secured: tuple[Stack, Any]) -> None:
    stack, users = secured
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as api:
        rep = bearer(login(api, users["sales"]))
        made = api.post("/api/v1/customers", json=customer_data(name="令牌测试贸易有限公司"), headers=rep)
        assert made.status_code == 201, made.text
        customer = made.json()
        assert (
            customer["owner_id"] == users["sales"]["employee_id"]
            and customer["created_by"] == customer["owner_id"]
        )
        # The search service's indexer reads the feed with its own API client.
        found = eventually(
            lambda: api.post("/api/v1/search/customers", json={"query": "令牌测试"}, headers=rep).json()[
                "items"
            ]
        )
        assert [h["id"] for h in found] == [customer["id"]]
        marketer = bearer(login(api, users["marketing"]))
        seen = api.get(f"/api/v1/customers/{customer['id']}", headers=marketer)
        assert seen.status_code == 200 and seen.json()["deal_amount_12m"] is None  # financial hidden
        assert api.post("/api/v1/customers", json=customer_data(), headers=marketer).status_code == 403


def test_services_check_tokens_themselves(secured: tuple[Stack, Any]) -> None:
    stack, users = secured
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as api:
        token = login(api, users["sales"])["access_token"]
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    with grpc.insecure_channel(stack.profile_address) as channel:
        stub = profile_pb2_grpc.ProfileServiceStub(channel)
        assert (
            stub.ListCustomers(
                pb.ListCustomersRequest(), timeout=5, metadata=[("authorization", f"Bearer {token}")]
            )
            is not None
        )
        for metadata in (
            [("authorization", f"Bearer {forged}")],
            Caller(id="A0001", roles=("admin",), scope="all", permissions=("*",)).to_metadata(),
            [],
        ):
            with pytest.raises(grpc.RpcError) as caught:
                stub.ListCustomers(pb.ListCustomersRequest(), metadata=metadata, timeout=5)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_refresh_rotates_and_logout_ends_the_session(secured: tuple[Stack, Any]) -> None:
    stack, users = secured
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as api:
        first = login(api, users["service"], fresh=True)
        second = api.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert second.status_code == 200
        reused = api.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert reused.status_code == 401  # a rotated token is spent (and its family revoked)
        again = login(api, users["marketing"], fresh=True)
        assert (
            api.post("/api/v1/auth/logout", json={"refresh_token": again["refresh_token"]}).status_code == 204
        )
        assert (
            api.post("/api/v1/auth/refresh", json={"refresh_token": again["refresh_token"]}).status_code
            == 401
        )


def test_a_wrong_password_or_code_is_refused(secured: tuple[Stack, Any]) -> None:
    stack, users = secured
    user = users["manager"]
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as api:
        wrong = api.post("/api/v1/auth/login", json={"employee_id": user["employee_id"], "password": "nope"})
        assert wrong.status_code == 401 and wrong.headers["content-type"] == "application/problem+json"
        no_code = api.post(
            "/api/v1/auth/login", json={"employee_id": user["employee_id"], "password": user["password"]}
        )
        assert no_code.status_code == 200 and no_code.json()["challenge"]["kind"] == "totp_required"


def test_partner_systems_use_client_credentials(secured: tuple[Stack, Any]) -> None:
    stack, _ = secured
    path = stack.data_dir / "run" / "partner-client.json"
    stack.command(
        "auth", "service-client", "--service", "partner", "--scopes", "customer:read", "--output", str(path)
    )
    partner = json.loads(path.read_text())
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as api:
        token = api.post(
            "/api/v1/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": partner["client_id"],
                "client_secret": partner["client_secret"],
            },
        )
        assert token.status_code == 200, token.text
        assert token.json()["scope"] == "customer:read"
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        assert api.get("/api/v1/customers", headers=headers).status_code == 200
        assert api.post("/api/v1/customers", json=customer_data(), headers=headers).status_code == 403
        bad = api.post(
            "/api/v1/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": partner["client_id"],
                "client_secret": "wrong",
            },
        )
        assert bad.status_code == 401
        assert api.post("/api/v1/oauth/token", data={"grant_type": "password"}).status_code == 422


def test_the_auth_service_trusts_no_unsigned_identity(secured: tuple[Stack, Any]) -> None:
    from crm.auth.v1 import auth_pb2, auth_pb2_grpc

    stack, _ = secured
    claimed_admin = Caller(id="A0001", roles=("admin",), scope="all", permissions=("*",)).to_metadata()
    with grpc.insecure_channel(stack.auth_address) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        for call in (
            lambda: stub.ListUsers(auth_pb2.ListUsersRequest(), metadata=claimed_admin, timeout=5),
            lambda: stub.VerifyAuditLog(auth_pb2.VerifyAuditLogRequest(), metadata=claimed_admin, timeout=5),
        ):
            with pytest.raises(grpc.RpcError) as caught:
                call()
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_every_access_is_in_the_tamper_evident_audit_log(secured: tuple[Stack, Any]) -> None:
    import sqlite3

    stack, users = secured
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as api:
        admin = bearer(login(api, users["admin"]))
        rep = bearer(login(api, users["sales"]))
        made = api.post("/api/v1/customers", json=customer_data(name="审计样本有限公司"), headers=rep).json()
        api.get(f"/api/v1/customers/{made['id']}", headers=rep)
        api.post("/api/v1/search/customers", json={"query": "13812345678"}, headers=rep)
        api.post("/api/v1/auth/login", json={"employee_id": "nobody", "password": "wrong"})
        assert api.get("/api/v1/audit/events", headers=rep).status_code == 403

        def events(**filters: str) -> list[dict[str, Any]]:
            reply = api.get("/api/v1/audit/events", params={"page_size": 500, **filters}, headers=admin)
            assert reply.status_code == 200, reply.text
            return reply.json()["items"]

        target = f"customer:{made['id']}"
        # A change's event is shipped to the log just after the change commits.
        assert eventually(lambda: any(e["action"] == "customer.create" for e in events(target=target)), 5)
        mine = {(e["action"], e["outcome"]) for e in events(target=target)}
        assert {("customer.create", "success"), ("customer.read", "success")} <= mine
        created = next(e for e in events(target=target) if e["action"] == "customer.create")
        assert created["actor"] == users["sales"]["employee_id"] and "name" in created["fields"]
        assert created["service"].startswith("svc-profile") and len(created["trace_id"]) == 32
        assert created["source"] == "127.0.0.1"  # the client's address, as the gateway saw it
        searched = events(action="customer.search", actor=users["sales"]["employee_id"])[0]
        assert searched["details"]["query_length"] == 11 and "13812345678" not in json.dumps(searched)
        assert events(action="auth.login", outcome="denied", actor="nobody")
        verified = api.get("/api/v1/audit/verify", headers=admin).json()
        assert verified["ok"] and verified["checked"] >= 5
        exported = api.get("/api/v1/audit/events/export", params={"target": target}, headers=admin)
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
        assert {r["action"] for r in rows} >= {"customer.create", "customer.read"} and all(
            r["hash"] for r in rows
        )

        # Someone with database access alters one event: verification names it.
        seq = created["seq"]
        with sqlite3.connect(stack.data_dir / "auth.db") as db:
            db.execute("UPDATE audit_events SET actor = 'someone-else' WHERE seq = ?", (seq,))
        broken = api.get("/api/v1/audit/verify", headers=admin).json()
        assert not broken["ok"] and broken["first_bad_seq"] == seq and broken["reason"] == "hash_mismatch"
        with sqlite3.connect(stack.data_dir / "auth.db") as db:  # put it back for the tests after
            db.execute("UPDATE audit_events SET actor = ? WHERE seq = ?", (created["actor"], seq))
        assert api.get("/api/v1/audit/verify", headers=admin).json()["ok"]


def test_refusals_are_audited(secured: tuple[Stack, Any]) -> None:
    stack, users = secured
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as api:
        admin = bearer(login(api, users["admin"]))
        agent = bearer(login(api, users["service"]))
        made = api.post("/api/v1/customers", json=customer_data(), headers=admin).json()
        assert api.get(f"/api/v1/customers/{made['id']}/contracts", headers=agent).status_code == 403
        denied = api.get(
            "/api/v1/audit/events",
            headers=admin,
            params={"actor": users["service"]["employee_id"], "outcome": "denied"},
        ).json()["items"]
        # (Their refused refresh token, earlier in this module, is on record too.)
        assert [e["action"] for e in denied if not e["action"].startswith("auth.")] == ["rpc.list_contracts"]
        # Refused at the gateway (the role lacks the permission): audited there.
        assert api.post("/api/v1/customers", json=customer_data(), headers=agent).status_code == 403
        denied = api.get(
            "/api/v1/audit/events",
            headers=admin,
            params={"actor": users["service"]["employee_id"], "outcome": "denied"},
        ).json()["items"]
        assert denied[0]["action"] == "gateway.refused" and denied[0]["target"] == "POST /api/v1/customers"


def test_a_burst_of_failed_logins_alerts_the_security_team(secured: tuple[Stack, Any]) -> None:
    stack, users = secured
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as api:
        for _ in range(5):
            api.post("/api/v1/auth/login", json={"employee_id": "intruder", "password": "guess"})
        admin = bearer(login(api, users["admin"]))
        assert (
            api.get("/api/v1/security/alerts", headers=bearer(login(api, users["sales"]))).status_code == 403
        )
        alerts = api.get("/api/v1/security/alerts", params={"status": "open"}, headers=admin).json()["items"]
        burst = next(a for a in alerts if a["kind"] == "failed_logins" and a["actor"] == "intruder")
        assert burst["count"] >= 5
        seen = api.post(f"/api/v1/security/alerts/{burst['id']}/acknowledge", headers=admin)
        assert seen.status_code == 200 and seen.json()["status"] == "acknowledged"
        assert seen.json()["acknowledged_by"] == users["admin"]["employee_id"]


def test_admin_actions_are_audited(secured: tuple[Stack, Any]) -> None:
    from crm.auth.v1 import auth_pb2, auth_pb2_grpc

    stack, users = secured
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as api:
        admin = login(api, users["admin"])
        with grpc.insecure_channel(stack.auth_address) as channel:
            auth_pb2_grpc.AuthServiceStub(channel).CreateUser(
                auth_pb2.CreateUserRequest(
                    user=auth_pb2.User(employee_id="S7777", display_name="新同事", roles=["sales"])
                ),
                metadata=[("authorization", f"Bearer {admin['access_token']}")],
                timeout=10,
            )
        events = api.get(
            "/api/v1/audit/events", params={"action": "admin.create_user"}, headers=bearer(admin)
        ).json()["items"]
    assert [(e["actor"], e["target"]) for e in events] == [
        (users["admin"]["employee_id"], "employee_id:S7777")
    ]


def test_administration_and_a_first_login_through_the_api(secured: tuple[Stack, Any]) -> None:
    stack, users = secured
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as api:
        admin = bearer(login(api, users["admin"]))
        rep = bearer(login(api, users["sales"]))
        assert api.get("/api/v1/users", headers=rep).status_code == 403
        team = api.post("/api/v1/org-units", json={"name": "西南区", "kind": "region"}, headers=admin)
        assert team.status_code == 201, team.text
        role = api.post(
            "/api/v1/roles",
            headers=admin,
            json={
                "name": "auditor",
                "description": "安全审计",
                "permissions": ["audit:read", "customer:read"],
                "scope": "all",
                "field_rules": {"contact": "masked", "financial": "hidden", "purchase": "hidden"},
            },
        )
        assert role.status_code == 201, role.text
        made = api.post(
            "/api/v1/users",
            headers=admin,
            json={
                "employee_id": "K2001",
                "display_name": "审计员",
                "roles": ["auditor"],
                "org_unit_id": team.json()["id"],
            },
        )
        assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
        assert made.json()["user"]["must_change_password"] is True
        assert "K2001" in {u["employee_id"] for u in api.get("/api/v1/users", headers=admin).json()["items"]}

        # First login: change the password, enrol TOTP, confirm with a code, get tokens.
        first = api.post(
            "/api/v1/auth/login", json={"employee_id": "K2001", "password": made.json()["initial_password"]}
        ).json()["challenge"]
        assert first["kind"] == "password_change_required"
        changed = api.post(
            "/api/v1/auth/password",
            json={
                "setup_token": first["setup_token"],
                "current_password": made.json()["initial_password"],
                "new_password": "Audit-2026-strong!",
            },
        )
        assert changed.status_code == 200, changed.text
        enrolment = changed.json()["challenge"]
        assert enrolment["kind"] == "totp_enrollment_required"
        code = pyotp.TOTP(enrolment["totp_secret"]).now()
        verified = api.post(
            "/api/v1/auth/mfa/verify", json={"setup_token": enrolment["setup_token"], "totp_code": code}
        )
        assert verified.status_code == 200, verified.text
        assert len(verified.json()["recovery_codes"]) == 10
        auditor = bearer(verified.json()["tokens"])
        assert api.get("/api/v1/audit/verify", headers=auditor).json()["ok"]
        customer = api.post("/api/v1/customers", json=customer_data(), headers=admin).json()
        seen = api.get(f"/api/v1/customers/{customer['id']}", headers=auditor).json()
        assert seen["contacts"][0]["phones"] == ["138****5678"]  # the role's masked rule

        client = api.post(
            "/api/v1/api-clients",
            headers=admin,
            json={"name": "ERP 同步", "scopes": ["customer:read"], "rate_limit_per_minute": 120},
        )
        assert client.status_code == 201 and client.json()["client_secret"]
        client_id = client.json()["client"]["client_id"]
        rotated = api.post(
            f"/api/v1/api-clients/{client_id}/rotate-secret", json={"grace_seconds": 0}, headers=admin
        )
        assert (
            rotated.status_code == 200 and rotated.json()["client_secret"] != client.json()["client_secret"]
        )
        disabled = api.post(f"/api/v1/api-clients/{client_id}/disable", headers=admin)
        assert disabled.status_code == 200 and disabled.json()["status"] == "disabled"
        refused = api.post(
            "/api/v1/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": rotated.json()["client_secret"],
            },
        )
        assert refused.status_code == 401
        reset = api.post("/api/v1/users/K2001/password-reset", json={}, headers=admin)
        assert reset.status_code == 200 and reset.json()["one_time_password"]
        off = api.patch("/api/v1/users/K2001", json={"status": "disabled"}, headers=admin)
        assert off.status_code == 200 and off.json()["status"] == "disabled"


MUTATIONS = [
    ("POST", "/contacts", {"name": "周敏", "phones": ["13511112222"]}, "contact.create"),
    (
        "POST",
        "/interactions",
        {"channel": "phone", "occurred_at": "2024-05-01T10:00:00+08:00", "summary": "回访"},
        "interaction.create",
    ),
    (
        "POST",
        "/orders",
        {"product": "刀具", "amount": "99.00", "ordered_at": "2024-05-01T10:00:00+08:00"},
        "order.create",
    ),
    (
        "POST",
        "/contracts",
        {"number": "HT-AUDIT-1", "title": "框架协议", "amount": "1000.00"},
        "contract.create",
    ),
    ("POST", "/service-records", {"category": "inquiry", "subject": "咨询交期"}, "service_record.create"),
    ("PATCH", "", {"stage": "intent"}, "customer.update"),
    ("DELETE", "", None, "customer.delete"),
    ("POST", "/restore", None, "customer.restore"),
]


def test_every_change_leaves_exactly_its_audit_event(secured: tuple[Stack, Any]) -> None:
    stack, users = secured
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as api:
        admin = bearer(login(api, users["admin"]))
        customer = api.post("/api/v1/customers", json=customer_data(), headers=admin).json()
        base = f"/api/v1/customers/{customer['id']}"
        target = f"customer:{customer['id']}"

        def actions() -> list[str]:
            items = api.get(
                "/api/v1/audit/events", params={"target": target, "page_size": 500}, headers=admin
            ).json()["items"]
            return [
                e["action"]
                for e in items
                if not e["action"].endswith((".read", ".list", ".view", ".history"))
            ]

        assert eventually(lambda: actions() == ["customer.create"], 5), actions()
        for method, suffix, body, action in MUTATIONS:
            before = actions()
            headers = dict(admin)
            if method in ("PATCH", "DELETE"):
                headers["If-Match"] = api.get(base, headers=admin, params={}).headers.get("etag", '"1"')
            reply = api.request(method, base + suffix, json=body, headers=headers)
            assert reply.status_code in (200, 201, 204), (action, reply.text)
            assert eventually(lambda: actions() != before, 5), action  # noqa: B023 - waited for here
            assert actions() == [action, *before], action


# --- hardening ---------------------------------------------------------------------------------


def from_address(stack: Stack, address: str) -> httpx.Client:
    """A client whose requests come from another loopback address."""
    return httpx.Client(
        base_url=stack.gateway_url, timeout=10, transport=httpx.HTTPTransport(local_address=address)
    )


def new_user(api: httpx.Client, admin: dict[str, str], employee_id: str, roles: list[str]) -> dict[str, Any]:
    """A user created through the API and taken through the first login: tokens and secrets."""
    made = api.post(
        "/api/v1/users",
        headers=admin,
        json={"employee_id": employee_id, "display_name": "测试", "roles": roles},
    )
    assert made.status_code == 201, made.text
    initial = made.json()["initial_password"]
    first = api.post("/api/v1/auth/login", json={"employee_id": employee_id, "password": initial}).json()
    changed = api.post(
        "/api/v1/auth/password",
        json={
            "setup_token": first["challenge"]["setup_token"],
            "current_password": initial,
            "new_password": "Audit-2026-strong!",
        },
    ).json()["challenge"]
    verified = api.post(
        "/api/v1/auth/mfa/verify",
        json={"setup_token": changed["setup_token"], "totp_code": pyotp.TOTP(changed["totp_secret"]).now()},
    )
    assert verified.status_code == 200, verified.text
    return {
        "employee_id": employee_id,
        "password": "Audit-2026-strong!",
        "totp_secret": changed["totp_secret"],
        "recovery_codes": verified.json()["recovery_codes"],
        "tokens": verified.json()["tokens"],
    }


def test_old_access_tokens_are_refused_within_seconds(secured: tuple[Stack, Any]) -> None:
    stack, users = secured
    with (
        httpx.Client(base_url=stack.gateway_url, timeout=10) as api,
        grpc.insecure_channel(stack.profile_address) as channel,
    ):
        profile = profile_pb2_grpc.ProfileServiceStub(channel)
        admin = bearer(login(api, users["admin"]))
        leaving, promoted, disabled = (
            new_user(api, admin, employee_id, ["sales"]) for employee_id in ("S8001", "S8002", "S8003")
        )

        def gateway_accepts(user: dict[str, Any]) -> bool:
            return api.get("/api/v1/customers", headers=bearer(user["tokens"])).status_code == 200

        def profile_accepts(user: dict[str, Any]) -> bool:
            metadata = [("authorization", f"Bearer {user['tokens']['access_token']}")]
            try:
                profile.ListCustomers(pb.ListCustomersRequest(), metadata=metadata, timeout=5)
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAUTHENTICATED
                return False
            return True

        for user in (leaving, promoted, disabled):
            assert gateway_accepts(user) and profile_accepts(user)
        assert api.post(
            "/api/v1/auth/logout", json={"refresh_token": leaving["tokens"]["refresh_token"]}
        ).is_success
        assert api.patch("/api/v1/users/S8002", json={"roles": ["service"]}, headers=admin).is_success
        assert api.patch("/api/v1/users/S8003", json={"status": "disabled"}, headers=admin).is_success
        started = time.monotonic()
        for user in (leaving, promoted, disabled):
            assert eventually(lambda user=user: not gateway_accepts(user) and not profile_accepts(user), 5)
        assert time.monotonic() - started < 8
        refused = api.get("/api/v1/customers", headers=bearer(leaving["tokens"]))
        assert refused.status_code == 401 and "session has ended" in refused.json()["detail"]
        # The promoted user's session goes on: a refresh brings a token with the new role.
        renewed = api.post(
            "/api/v1/auth/refresh", json={"refresh_token": promoted["tokens"]["refresh_token"]}
        )
        assert renewed.status_code == 200 and gateway_accepts({"tokens": renewed.json()})
        # Refused tokens are on record.
        events = api.get(
            "/api/v1/audit/events", params={"action": "auth.token_refused"}, headers=admin
        ).json()["items"]
        assert events and events[0]["actor_kind"] == "anonymous" and events[0]["source"] == "127.0.0.1"


def test_the_partner_allow_list_believes_only_trusted_proxies(secured: tuple[Stack, Any]) -> None:
    stack, users = secured
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as api:
        admin = bearer(login(api, users["admin"]))
        made = api.post(
            "/api/v1/api-clients",
            headers=admin,
            json={"name": "门店系统", "scopes": ["customer:read"], "ip_allowlist": ["10.0.0.0/8"]},
        ).json()
        form = {
            "grant_type": "client_credentials",
            "client_id": made["client"]["client_id"],
            "client_secret": made["client_secret"],
        }
        # A client claiming an allowed address is checked at the address it calls from.
        spoofed = api.post("/api/v1/oauth/token", data=form, headers={"X-Forwarded-For": "10.1.2.3"})
        assert spoofed.status_code == 403, spoofed.text
    with from_address(stack, TRUSTED_PROXY) as proxy:
        forwarded = proxy.post("/api/v1/oauth/token", data=form, headers={"X-Forwarded-For": "10.1.2.3"})
        assert forwarded.status_code == 200, forwarded.text
        # What the client wrote before the proxy's entry proves nothing.
        chained = proxy.post(
            "/api/v1/oauth/token", data=form, headers={"X-Forwarded-For": "10.1.2.3, 198.51.100.7"}
        )
        assert chained.status_code == 403
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as api:
        issued = api.get(
            "/api/v1/audit/events",
            params={"actor": made["client"]["client_id"], "action": "auth.client_token"},
            headers=admin,
        ).json()["items"]
    assert [(e["outcome"], e["source"]) for e in issued] == [
        ("denied", "198.51.100.7"),
        ("success", "10.1.2.3"),
        ("denied", "127.0.0.1"),
    ]


def test_login_steps_are_limited_per_address_and_delays_answer_429(secured: tuple[Stack, Any]) -> None:
    stack, users = secured
    with from_address(stack, "127.0.0.3") as api:
        answers = [
            api.post("/api/v1/auth/refresh", json={"refresh_token": "not-a-token"}).status_code
            for _ in range(121)
        ]
        assert answers[:120] == [401] * 120 and answers[120] == 429
        spent = api.post("/api/v1/auth/login", json={"employee_id": "S1001", "password": "x"})
        assert spent.status_code == 429 and int(spent.headers["retry-after"]) > 0
        assert spent.headers["content-type"] == "application/problem+json"
    manager = users["manager"]
    with from_address(stack, "127.0.0.4") as api:
        wrong = {"employee_id": manager["employee_id"], "password": "guess"}
        # (One earlier wrong password of theirs still counts: failures decay over minutes.)
        answers = [api.post("/api/v1/auth/login", json=wrong).status_code for _ in range(5)]
        assert answers[0] == 401 and answers[-1] == 429
        right = {"employee_id": manager["employee_id"], "password": manager["password"]}
        delayed = api.post("/api/v1/auth/login", json=right)
        wait = int(delayed.headers["retry-after"])
        assert delayed.status_code == 429 and 50 <= wait <= 60
        assert delayed.json()["detail"] == f"too many failed attempts; try again in {wait} seconds"
        # An administrator lifts the delay at once.
        admin = bearer(login(api, users["admin"]))
        lifted = api.post(f"/api/v1/users/{manager['employee_id']}/unlock", headers=admin)
        assert lifted.status_code == 200 and lifted.json()["locked_until"] is None
        assert api.post("/api/v1/auth/login", json=right).json()["challenge"]["kind"] == "totp_required"


def test_a_password_change_answers_alike_without_the_second_factor(secured: tuple[Stack, Any]) -> None:
    stack, users = secured
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as api:
        admin = bearer(login(api, users["admin"]))
        user = new_user(api, admin, "S8004", ["sales"])

        def change(current: str, code: str | None) -> httpx.Response:
            body = {
                "employee_id": "S8004",
                "current_password": current,
                "new_password": "Brand-New-Lantern-9",
            }
            return api.post("/api/v1/auth/password", json={**body, "totp_code": code})

        def answer(reply: httpx.Response) -> tuple[int, Any, Any]:
            return reply.status_code, reply.json()["detail"], reply.json().get("errors")

        for code in (None, "000000"):
            assert answer(change(user["password"], code)) == answer(change("Wrong-Password-1", code))
        assert change(user["password"], None).status_code == 422
        assert change(user["password"], "000000").status_code == 401
        assert change(user["password"], user["recovery_codes"][0]).status_code == 200
        outcomes = [
            e["outcome"]
            for e in api.get(
                "/api/v1/audit/events",
                params={"actor": "S8004", "action": "auth.password_change"},
                headers=admin,
            ).json()["items"]
        ]
    assert outcomes[0] == "success" and outcomes.count("denied") == 3 and outcomes.count("failed") == 3


def test_bad_credentials_get_a_clear_4xx_change_nothing_and_are_audited(secured: tuple[Stack, Any]) -> None:
    stack, users = secured
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as api:
        admin = bearer(login(api, users["admin"]))
        before = api.get("/api/v1/audit/verify", headers=admin).json()["checked"]
        huge = api.post("/api/v1/auth/login", json={"employee_id": "S1001", "password": "p" * 100_000})
        long_id = api.post("/api/v1/auth/login", json={"employee_id": "S" * 5000, "password": "x"})
        raw = api.post(
            "/api/v1/auth/login",
            content=b'{"employee_id": "S1001", "password": "' + b"\xff\xfe" + b'"}',
            headers={"content-type": "application/json"},
        )
        for reply in (huge, long_id, raw):
            assert (
                400 <= reply.status_code < 500 and reply.headers["content-type"] == "application/problem+json"
            )
        # A real token, but for another audience (a setup token): refused wherever it goes.
        created = api.post(
            "/api/v1/users",
            headers=admin,
            json={"employee_id": "S8005", "display_name": "测试", "roles": ["sales"]},
        ).json()
        setup = api.post(
            "/api/v1/auth/login", json={"employee_id": "S8005", "password": created["initial_password"]}
        ).json()["challenge"]["setup_token"]
        assert api.get("/api/v1/customers", headers={"Authorization": f"Bearer {setup}"}).status_code == 401
        with grpc.insecure_channel(stack.profile_address) as channel:
            with pytest.raises(grpc.RpcError) as caught:
                profile_pb2_grpc.ProfileServiceStub(channel).ListCustomers(
                    pb.ListCustomersRequest(), metadata=[("authorization", f"Bearer {setup}")], timeout=5
                )
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # Nothing changed: S1001 still logs in, and every refusal is in the log.
        assert login(api, users["sales"], fresh=True)["access_token"]
        failed = api.get(
            "/api/v1/audit/events", params={"action": "auth.login", "outcome": "failed"}, headers=admin
        ).json()["items"]
        assert len(failed) >= 3 and {e["source"] for e in failed} == {"127.0.0.1"}
        refused = api.get(
            "/api/v1/audit/events", params={"action": "auth.token_refused"}, headers=admin
        ).json()["items"]
        assert any(
            "audience" in (e["details"] or {}).get("reason", "")
            or "claim" in (e["details"] or {}).get("reason", "")
            for e in refused
        )
        assert api.get("/api/v1/audit/verify", headers=admin).json()["checked"] > before


def test_security_headers_and_no_search_text_in_traces(secured: tuple[Stack, Any]) -> None:
    stack, users = secured
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as api:
        rep = bearer(login(api, users["sales"]))
        listed = api.get("/api/v1/customers", params={"name": "欧阳秘密", "page_size": 5}, headers=rep)
        suggested = api.get("/api/v1/search/suggest", params={"q": "13876543210"}, headers=rep)
        docs = api.get("/docs")
        refused = api.get("/api/v1/customers")
    for reply in (listed, suggested, refused):
        assert reply.headers["content-security-policy"].startswith("default-src 'none'")
        assert "frame-ancestors 'none'" in reply.headers["content-security-policy"]
        assert reply.headers["strict-transport-security"].startswith("max-age=")
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["x-frame-options"] == "DENY"
        assert reply.headers["referrer-policy"] == "no-referrer"
    # The docs page may load Swagger UI's bundle (and run its start-up script), nothing else.
    assert docs.status_code == 200 and "cdn.jsdelivr.net" in docs.text
    assert (
        "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net"
        in docs.headers["content-security-policy"]
    )
    path = stack.data_dir / "spans.jsonl"

    def gateway_spans() -> list[dict[str, Any]]:
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        return [
            s
            for s in map(json.loads, lines)
            if s["resource"]["attributes"]["service.name"] == "gateway" and s["kind"] == "SpanKind.SERVER"
        ]

    assert eventually(lambda: any("suggest" in s["name"] for s in gateway_spans()), 10)
    text = path.read_text(encoding="utf-8")
    assert "欧阳秘密" not in text and "%E6%AC%A7" not in text and "13876543210" not in text
    urls = [str(s["attributes"].get("http.url", "")) for s in gateway_spans()]
    assert any("name=REDACTED" in url and "page_size=REDACTED" in url for url in urls)
