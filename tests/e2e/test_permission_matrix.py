"""Every role against every kind of endpoint, on a record it owns and one it does not: allowed,
refused (403) or not found (404, so existence does not leak) — with real tokens. And every RPC
of every service, called directly on its port, against every role and a partner client: the
permissions the services declare (rpc_permissions.py) are what they enforce."""

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import jwt
import pyotp
import pytest
from google.protobuf import message_factory

from crm.analytics.v1 import analytics_pb2
from crm.auth.v1 import auth_pb2
from crm.profile.v1 import profile_pb2, profile_pb2_grpc
from crm.search.v1 import search_pb2
from crm.tagging.v1 import tagging_pb2
from scripts.stack import Stack
from services.analytics.servicer import PERMISSIONS as ANALYTICS_PERMISSIONS
from services.auth.server import PERMISSIONS as AUTH_PERMISSIONS
from services.common import rpc_permissions
from services.profile.servicer import PERMISSIONS as PROFILE_PERMISSIONS
from services.search.servicer import PERMISSIONS as SEARCH_PERMISSIONS
from services.tagging.servicer import PERMISSIONS as TAGGING_PERMISSIONS
from tests.conftest import customer_data

# role -> (employee id in the demo seed, permissions, record scope reaches "other", hidden groups)
_TAGGING_ALL = "tag:read tag:write tag:assign tag_rule:write segment:read segment:write segment:export"
_TAGGING_USE = "tag:read tag:assign segment:read"
ROLES = {
    "admin": ("*", True, ()),
    "manager": (
        "customer:read customer:write customer:delete customer:history related:read related:write "
        + _TAGGING_ALL,
        False,
        (),
    ),
    "sales": (
        "customer:read customer:write customer:history related:read related:write " + _TAGGING_USE,
        False,
        (),
    ),
    "service": ("customer:read related:read related:write " + _TAGGING_USE, True, ("financial",)),
    "marketing": ("customer:read related:read " + _TAGGING_ALL, True, ("financial",)),
}
# name -> (method, path template, permission, hidden group it needs, body)
ENDPOINTS = {
    "read": ("GET", "/api/v1/customers/{id}", "customer:read", None, None),
    "view": ("GET", "/api/v1/customers/{id}/view", "customer:read", None, None),
    "history": ("GET", "/api/v1/customers/{id}/history", "customer:history", None, None),
    "update": ("PATCH", "/api/v1/customers/{id}", "customer:write", None, {"stage": "intent"}),
    "log interaction": (
        "POST",
        "/api/v1/customers/{id}/interactions",
        "related:write",
        None,
        {"channel": "phone", "occurred_at": "2024-05-01T10:00:00+08:00", "summary": "回访"},
    ),
    "list orders": ("GET", "/api/v1/customers/{id}/orders", "related:read", "purchase", None),
    "list contracts": ("GET", "/api/v1/customers/{id}/contracts", "related:read", "financial", None),
    "add contact": (
        "POST",
        "/api/v1/customers/{id}/contacts",
        "customer:write",
        None,
        {"name": "周敏", "phones": ["13511112222"]},
    ),
    "list contacts": ("GET", "/api/v1/customers/{id}/contacts", "related:read", None, None),
    "list interactions": ("GET", "/api/v1/customers/{id}/interactions", "related:read", None, None),
    "record order": (
        "POST",
        "/api/v1/customers/{id}/orders",
        "related:write",
        "purchase",
        {"product": "刀具", "amount": "99.00", "ordered_at": "2024-05-01T10:00:00+08:00"},
    ),
    "add contract": (
        "POST",
        "/api/v1/customers/{id}/contracts",
        "related:write",
        "financial",
        {"number": "HT-{role}-{record}", "title": "框架协议", "amount": "1000.00"},
    ),
    "open service record": (
        "POST",
        "/api/v1/customers/{id}/service-records",
        "related:write",
        None,
        {"category": "inquiry", "subject": "咨询交期"},
    ),
    "list service records": ("GET", "/api/v1/customers/{id}/service-records", "related:read", None, None),
    "list tags": ("GET", "/api/v1/customers/{id}/tags", "tag:read", None, None),
    "tag history": ("GET", "/api/v1/customers/{id}/tags/history", "tag:read", None, None),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data_dir = Path(tmp_path_factory.mktemp("matrix"))
    stack = Stack(data_dir=data_dir, dev_identity=False)
    stack.migrate()
    stack.command("auth", "seed-demo", "--output", str(data_dir / "users.json"))
    users = {u["role"]: u for u in json.loads((data_dir / "users.json").read_text())}
    with stack, httpx.Client(base_url=stack.gateway_url, timeout=10) as api:
        tokens = {}
        for role, user in users.items():
            reply = api.post(
                "/api/v1/auth/login",
                json={
                    "employee_id": user["employee_id"],
                    "password": user["password"],
                    "totp_code": pyotp.TOTP(user["totp_secret"]).now(),
                },
            )
            tokens[role] = {"Authorization": f"Bearer {reply.json()['tokens']['access_token']}"}
        partner = api.post(
            "/api/v1/api-clients",
            headers=tokens["admin"],
            json={"name": "商城对接", "scopes": ["customer:read"], "record_scope": "all"},
        ).json()
        issued = api.post(
            "/api/v1/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": partner["client"]["client_id"],
                "client_secret": partner["client_secret"],
            },
        )
        tokens["partner"] = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        rep = users["sales"]["employee_id"]
        own = api.post("/api/v1/customers", json=customer_data(owner_id=rep), headers=tokens["admin"]).json()
        other = api.post(
            "/api/v1/customers", json=customer_data(owner_id="S9999"), headers=tokens["admin"]
        ).json()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the tagging service follows the change feed
            seen = [
                api.get(f"/api/v1/customers/{c['id']}/tags", headers=tokens["admin"]) for c in (own, other)
            ]
            if all(r.status_code == 200 for r in seen):
                break
            time.sleep(0.1)
        yield {
            "api": api,
            "stack": stack,
            "tokens": tokens,
            "records": {"own": own["id"], "other": other["id"]},
        }


def expected(role: str, endpoint: str, record: str) -> int:
    permissions, reaches_other, hidden = ROLES[role]
    _, _, permission, group, _ = ENDPOINTS[endpoint]
    if permissions != "*" and permission not in permissions.split():
        return 403
    if record == "other" and not reaches_other:
        return 404
    if group in hidden:
        return 403
    return 200


@pytest.mark.parametrize("record", ["own", "other"])
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("role", list(ROLES))
def test_permission_matrix(world: dict[str, Any], role: str, endpoint: str, record: str) -> None:
    api: httpx.Client = world["api"]
    customer_id = world["records"][record]
    method, template, _, _, body = ENDPOINTS[endpoint]
    headers = dict(world["tokens"][role])
    if method == "PATCH":
        headers["If-Match"] = api.get(
            f"/api/v1/customers/{customer_id}", headers=world["tokens"]["admin"]
        ).headers["etag"]
    if body and "number" in body:  # contract numbers are unique
        body = {**body, "number": body["number"].format(role=role, record=record)}
    if body and "number" in body:  # contract numbers are unique
        body = {**body, "number": body["number"].format(role=role, record=record)}
    reply = api.request(method, template.format(id=customer_id), json=body, headers=headers)
    want = expected(role, endpoint, record)
    got = 200 if reply.status_code in (200, 201, 204) else reply.status_code
    assert got == want, f"{role} {endpoint} on {record}: {reply.status_code} {reply.text[:200]}"


@pytest.mark.parametrize("role", list(ROLES))
def test_lists_and_search_only_show_reachable_records(world: dict[str, Any], role: str) -> None:
    api: httpx.Client = world["api"]
    headers = world["tokens"][role]
    listed = {
        c["id"]
        for c in api.get("/api/v1/customers", params={"page_size": 200}, headers=headers).json()["items"]
    }
    _, reaches_other, hidden = ROLES[role]
    assert world["records"]["own"] in listed
    assert (world["records"]["other"] in listed) == reaches_other
    if "financial" in hidden:
        assert all(
            c["deal_amount_12m"] is None
            for c in api.get("/api/v1/customers", headers=headers).json()["items"]
        )


@pytest.mark.parametrize("role", list(ROLES))
def test_tags_rules_and_segments_by_role(world: dict[str, Any], role: str) -> None:
    """Creating tags, rules and segments is a permission of the role (real tokens, seeded roles)."""
    api: httpx.Client = world["api"]
    headers = world["tokens"][role]
    permissions = ROLES[role][0].split()

    def allowed(permission: str) -> int:
        return 201 if "*" in permissions or permission in permissions else 403

    tag = api.post("/api/v1/tags", json={"name": f"矩阵-{role}"}, headers=headers)
    assert tag.status_code == allowed("tag:write"), tag.text
    segment = api.post(
        "/api/v1/segments",
        json={"name": f"矩阵-{role}", "condition": {"field": "status", "any_of": ["deal"]}},
        headers=headers,
    )
    assert segment.status_code == allowed("segment:write"), segment.text
    preview = api.post(
        "/api/v1/segments/preview",
        json={"condition": {"field": "stage", "any_of": ["lead"]}},
        headers=headers,
    )
    assert preview.status_code == (200 if allowed("segment:read") == 201 else 403), preview.text
    rules = api.get("/api/v1/tag-rules", headers=headers)
    assert rules.status_code == (200 if allowed("tag:read") == 201 else 403)


# -- every RPC on its own port ------------------------------------------------------------------

_SERVICES = {
    "auth": (auth_pb2, "AuthService", AUTH_PERMISSIONS),
    "profile": (profile_pb2, "ProfileService", PROFILE_PERMISSIONS),
    "search": (search_pb2, "SearchService", SEARCH_PERMISSIONS),
    "tagging": (tagging_pb2, "TaggingService", TAGGING_PERMISSIONS),
    "analytics": (analytics_pb2, "AnalyticsService", ANALYTICS_PERMISSIONS),
}
CALLERS = [*ROLES, "partner"]


def _granted(world: dict[str, Any], caller: str) -> list[str]:
    """The permissions the caller's access token really carries (the roles as seeded)."""
    token = world["tokens"][caller]["Authorization"].split()[1]
    return list(jwt.decode(token, options={"verify_signature": False})["permissions"])


def _holds(granted: list[str], permission: str) -> bool:
    resource = permission.partition(":")[0]
    return any(p in ("*", permission, f"{resource}:*") for p in granted)


def _refusals() -> list[tuple[str, str, str]]:
    """(service, RPC, permission) for every RPC that needs a permission."""
    return [
        (service, method.rsplit("/", 1)[1], permission)
        for service, (_, _, table) in _SERVICES.items()
        for method, permission in table.items()
        if permission not in (rpc_permissions.PUBLIC, rpc_permissions.ANY_CALLER)
    ]


def test_every_rpc_declares_a_permission() -> None:
    for module, name, table in _SERVICES.values():
        rpcs = {m.name for m in module.DESCRIPTOR.services_by_name[name].methods}
        assert {m.rsplit("/", 1)[1] for m in table} == rpcs


@pytest.mark.parametrize("caller", CALLERS)
def test_rpcs_refuse_callers_without_their_permission(world: dict[str, Any], caller: str) -> None:
    """Each RPC whose permission the caller lacks answers PERMISSION_DENIED before it runs, and
    the refusal is in the audit log; with a well-formed request, so only the check can stop it."""
    stack: Stack = world["stack"]
    granted = _granted(world, caller)
    metadata = [("authorization", world["tokens"][caller]["Authorization"])]
    refused = [(svc, rpc, perm) for svc, rpc, perm in _refusals() if not _holds(granted, perm)]
    assert refused or caller == "admin"
    for service, rpc, permission in refused:
        module, name, _ = _SERVICES[service]
        method = module.DESCRIPTOR.services_by_name[name].methods_by_name[rpc]
        request = message_factory.GetMessageClass(method.input_type)()
        with grpc.insecure_channel(getattr(stack, f"{service}_address")) as channel:
            call = channel.unary_unary(
                f"/{module.DESCRIPTOR.package}.{name}/{rpc}",
                request_serializer=type(request).SerializeToString,
                response_deserializer=lambda raw: raw,
            )
            with pytest.raises(grpc.RpcError) as caught:
                call(request, metadata=metadata, timeout=10)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED, (service, rpc)
        assert permission in (caught.value.details() or ""), (service, rpc)


def test_a_user_token_cannot_change_a_customer_through_the_service_port(world: dict[str, Any]) -> None:
    """Marketing may read customers, not change or delete them: not through the gateway, and not
    by calling the profile service's port directly with the same access token."""
    api: httpx.Client = world["api"]
    stack: Stack = world["stack"]
    customer_id = world["records"]["other"]
    before = api.get(f"/api/v1/customers/{customer_id}", headers=world["tokens"]["admin"]).json()
    metadata = [("authorization", world["tokens"]["marketing"]["Authorization"])]
    with grpc.insecure_channel(stack.profile_address) as channel:
        stub = profile_pb2_grpc.ProfileServiceStub(channel)
        assert (
            stub.GetCustomer(
                profile_pb2.GetCustomerRequest(customer_id=customer_id), metadata=metadata, timeout=10
            ).customer.id
            == customer_id
        )
        attempts = [
            lambda: stub.UpdateCustomer(
                profile_pb2.UpdateCustomerRequest(
                    customer_id=customer_id,
                    expected_version=int(before["version"]),
                    customer=profile_pb2.Customer(stage="churned"),
                    update_mask={"paths": ["stage"]},
                ),
                metadata=metadata,
                timeout=10,
            ),
            lambda: stub.DeleteCustomer(
                profile_pb2.DeleteCustomerRequest(
                    customer_id=customer_id, expected_version=int(before["version"])
                ),
                metadata=metadata,
                timeout=10,
            ),
        ]
        for attempt in attempts:
            with pytest.raises(grpc.RpcError) as caught:
                attempt()
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    after = api.get(f"/api/v1/customers/{customer_id}", headers=world["tokens"]["admin"]).json()
    assert (after["version"], after["stage"], after.get("deleted_at")) == (
        before["version"],
        before["stage"],
        before.get("deleted_at"),
    )


# -- the leaks an outside review reproduced -----------------------------------------------------


def test_a_rule_dry_run_counts_only_the_callers_customers(world: dict[str, Any]) -> None:
    """A rep's dry run over another rep's customers matches nothing (it once counted them all)."""
    api: httpx.Client = world["api"]
    tag = api.post("/api/v1/tags", json={"name": "干跑范围"}, headers=world["tokens"]["admin"]).json()
    body = {"tag_id": tag["id"], "condition": {"field": "owner_id", "any_of": ["S9999"]}}
    as_rep = api.post("/api/v1/tag-rules/dry-run", json=body, headers=world["tokens"]["sales"])
    assert as_rep.status_code == 200, as_rep.text
    assert (as_rep.json()["matching"], as_rep.json()["sample_customer_ids"]) == (0, [])
    as_admin = api.post("/api/v1/tag-rules/dry-run", json=body, headers=world["tokens"]["admin"]).json()
    assert world["records"]["other"] in as_admin["sample_customer_ids"]
    # Nor may a dry run count over a field the caller may not see.
    amounts = {"tag_id": tag["id"], "condition": {"field": "deal_amount_12m", "range": {"gte": "1"}}}
    refused = api.post("/api/v1/tag-rules/dry-run", json=amounts, headers=world["tokens"]["marketing"])
    assert refused.status_code == 403, refused.text


def _token_values(token: str) -> str:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("latin-1")


def test_hidden_amounts_are_not_a_sort_key_nor_in_page_tokens(world: dict[str, Any]) -> None:
    api: httpx.Client = world["api"]
    tokens = world["tokens"]
    for extra in range(2):  # enough customers for a second page
        api.post(
            "/api/v1/customers", json=customer_data(name=f"排序测试{extra}有限公司"), headers=tokens["admin"]
        )
    by_amount = {"order_by": "-deal_amount_12m", "page_size": 1}
    refused = api.get("/api/v1/customers", params=by_amount, headers=tokens["marketing"])
    assert refused.status_code == 403, refused.text
    for field, value in (("tier", "A"),):
        filtered = api.get("/api/v1/customers", params={field: value}, headers=tokens["marketing"])
        assert filtered.status_code == 403, filtered.text
    page = api.get("/api/v1/customers", params=by_amount, headers=tokens["admin"]).json()
    token = page["next_page_token"]
    assert token and page["items"][0]["id"] not in _token_values(token)  # sealed, not encoded
    with pytest.raises(ValueError):
        json.loads(_token_values(token))
    # The token is the admin's, for this query: nobody else's, for no other query.
    stolen = api.get(
        "/api/v1/customers", params={"page_size": 1, "page_token": token}, headers=tokens["manager"]
    )
    assert stolen.status_code == 422, stolen.text
    other_query = api.get(
        "/api/v1/customers", params={"order_by": "-created_at", "page_token": token}, headers=tokens["admin"]
    )
    assert other_query.status_code == 422
    forged = base64.urlsafe_b64encode(json.dumps([485300739, "C20240501001"]).encode()).decode()
    for bad in (forged, token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "x" * 5000):
        reply = api.get("/api/v1/customers", params={**by_amount, "page_token": bad}, headers=tokens["admin"])
        assert reply.status_code == 422 and reply.headers["content-type"] == "application/problem+json"
    follow = api.get("/api/v1/customers", params={**by_amount, "page_token": token}, headers=tokens["admin"])
    assert follow.status_code == 200 and follow.json()["items"][0]["id"] != page["items"][0]["id"]


@pytest.mark.parametrize("role", ["service", "marketing", "partner"])
def test_financial_groups_leave_every_shape(world: dict[str, Any], role: str) -> None:
    """Roles without financial data see no tier, amounts or contracts, in any shape; a partner
    system sees no field group its client was not granted (`fields:<group>` scopes)."""
    api: httpx.Client = world["api"]
    headers = world["tokens"][role]
    customer_id = world["records"]["other"]
    api.post(
        f"/api/v1/customers/{customer_id}/contracts",
        json={"number": f"HT-SHAPE-{role}", "title": "年度框架", "amount": "88000.00"},
        headers=world["tokens"]["admin"],
    )
    seen = api.get(f"/api/v1/customers/{customer_id}", headers=headers).json()
    assert seen["tier"] is None and seen["deal_amount_12m"] is None and seen["credit_limit"] is None
    view = api.get(f"/api/v1/customers/{customer_id}/view", headers=headers).json()
    assert view["contracts"] == [] and view["customer"]["tier"] is None
    listed = api.get("/api/v1/customers", headers=headers).json()["items"]
    assert all(c["tier"] is None and c["deal_amount_12m"] is None for c in listed)
    assert api.get(f"/api/v1/customers/{customer_id}/contracts", headers=headers).status_code == 403
    if role == "partner":
        assert seen["contacts"][0]["phones"] == [] and seen["contacts"][0]["name"]
    found = api.post("/api/v1/search/customers", json={"query": ""}, headers=headers).json()["items"]
    assert found and all(not h.get("tier") and not h.get("deal_amount_12m") for h in found)
    faceted = api.post("/api/v1/search/customers", json={"query": "", "facets": ["tier"]}, headers=headers)
    assert faceted.status_code == 403


def test_out_of_scope_probes_are_audited(world: dict[str, Any]) -> None:
    """A rep probing another rep's customer gets 404, as for one that does not exist, and the
    security team sees the probe, under the rep's name, in the audit log."""
    api: httpx.Client = world["api"]
    other = world["records"]["other"]
    for customer_id in (other, "C20990101999"):
        assert (
            api.get(f"/api/v1/customers/{customer_id}", headers=world["tokens"]["sales"]).status_code == 404
        )
    rep = jwt.decode(
        world["tokens"]["sales"]["Authorization"].split()[1], options={"verify_signature": False}
    )

    def probes(target: str) -> list[dict[str, Any]]:
        params = {"actor": rep["sub"], "target": target, "outcome": "denied"}
        return api.get("/api/v1/audit/events", params=params, headers=world["tokens"]["admin"]).json()[
            "items"
        ]

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (
        probes(f"customer:{other}") and probes("customer:C20990101999")
    ):
        time.sleep(0.2)
    seen = probes(f"customer:{other}")
    assert seen and seen[0]["action"] == "rpc.get_customer", seen
    assert probes("customer:C20990101999")


def test_tag_counts_count_only_reachable_customers(world: dict[str, Any]) -> None:
    api: httpx.Client = world["api"]
    admin, rep = world["tokens"]["admin"], world["tokens"]["sales"]
    tag = api.post("/api/v1/tags", json={"name": "计数范围"}, headers=admin).json()
    for customer_id in world["records"].values():
        assigned = api.post(
            f"/api/v1/customers/{customer_id}/tags", json={"tag_ids": [tag["id"]]}, headers=admin
        )
        assert assigned.status_code == 200, assigned.text

    def count(headers: dict[str, str]) -> int:
        items = api.get("/api/v1/tags", headers=headers).json()["items"]
        return next(t["customer_count"] for t in items if t["id"] == tag["id"])

    assert (count(admin), count(rep)) == (2, 1)


# -- every REST operation ----------------------------------------------------------------------

# Served without a permission, on purpose: signing in and exchanging tokens, probes, metrics, and
# the pages problem types resolve to.
_OPEN_ROUTES = {"/api/v1/auth/", "/api/v1/oauth/", "/healthz", "/readyz", "/metrics", "/problems"}


def _route_permission(dependant: Any) -> str | None:
    for dependency in dependant.dependencies:
        permission = getattr(dependency.call, "permission", None) or _route_permission(dependency)
        if permission:
            return str(permission)
    return None


def _rest_operations() -> list[tuple[str, str, str]]:
    """(method, path, permission) of every gateway route; each declares one unless it is open."""
    from fastapi.routing import APIRoute

    from services.gateway.routes import (
        admin,
        audit,
        auth,
        customers,
        identities,
        ops,
        privacy,
        related,
        search,
        security,
        segments,
        tags,
    )

    operations = []
    for module in (
        admin,
        audit,
        auth,
        customers,
        identities,
        ops,
        privacy,
        related,
        search,
        security,
        segments,
        tags,
    ):
        for route in module.router.routes:
            assert isinstance(route, APIRoute)
            permission = _route_permission(route.dependant)
            if permission is None:
                assert any(route.path.startswith(p) for p in _OPEN_ROUTES), (
                    f"{route.path} declares no permission"
                )
                continue
            operations += [(method, route.path, permission) for method in sorted(route.methods)]
    return operations


@pytest.mark.parametrize("caller", CALLERS)
def test_rest_operations_refuse_callers_without_their_permission(world: dict[str, Any], caller: str) -> None:
    """Every route whose permission the caller lacks answers 403 problem+json, whatever the body."""
    api: httpx.Client = world["api"]
    granted = _granted(world, caller)
    refused = [(m, p, perm) for m, p, perm in _rest_operations() if not _holds(granted, perm)]
    assert refused or caller == "admin"
    for method, path, permission in refused:
        url = path
        for name in ("customer_id", "id"):
            url = url.replace("{" + name + "}", world["records"]["own"])
        while "{" in url:
            start = url.index("{")
            url = url[:start] + "x1" + url[url.index("}", start) + 1 :]
        reply = api.request(
            method,
            url,
            json={} if method in ("POST", "PATCH", "PUT") else None,
            headers=world["tokens"][caller],
        )
        assert reply.status_code == 403, (caller, method, path, reply.status_code, reply.text[:200])
        assert permission in reply.json()["detail"], (method, path)
