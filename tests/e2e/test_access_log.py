"""Reads record which customers they returned, with every service running: a person's privacy
export shows the lists and searches that showed them, paging through lists raises the
mass-viewing alert, and the log refuses oversized or malformed customer lists.

Runs on SQLite and PostgreSQL (the `stack` fixture: the archive's database; the auth service's
log is on SQLite, tests/auth runs it on both), search on the embedded engine.
"""

import json
from typing import Any

import grpc
import httpx
import pytest

from crm.auth.v1 import auth_pb2 as pb
from crm.auth.v1 import auth_pb2_grpc
from scripts.stack import Stack
from services.common.errors import violations_of
from services.common.identity import Caller
from tests.conftest import customer_data
from tests.waiting import eventually

# The auth service raises mass_viewing at 30 distinct customers an hour here (200 by default).
THRESHOLD = 30
STACK_ENV = {"CRM_AUTH_MASS_VIEWING_THRESHOLD": str(THRESHOLD)}
ADMIN = {"X-Dev-Caller": "A7201", "X-Dev-Roles": "admin", "X-Dev-Scope": "all"}
SERVICE = Caller(id="svc-e2e", kind="service", scope="all", permissions=("audit:write",))


def user(employee_id: str, role: str, scope: str) -> dict[str, str]:
    return {"X-Dev-Caller": employee_id, "X-Dev-Roles": role, "X-Dev-Scope": scope}


def create(api: httpx.Client, headers: dict[str, str], name: str, **fields: Any) -> str:
    reply = api.post("/api/v1/customers", json=customer_data(name=name, **fields), headers=headers)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def events(api: httpx.Client, **filters: Any) -> list[dict[str, Any]]:
    reply = api.get("/api/v1/audit/events", params={"page_size": 500, **filters}, headers=ADMIN)
    assert reply.status_code == 200, reply.text
    return list(reply.json()["items"])


def mass_viewing(api: httpx.Client, actor: str) -> dict[str, Any] | None:
    reply = api.get("/api/v1/security/alerts", params={"status": "open"}, headers=ADMIN)
    assert reply.status_code == 200, reply.text
    return next(
        (a for a in reply.json()["items"] if a["kind"] == "mass_viewing" and a["actor"] == actor), None
    )


def test_a_persons_export_shows_the_lists_and_searches_that_returned_them(
    stack: Stack, api: httpx.Client
) -> None:
    rep = user("S7201", "sales", "own")
    mine = [
        create(api, rep, name)
        for name in ("杭州青禾茶业有限公司", "杭州青禾包装有限公司", "宁波远帆物流有限公司")
    ]
    other = create(api, user("S7202", "sales", "own"), "苏州启明光电有限公司")

    listed = api.get("/api/v1/customers", params={"page_size": 50}, headers=rep)
    assert listed.status_code == 200, listed.text
    assert {c["id"] for c in listed.json()["items"]} == set(mine)

    def search() -> list[str]:
        reply = api.post("/api/v1/search/customers", json={"query": "青禾"}, headers=rep)
        assert reply.status_code == 200, reply.text
        return [hit["id"] for hit in reply.json()["items"]]

    assert sorted(eventually(lambda: len(search()) == 2 and search(), 15) or []) == sorted(mine[:2])

    # The log keeps which customers each read returned, and finds events by customer.
    about = events(api, customer_id=mine[0], actor="S7201")
    actions = {e["action"] for e in about}
    assert {"customer.create", "customer.list", "customer.search"} <= actions
    list_event = next(e for e in about if e["action"] == "customer.list")
    assert list_event["target"] == "customers" and list_event["customer_ids"] == sorted(mine)
    assert "count" not in (list_event["details"] or {})
    found = next(e for e in about if e["action"] == "customer.search" and e["customer_ids"])
    assert found["customer_ids"] == sorted(mine[:2]) and "青禾" not in json.dumps(found, ensure_ascii=False)
    # The third customer was listed but never found by the search.
    assert {e["action"] for e in events(api, customer_id=mine[2], actor="S7201")} >= {"customer.list"}
    assert not any(e["action"] == "customer.search" for e in events(api, customer_id=mine[2], actor="S7201"))
    assert not any(e["actor"] == "S7201" for e in events(api, customer_id=other))
    bad = api.get("/api/v1/audit/events", params={"customer_id": "customer:C1"}, headers=ADMIN)
    assert bad.status_code == 422

    exported = api.post(f"/api/v1/customers/{mine[0]}/privacy/export", headers=ADMIN)
    assert exported.status_code == 200, exported.text
    access_log = exported.json()["access_log"]
    by_rep = {e["action"] for e in access_log if e["actor"] == "S7201"}
    assert {"customer.create", "customer.list", "customer.search"} <= by_rep
    # The export names no other customer the rep's reads returned.
    text = json.dumps(access_log)
    assert mine[1] not in text and mine[2] not in text
    # The other person's export does not show the rep's reads.
    theirs = api.post(f"/api/v1/customers/{other}/privacy/export", headers=ADMIN).json()["access_log"]
    assert not any(e["actor"] == "S7201" for e in theirs)

    verified = api.get("/api/v1/audit/verify", headers=ADMIN).json()
    assert verified["ok"], verified


def test_paging_a_manager_through_list_pages_raises_mass_viewing(stack: Stack, api: httpx.Client) -> None:
    manager = user("M7201", "manager", "team")
    ids = {create(api, ADMIN, f"武汉长江机电第{n:02d}分公司", owner_id="M7201") for n in range(THRESHOLD + 5)}

    def page(token: str = "") -> tuple[list[str], str]:
        params: dict[str, Any] = {"page_size": 10, "order_by": "created_at"}
        if token:
            params["page_token"] = token
        reply = api.get("/api/v1/customers", params=params, headers=manager)
        assert reply.status_code == 200, reply.text
        return [c["id"] for c in reply.json()["items"]], reply.json().get("next_page_token") or ""

    first, token = page()
    for _ in range(5):  # the same page over and over shows the same ten customers
        assert page()[0] == first
    second, token = page(token)
    assert mass_viewing(api, "M7201") is None  # 20 customers so far
    seen = set(first) | set(second)
    while token:
        listed, token = page(token)
        seen |= set(listed)
    assert seen == ids
    alert = mass_viewing(api, "M7201")
    assert alert is not None and alert["count"] == len(ids)
    assert alert["summary"] == f"{len(ids)} customers shown within an hour"


def test_the_log_refuses_oversized_or_malformed_customer_lists(stack: Stack, api: httpx.Client) -> None:
    def event(customers: list[str]) -> pb.AuditEvent:
        return pb.AuditEvent(
            actor="S7203",
            actor_kind="user",
            action="customer.list",
            target="customers",
            outcome="success",
            customer_ids=customers,
        )

    with grpc.insecure_channel(stack.auth_address) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)

        def refused(*batch: pb.AuditEvent) -> list[str]:
            with pytest.raises(grpc.RpcError) as caught:
                stub.RecordAuditEvents(
                    pb.RecordAuditEventsRequest(events=list(batch)),
                    metadata=SERVICE.to_metadata(),
                    timeout=10,
                )
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
            return [v.field for v in violations_of(caught.value)]

        six_thousand = [f"C2026030{n:05d}" for n in range(6000)]
        assert refused(event(six_thousand)) == ["events.0.customer_ids"]
        assert refused(event(["C20260301001"]), event(["C20260301001", "C2026-03-01"])) == [
            "events.1.customer_ids.1"
        ]
        assert refused(event(["c20260301001"])) == ["events.0.customer_ids.0"]
        assert events(api, actor="S7203") == []  # nothing of any refused call was recorded
        # Within bounds, a service's event is recorded with its customers (5,000 at most).
        recorded = stub.RecordAuditEvents(
            pb.RecordAuditEventsRequest(events=[event(six_thousand[:5000])]),
            metadata=SERVICE.to_metadata(),
            timeout=10,
        )
    (stored,) = events(api, customer_id=six_thousand[4999], actor="S7203")
    assert [stored["seq"]] == list(recorded.seqs)
    assert stored["customer_ids"] == six_thousand[:5000] and stored["service"] == "svc-e2e"
    verified = api.get("/api/v1/audit/verify", headers=ADMIN).json()
    assert verified["ok"], verified
