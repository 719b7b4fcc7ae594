"""Every role against every kind of endpoint, on a record it owns and one it does not: allowed,
refused (403) or not found (404, so existence does not leak) — with real tokens."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from scripts.stack import Stack
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
        yield {"api": api, "tokens": tokens, "records": {"own": own["id"], "other": other["id"]}}


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
        json={"name": f"矩阵-{role}", "condition": {"field": "tier", "any_of": ["A"]}},
        headers=headers,
    )
    assert segment.status_code == allowed("segment:write"), segment.text
    preview = api.post(
        "/api/v1/segments/preview", json={"condition": {"field": "tier", "any_of": ["C"]}}, headers=headers
    )
    assert preview.status_code == (200 if allowed("segment:read") == 201 else 403), preview.text
    rules = api.get("/api/v1/tag-rules", headers=headers)
    assert rules.status_code == (200 if allowed("tag:read") == 201 else 403)
