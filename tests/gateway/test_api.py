"""The REST API end to end: gateway and profile service as real processes, over HTTP."""

from typing import Any

import httpx
import pytest

from tests.conftest import customer_data

PROBLEM = "application/problem+json"


def create(api: httpx.Client, **overrides: Any) -> dict[str, Any]:
    reply = api.post("/api/v1/customers", json=customer_data(**overrides))
    assert reply.status_code == 201, reply.text
    return reply.json()


def history_length(api: httpx.Client, customer_id: str) -> int:
    return len(api.get(f"/api/v1/customers/{customer_id}/history").json()["items"])


def test_create_read_and_locate(api: httpx.Client) -> None:
    reply = api.post("/api/v1/customers", json=customer_data(), headers={"X-Request-ID": "req-123"})
    assert reply.status_code == 201
    body = reply.json()
    assert reply.headers["location"] == f"/api/v1/customers/{body['id']}"
    assert reply.headers["etag"] == '"1"'
    assert reply.headers["x-request-id"] == "req-123"
    assert body["id"].startswith("C") and len(body["id"]) == 12
    assert body["tier"] == "C" and body["deal_amount_12m"] == "0.00" and body["owner_id"] == "dev-admin"
    fetched = api.get(reply.headers["location"])
    assert fetched.status_code == 200 and fetched.json() == body


def test_patch_needs_the_current_version(api: httpx.Client) -> None:
    customer = create(api)
    url = f"/api/v1/customers/{customer['id']}"
    missing = api.patch(url, json={"stage": "intent"})
    assert missing.status_code == 428 and missing.headers["content-type"] == PROBLEM
    ok = api.patch(
        url, json={"stage": "intent", "address": "上海市浦东新区张江路 88 号"}, headers={"If-Match": '"1"'}
    )
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    assert ok.json()["stage"] == "intent"
    stale = api.patch(url, json={"stage": "proposal"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412 and stale.json()["type"] == "/problems/version-mismatch"
    cleared = api.patch(url, json={"address": None}, headers={"If-Match": '"2"'})
    assert cleared.status_code == 200 and cleared.json()["address"] is None
    assert api.get(url).json()["stage"] == "intent"


def test_logging_activity_does_not_make_an_open_edit_stale(api: httpx.Client) -> None:
    customer = create(api)
    base = f"/api/v1/customers/{customer['id']}"
    etag = api.get(base).headers["etag"]
    logged = api.post(
        f"{base}/interactions",
        json={"channel": "phone", "occurred_at": "2024-05-10T15:00:00+08:00", "summary": "电话回访"},
    )
    assert logged.status_code == 201
    changed = api.patch(base, json={"stage": "proposal"}, headers={"If-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["last_follow_up_at"] == "2024-05-10T07:00:00Z"


def test_history_and_as_of(api: httpx.Client) -> None:
    customer = create(api)
    url = f"/api/v1/customers/{customer['id']}"
    api.patch(url, json={"name": "明辉机械集团"}, headers={"If-Match": '"1"'})
    items = api.get(f"{url}/history").json()["items"]
    assert [i["action"] for i in items] == ["customer.updated", "customer.created"]
    change = items[0]["changes"]
    assert change == [{"field": "name", "old": "上海明辉精密机械有限公司", "new": "明辉机械集团"}]
    assert items[0]["actor"] == "dev-admin" and len(items[0]["trace_id"]) == 32
    then = api.get(url, params={"as_of": customer["created_at"]}).json()
    assert then["name"] == "上海明辉精密机械有限公司"
    naive = api.get(url, params={"as_of": "2024-05-01T00:00:00"})
    assert naive.status_code == 422


def test_delete_and_restore(api: httpx.Client) -> None:
    customer = create(api)
    url = f"/api/v1/customers/{customer['id']}"
    assert api.delete(url, headers={"If-Match": '"1"'}).status_code == 204
    assert api.get(url).status_code == 404
    listed = api.get("/api/v1/customers", params={"page_size": 200}).json()["items"]
    assert customer["id"] not in {c["id"] for c in listed}
    restored = api.post(f"{url}/restore")
    assert restored.status_code == 200 and restored.json()["version"] == 3
    assert api.post(f"{url}/restore").status_code == 409


def test_related_records_and_the_360_view(api: httpx.Client) -> None:
    customer = create(api)
    base = f"/api/v1/customers/{customer['id']}"
    assert (
        api.post(
            f"{base}/contacts", json={"name": "周杰", "phones": ["13598765432"], "is_primary": True}
        ).status_code
        == 201
    )
    assert (
        api.post(
            f"{base}/interactions",
            json={
                "channel": "visit",
                "type": "follow_up",
                "occurred_at": "2024-05-10T15:00:00+08:00",
                "summary": "上门拜访，演示新机型",
            },
        ).status_code
        == 201
    )
    order = api.post(
        f"{base}/orders",
        json={
            "product": "数控车床 CK6150",
            "quantity": 2,
            "amount": "560000.00",
            "ordered_at": "2026-01-15T10:00:00+08:00",
            "external_id": f"ERP-{customer['id']}",
        },
    )
    assert order.status_code == 201 and order.json()["amount"] == "560000.00"
    assert (
        api.post(
            f"{base}/contracts",
            json={
                "number": f"HT-{customer['id']}",
                "title": "年度设备采购合同",
                "amount": "560000.00",
                "starts_on": "2026-01-01",
                "ends_on": "2026-12-31",
                "status": "active",
            },
        ).status_code
        == 201
    )
    assert (
        api.post(
            f"{base}/service-records",
            json={"category": "complaint", "subject": "设备异响", "satisfaction": 3},
        ).status_code
        == 201
    )
    view = api.get(f"{base}/view").json()
    assert view["customer"]["tier"] == "A"  # 560,000 CNY in the last 12 months
    assert [c["name"] for c in view["customer"]["contacts"] if c["is_primary"]] == ["周杰"]
    assert view["order_count"] == 1 and view["lifetime_order_amount"] == "560000.00"
    assert view["interaction_count"] == 1 and view["open_service_records"] == 1
    assert len(view["contracts"]) == 1
    for kind, count in (
        ("contacts", 2),
        ("interactions", 1),
        ("orders", 1),
        ("contracts", 1),
        ("service-records", 1),
    ):
        assert len(api.get(f"{base}/{kind}").json()["items"]) == count, kind
    actions = [i["action"] for i in api.get(f"{base}/history").json()["items"]]
    assert actions[:5] == [
        "service_record.created",
        "contract.created",
        "order.created",
        "interaction.created",
        "contact.created",
    ]


def test_list_filters_and_cursor_pages(api: httpx.Client) -> None:
    marker = "翠湖列表测试"
    made = [
        create(api, name=f"{marker}{i}", region_code="440305" if i % 2 else "110105")["id"] for i in range(5)
    ]
    seen, token = [], None
    while True:
        params: dict[str, Any] = {"q": marker, "page_size": 2, "order_by": "created_at"}
        if token:
            params["page_token"] = token
        page = api.get("/api/v1/customers", params=params).json()
        seen += [c["id"] for c in page["items"]]
        token = page["next_page_token"]
        if not token:
            break
    assert seen == made
    shenzhen = api.get("/api/v1/customers", params={"q": marker, "region_code": "440300"}).json()
    assert {c["id"] for c in shenzhen["items"]} == {made[1], made[3]}


def test_a_rep_sees_only_own_customers_and_others_are_not_found(api: httpx.Client) -> None:
    rep = {"X-Dev-Caller": "S2001", "X-Dev-Roles": "sales", "X-Dev-Scope": "own"}
    other = {"X-Dev-Caller": "S2002", "X-Dev-Roles": "sales", "X-Dev-Scope": "own"}
    mine = api.post("/api/v1/customers", json=customer_data(), headers=rep).json()
    assert mine["owner_id"] == "S2001"
    assert api.get(f"/api/v1/customers/{mine['id']}", headers=other).status_code == 404
    listed = api.get("/api/v1/customers", headers=other, params={"page_size": 200}).json()["items"]
    assert all(c["owner_id"] == "S2002" for c in listed)
    marketing = {"X-Dev-Caller": "M1", "X-Dev-Roles": "marketing", "X-Dev-Scope": "all"}
    assert api.get(f"/api/v1/customers/{mine['id']}", headers=marketing).status_code == 200
    denied = api.post("/api/v1/customers", json=customer_data(), headers=marketing)
    assert denied.status_code == 403 and denied.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    ("body", "status", "fields"),
    [
        (b"{not json", 400, None),
        (b'{"name": 5, "industry_code": "3411", "contacts": []}', 422, {"name", "contacts"}),
        (
            b'{"name": "x", "industry_code": "3411", "contacts": [{"name": "a", "phones": ["13812345678"]}],'
            b' "colour": "red"}',
            422,
            {"colour"},
        ),
        (
            b'{"name": "x", "industry_code": "9999", "region_code": "999999",'
            b' "contacts": [{"name": "a", "phones": ["12345"]}]}',
            422,
            {"industry_code", "region_code", "contacts.0.phones.0"},
        ),
        (
            b'{"name": "x", "industry_code": "3411", "kind": "individual", "birthday": "2999-01-01",'
            b' "contacts": [{"name": "a", "phones": ["13812345678"]}]}',
            422,
            {"birthday"},
        ),
        (b"[]", 422, None),
        (
            b'{"name": "x\\u0000y", "industry_code": "3411", "contacts": [{"name": "a\\u0001",'
            b' "phones": ["13812345678"]}]}',
            422,
            {"name", "contacts.0.name"},
        ),
    ],
)
def test_bad_input_gets_a_specific_problem_and_writes_nothing(
    api: httpx.Client, body: bytes, status: int, fields: set[str] | None
) -> None:
    before = api.get("/api/v1/customers", params={"page_size": 200}).json()["items"]
    reply = api.post("/api/v1/customers", content=body, headers={"content-type": "application/json"})
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == PROBLEM
    problem = reply.json()
    assert problem["status"] == status and problem["request_id"] == reply.headers["x-request-id"]
    if fields:
        assert fields <= {e["field"] for e in problem["errors"]}, problem
    after = api.get("/api/v1/customers", params={"page_size": 200}).json()["items"]
    assert len(after) == len(before)


def test_oversized_bodies_are_refused(api: httpx.Client) -> None:
    big = customer_data(notes="长" * 600_000)
    reply = api.post("/api/v1/customers", json=big)
    assert reply.status_code == 413 and reply.headers["content-type"] == PROBLEM

    def chunks() -> Any:
        for _ in range(40):
            yield b" " * 65536

    streamed = api.post("/api/v1/customers", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_bad_patches_change_nothing(api: httpx.Client) -> None:
    customer = create(api)
    url = f"/api/v1/customers/{customer['id']}"
    v1 = {"If-Match": '"1"'}
    cases = [
        ({"tier": "A"}, 422),
        ({"industry_code": "XX"}, 422),
        ({"name": None}, 422),
        ({"status": "happy"}, 422),
        ({}, 422),
    ]
    for patch, status in cases:
        reply = api.patch(url, json=patch, headers=v1)
        assert reply.status_code == status, (patch, reply.text)
    assert api.patch(url, json={"stage": "intent"}, headers={"If-Match": "abc"}).status_code == 412
    assert api.get(url).json()["version"] == 1
    assert history_length(api, customer["id"]) == 1


def test_unknown_and_malformed_ids(api: httpx.Client) -> None:
    assert api.get("/api/v1/customers/C20990101999").status_code == 404
    assert api.get("/api/v1/customers/not-an-id").status_code == 422
    assert (
        api.post(
            "/api/v1/customers/C20990101999/orders",
            json={"product": "x", "amount": "1.00", "ordered_at": "2024-05-01T00:00:00Z"},
        ).status_code
        == 404
    )
    assert api.get("/api/v1/customers", params={"page_token": "garbage"}).status_code == 422
    assert api.get("/api/v1/customers", params={"page_size": 1000}).status_code == 422
    assert api.get("/api/v1/customers", params={"order_by": "password"}).status_code == 422


def test_custom_fields_through_the_api(api: httpx.Client) -> None:
    key = "erp_code"
    reply = api.post("/api/v1/custom-fields", json={"key": key, "label": "ERP 编码", "type": "string"})
    assert reply.status_code in (201, 409)  # module-scoped stack: may exist from a rerun
    assert key in {f["key"] for f in api.get("/api/v1/custom-fields").json()["items"]}
    made = create(api, custom_fields={key: "E-1"})
    assert made["custom_fields"] == {key: "E-1"}
    bad = api.post("/api/v1/customers", json=customer_data(custom_fields={key: 5}))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == f"custom_fields.{key}"


def test_ops_endpoints(api: httpx.Client) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    checks = {"profile": "ok", "search": "ok", "auth": "ok", "tagging": "ok"}
    assert api.get("/readyz").json()["checks"] == checks
    api.get("/api/v1/customers")
    metrics = api.get("/metrics").text
    assert 'crm_gateway_http_requests_total{method="GET",route="/api/v1/customers",status="200"}' in metrics
    schema = api.get("/openapi.json").json()
    create_op = schema["paths"]["/api/v1/customers"]["post"]
    assert create_op["operationId"] == "createCustomer"
    assert "422" in create_op["responses"]


def test_financial_fields(api: httpx.Client) -> None:
    made = create(api, credit_limit="200000.00", outstanding_amount="12500.50", loyalty_points=300)
    assert (made["credit_limit"], made["outstanding_amount"], made["loyalty_points"]) == (
        "200000.00",
        "12500.50",
        300,
    )
    url = f"/api/v1/customers/{made['id']}"
    changed = api.patch(url, json={"outstanding_amount": "0.00"}, headers={"If-Match": '"1"'}).json()
    assert changed["outstanding_amount"] == "0.00" and changed["credit_limit"] == "200000.00"
    bad = api.patch(url, json={"credit_limit": "-1"}, headers={"If-Match": '"2"'})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "credit_limit"
    history = api.get(f"{url}/history").json()["items"][0]["changes"]
    assert history == [{"field": "outstanding_amount", "old": "12500.50", "new": "0.00"}]


def test_financial_data_stays_hidden_from_roles_without_it(api: httpx.Client) -> None:
    made = create(api, credit_limit="90000.00")
    agent = {"X-Dev-Caller": "V1", "X-Dev-Roles": "service", "X-Dev-Scope": "all"}
    url = f"/api/v1/customers/{made['id']}"
    seen = api.get(url, headers=agent).json()
    assert seen["credit_limit"] is None and seen["deal_amount_12m"] is None
    assert seen["name"] == made["name"] and seen["contacts"][0]["phones"]
    assert api.get(f"{url}/contracts", headers=agent).status_code == 403
    assert api.get(f"{url}/view", headers=agent).json()["contracts"] == []
