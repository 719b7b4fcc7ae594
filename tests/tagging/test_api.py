"""Tags, rules and segments as users reach them: real processes (auth, profile, tagging, search,
gateway) over HTTP, with the development identity narrowing roles and scope per request."""

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.stack import Stack
from tests.conftest import customer_data
from tests.waiting import eventually

ADMIN = {"X-Dev-Caller": "u-admin", "X-Dev-Roles": "admin", "X-Dev-Scope": "all"}
REP = {"X-Dev-Caller": "S1001", "X-Dev-Roles": "sales", "X-Dev-Scope": "own"}
MARKETER = {"X-Dev-Caller": "M1001", "X-Dev-Roles": "marketing", "X-Dev-Scope": "org"}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(data_dir=Path(tmp_path_factory.mktemp("tagging-stack"))) as stack:
        yield stack


@pytest.fixture
def api(running: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.gateway_url, timeout=10) as client:
        yield client


def ok(reply: httpx.Response, status: int = 200) -> Any:
    assert reply.status_code == status, reply.text
    return reply.json() if reply.content else None


def new_customer(api: httpx.Client, name: str, owner: str = "S1001", **extra: Any) -> str:
    body = customer_data(name=name, owner_id=owner, **extra)
    return str(ok(api.post("/api/v1/customers", json=body, headers=ADMIN), 201)["id"])


def hours_ago(hours: int) -> str:
    """An RFC 3339 time some hours ago."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 3600 * hours))


def known_to_tagging(api: httpx.Client, customer_id: str) -> bool:
    """Whether the tagging read model has the customer (it follows the profile feed)."""
    return api.get(f"/api/v1/customers/{customer_id}/tags", headers=ADMIN).status_code == 200


def search_ids(api: httpx.Client, cond: dict[str, Any]) -> set[str]:
    reply = ok(api.post("/api/v1/search/customers", json={"filter": cond, "page_size": 100}, headers=ADMIN))
    return {h["id"] for h in reply["items"]}


def test_tags_reach_search_and_all_any_none_conditions_are_exact(api: httpx.Client) -> None:
    gold = ok(
        api.post("/api/v1/tags", json={"name": "金牌", "group": "价值", "color": "#faad14"}, headers=ADMIN),
        201,
    )
    trial = ok(api.post("/api/v1/tags", json={"name": "试用", "group": "兴趣"}, headers=ADMIN), 201)
    both, only_gold, none = (new_customer(api, f"标签搜索{n}有限公司") for n in ("甲", "乙", "丙"))
    assert eventually(lambda: all(known_to_tagging(api, c) for c in (both, only_gold, none)))
    tagged = ok(
        api.post(f"/api/v1/customers/{both}/tags", json={"tag_ids": [gold["id"], trial["id"]]}, headers=ADMIN)
    )
    assert sorted(t["name"] for t in tagged["tags"]) == ["试用", "金牌"]
    assert tagged["tags"][0]["assigned_by"] == "u-admin" and tagged["tags"][0]["source"] == "manual"
    ok(
        api.post(
            "/api/v1/tags/bulk",
            json={"action": "assign", "tag_ids": [gold["id"]], "customer_ids": [only_gold]},
            headers=ADMIN,
        )
    )
    started = time.monotonic()
    assert eventually(lambda: search_ids(api, {"field": "tags", "all_of": ["金牌", "试用"]}) == {both}, 5)
    assert time.monotonic() - started < 3
    assert search_ids(api, {"field": "tags", "any_of": ["金牌"]}) >= {both, only_gold}
    assert both not in search_ids(api, {"field": "tags", "none_of": ["试用"]})
    assert {only_gold, none} <= search_ids(api, {"field": "tags", "none_of": ["试用"]})
    # Removing a tag reaches search too; the history keeps both steps.
    ok(api.delete(f"/api/v1/customers/{both}/tags", params={"tag_id": trial["id"]}, headers=ADMIN))
    assert eventually(lambda: both in search_ids(api, {"field": "tags", "none_of": ["试用"]}), 5)
    history = ok(api.get(f"/api/v1/customers/{both}/tags/history", headers=ADMIN))["items"]
    assert [(h["tag_name"], h["action"]) for h in history] == [
        ("试用", "removed"),
        ("试用", "assigned"),
        ("金牌", "assigned"),
    ]
    # A rename keeps the assignments and reaches search.
    ok(api.patch(f"/api/v1/tags/{gold['id']}", json={"name": "金牌客户"}, headers=ADMIN))
    assert eventually(
        lambda: search_ids(api, {"field": "tags", "any_of": ["金牌客户"]}) >= {both, only_gold}, 5
    )


def test_rules_tag_on_data_changes_after_a_dry_run(api: httpx.Client) -> None:
    hot = ok(api.post("/api/v1/tags", json={"name": "近期活跃", "system": True}, headers=ADMIN), 201)
    customer = new_customer(api, "规则测试科技有限公司")
    assert eventually(lambda: known_to_tagging(api, customer))
    cond = {
        "all": [
            {"field": "status", "any_of": ["potential"]},
            {
                "behavior": {
                    "source": "interactions",
                    "days": 30,
                    "measure": "count",
                    "channels": ["web"],
                    "range": {"gte": "2"},
                }
            },
        ]
    }
    dry = ok(
        api.post("/api/v1/tag-rules/dry-run", json={"tag_id": hot["id"], "condition": cond}, headers=ADMIN)
    )
    assert dry["would_assign"] == dry["matching"] and customer not in dry["sample_customer_ids"]
    rule = ok(
        api.post(
            "/api/v1/tag-rules",
            json={"name": "30 天 2 次网页访问", "tag_id": hot["id"], "condition": cond, "enabled": True},
            headers=ADMIN,
        ),
        201,
    )
    assert rule["condition"] == cond
    # System tags are the rules' to give.
    refused = api.post(f"/api/v1/customers/{customer}/tags", json={"tag_ids": [hot["id"]]}, headers=ADMIN)
    assert refused.status_code == 409 and refused.headers["content-type"].startswith(
        "application/problem+json"
    )
    for n in range(2):
        ok(
            api.post(
                f"/api/v1/customers/{customer}/interactions",
                headers=ADMIN,
                json={
                    "channel": "web",
                    "type": "other",
                    "occurred_at": hours_ago(n + 1),
                    "summary": f"浏览产品页 {n}",
                },
            ),
            201,
        )

    def names() -> list[str]:
        return [t["name"] for t in ok(api.get(f"/api/v1/customers/{customer}/tags", headers=ADMIN))["tags"]]

    assert eventually(lambda: names() == ["近期活跃"])
    assert (
        ok(api.get(f"/api/v1/customers/{customer}/tags", headers=ADMIN))["tags"][0]["source"]
        == f"rule:{rule['id']}"
    )
    # Becoming a deal customer makes the condition false: the rule takes its tag off.
    current = api.get(f"/api/v1/customers/{customer}", headers=ADMIN)
    ok(
        api.patch(
            f"/api/v1/customers/{customer}",
            json={"status": "deal"},
            headers={**ADMIN, "If-Match": current.headers["etag"]},
        )
    )
    assert eventually(lambda: names() == [])


def test_segments_preview_members_events_export_and_scope(api: httpx.Client) -> None:
    mine = new_customer(api, "分群甲有限公司", owner="S1001", region_code="330106")
    theirs = new_customer(api, "分群乙有限公司", owner="S1002", region_code="330106")
    assert eventually(lambda: known_to_tagging(api, mine) and known_to_tagging(api, theirs))
    cond = {"all": [{"field": "region_code", "any_of": ["330000"]}, {"field": "stage", "any_of": ["lead"]}]}
    preview = ok(
        api.post("/api/v1/segments/preview", json={"condition": cond, "sample_size": 50}, headers=ADMIN)
    )
    assert {mine, theirs} <= {m["customer_id"] for m in preview["sample"]} and preview["count"] >= 2
    rep_preview = ok(
        api.post("/api/v1/segments/preview", json={"condition": cond, "sample_size": 50}, headers=REP)
    )
    assert mine in {m["customer_id"] for m in rep_preview["sample"]}
    assert theirs not in {m["customer_id"] for m in rep_preview["sample"]}
    segment = ok(
        api.post("/api/v1/segments", json={"name": "浙江线索", "condition": cond}, headers=ADMIN), 201
    )
    assert segment["condition"] == cond and segment["member_count"] == preview["count"]
    members = ok(api.get(f"/api/v1/segments/{segment['id']}/members", headers=ADMIN))
    assert {mine, theirs} <= {m["customer_id"] for m in members["items"]}
    rep_members = ok(api.get(f"/api/v1/segments/{segment['id']}/members", headers=REP))
    assert (
        theirs not in {m["customer_id"] for m in rep_members["items"]}
        and rep_members["total"] < members["total"]
    )
    # A change moves a customer out, with an event.
    head = ok(api.get("/api/v1/segments/events", params={"segment_id": segment["id"]}, headers=ADMIN))[
        "head_position"
    ]
    current = api.get(f"/api/v1/customers/{theirs}", headers=ADMIN)
    ok(
        api.patch(
            f"/api/v1/customers/{theirs}",
            json={"stage": "intent"},
            headers={**ADMIN, "If-Match": current.headers["etag"]},
        )
    )

    def left() -> list[dict[str, Any]]:
        events = ok(api.get("/api/v1/segments/events", params={"after_position": head}, headers=ADMIN))[
            "items"
        ]
        return [e for e in events if e["customer_id"] == theirs and e["segment_id"] == segment["id"]]

    assert [e["kind"] for e in eventually(left)] == ["left"]
    # Export: CSV, financial column left out for a role that may not see it.
    export = f"/api/v1/segments/{segment['id']}/members/export"
    assert api.get(export, headers=ADMIN).status_code == 422  # an export states its purpose
    full = api.get(export, params={"purpose": "customer_service"}, headers=ADMIN)
    assert full.status_code == 200 and full.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(full.text.lstrip("\ufeff"))))
    assert mine in {r["customer_id"] for r in rows} and "deal_amount_12m" in rows[0]
    limited = api.get(export, params={"purpose": "customer_service"}, headers=MARKETER)
    assert limited.status_code == 200
    assert "deal_amount_12m" not in limited.text.splitlines()[0]
    assert api.get(export, params={"purpose": "customer_service"}, headers=REP).status_code == 403
    # A marketing export leaves out members without a marketing consent, until they give one.
    assert mine not in export_ids(api, export, "marketing")
    consent = {"purpose": "marketing", "channel": "web_form", "evidence": "form 7781"}
    ok(api.post(f"/api/v1/customers/{mine}/consents", json=consent, headers=ADMIN), 201)
    assert eventually(lambda: mine in export_ids(api, export, "marketing"))
    assert mine not in export_ids(api, export, "analytics")
    # Bulk tagging by segment reaches only members within the caller's scope.
    tag = ok(api.post("/api/v1/tags", json={"name": "浙江跟进"}, headers=ADMIN), 201)
    bulk = ok(
        api.post(
            "/api/v1/tags/bulk",
            json={"action": "assign", "tag_ids": [tag["id"]], "segment_id": segment["id"]},
            headers=REP,
        )
    )
    assert bulk["customers"] == rep_members["total"]


def test_permissions_bad_input_and_audit(api: httpx.Client) -> None:
    refused = api.post("/api/v1/tags", json={"name": "销售不能建"}, headers=REP)
    assert refused.status_code == 403
    assert (
        api.post(
            "/api/v1/segments",
            json={"name": "x", "condition": {"field": "tier", "any_of": ["A"]}},
            headers=REP,
        ).status_code
        == 403
    )
    before = ok(api.get("/api/v1/tags", headers=ADMIN))["items"]
    bad_colour = api.post("/api/v1/tags", json={"name": "坏颜色", "color": "red"}, headers=ADMIN)
    assert bad_colour.status_code == 422
    ok(api.post("/api/v1/tags", json={"name": "唯一", "group": "价值"}, headers=ADMIN), 201)
    assert api.post("/api/v1/tags", json={"name": "唯一", "group": "价值"}, headers=ADMIN).status_code == 409
    bad_field = api.post(
        "/api/v1/segments",
        json={"name": "坏条件", "condition": {"field": "salary", "any_of": ["1"]}},
        headers=ADMIN,
    )
    assert bad_field.status_code == 422
    assert any("salary" in e["message"] for e in bad_field.json()["errors"])
    two_things = api.post(
        "/api/v1/segments/preview",
        json={"condition": {"field": "tier", "any_of": ["A"], "exists": True}},
        headers=ADMIN,
    )
    assert two_things.status_code == 422
    unknown_customer = api.post(
        "/api/v1/customers/C20000101999/tags",
        json={"tag_ids": [before[0]["id"]] if before else ["x"]},
        headers=ADMIN,
    )
    assert unknown_customer.status_code == 404
    after = ok(api.get("/api/v1/tags", headers=ADMIN))["items"]
    assert {t["name"] for t in after} - {t["name"] for t in before} == {"唯一"}
    assert "坏条件" not in {s["name"] for s in ok(api.get("/api/v1/segments", headers=ADMIN))["items"]}

    def events(**filters: str) -> list[dict[str, Any]]:
        return ok(api.get("/api/v1/audit/events", params={"page_size": 500, **filters}, headers=ADMIN))[
            "items"
        ]

    created = eventually(lambda: events(action="tag.create"))
    assert any(e["details"].get("name") == "唯一" and e["actor"] == "u-admin" for e in created)
    assert events(action="gateway.refused", actor="S1001")


def test_tags_survive_a_search_rebuild_and_a_tagging_outage(running: Stack, api: httpx.Client) -> None:
    tag = ok(api.post("/api/v1/tags", json={"name": "重建保留"}, headers=ADMIN), 201)
    customer = new_customer(api, "重建测试有限公司")
    assert eventually(lambda: known_to_tagging(api, customer))
    ok(api.post(f"/api/v1/customers/{customer}/tags", json={"tag_ids": [tag["id"]]}, headers=ADMIN))
    assert eventually(lambda: search_ids(api, {"field": "tags", "any_of": ["重建保留"]}) == {customer}, 5)
    running.command("search", "rebuild")

    def rebuilt() -> bool:
        status = json.loads(running.command("search", "status"))
        return not status["rebuilding"] and status["documents"] > 0

    assert eventually(rebuilt, 30)
    assert search_ids(api, {"field": "tags", "any_of": ["重建保留"]}) == {customer}
    # While tagging is down the archive keeps working; tags and search catch up when it is back.
    running.stop_service("tagging")
    try:
        current = api.get(f"/api/v1/customers/{customer}", headers=ADMIN)
        patched = api.patch(
            f"/api/v1/customers/{customer}",
            json={"name": "重建测试二有限公司"},
            headers={**ADMIN, "If-Match": current.headers["etag"]},
        )
        assert patched.status_code == 200
        assert api.get(f"/api/v1/customers/{customer}/tags", headers=ADMIN).status_code == 503
    finally:
        running.start_service("tagging")

    def renamed_and_tagged() -> bool:
        found = ok(
            api.post(
                "/api/v1/search/customers",
                json={"query": "重建测试二", "filter": {"field": "tags", "any_of": ["重建保留"]}},
                headers=ADMIN,
            )
        )
        return [h["id"] for h in found["items"]] == [customer]

    assert eventually(renamed_and_tagged, 15)


def export_ids(api: httpx.Client, url: str, purpose: str) -> set[str]:
    reply = api.get(url, params={"purpose": purpose}, headers=ADMIN)
    assert reply.status_code == 200, reply.text
    return {r["customer_id"] for r in csv.DictReader(io.StringIO(reply.text.lstrip("\ufeff")))}


def test_positions_past_int64_are_refused_cleanly(api: httpx.Client) -> None:
    reply = api.get("/api/v1/segments/events", params={"after_position": 2**63}, headers=ADMIN)
    assert reply.status_code == 422 and reply.headers["content-type"] == "application/problem+json"
