"""Search as users reach it: processes, the change feed, the gateway, rebuilds and outages."""

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.stack import PYTHON, ROOT, Stack
from tests.conftest import customer_data
from tests.waiting import eventually

SEARCH = "/api/v1/search/customers"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(data_dir=tmp_path_factory.mktemp("search-stack")) as stack:
        yield stack


@pytest.fixture
def api(running: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.gateway_url, timeout=10) as client:
        yield client


def search(api: httpx.Client, **body: Any) -> dict[str, Any]:
    reply = api.post(SEARCH, json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()


def ids(api: httpx.Client, **body: Any) -> set[str]:
    return {h["id"] for h in search(api, **body)["items"]}


def ids_once_up(api: httpx.Client, **body: Any) -> set[str]:
    """Like ids, but a search service still coming back (503) just finds nothing yet."""
    reply = api.post(SEARCH, json=body)
    if reply.status_code == 503:
        return set()
    assert reply.status_code == 200, reply.text
    return {h["id"] for h in reply.json()["items"]}


def test_a_new_customer_is_searchable_within_a_second(api: httpx.Client) -> None:
    created = api.post("/api/v1/customers", json=customer_data(name="欧阳锋贸易有限公司")).json()
    started = time.monotonic()
    found = eventually(lambda: created["id"] in ids(api, query="欧阳锋"))
    assert found and time.monotonic() - started < 1.5
    assert created["id"] in ids(api, query="ouyangfeng")


def test_changes_and_deletes_reach_the_index(api: httpx.Client) -> None:
    made = api.post("/api/v1/customers", json=customer_data(name="苏州原名科技有限公司")).json()
    assert eventually(lambda: made["id"] in ids(api, query="原名"))
    url = f"/api/v1/customers/{made['id']}"
    api.patch(url, json={"name": "苏州新名科技有限公司"}, headers={"If-Match": '"1"'})
    assert eventually(lambda: made["id"] in ids(api, query="新名"))
    assert made["id"] not in ids(api, query="原名")
    api.delete(url, headers={"If-Match": '"2"'})
    assert eventually(lambda: made["id"] not in ids(api, query="新名"))
    api.post(f"{url}/restore")
    assert eventually(lambda: made["id"] in ids(api, query="新名"))


def test_the_gateway_search_api(api: httpx.Client) -> None:
    made = api.post(
        "/api/v1/customers",
        json=customer_data(
            name="宁波海曙精工机械有限公司",
            region_code="330203",
            contacts=[{"name": "翟星", "phones": ["13566667777"]}],
        ),
    ).json()
    assert eventually(lambda: made["id"] in ids(api, query="6667777"))
    page = search(
        api,
        query="海曙精工",
        filter={"all": [{"field": "region_code", "any_of": ["330000"]}, {"field": "tier", "any_of": ["C"]}]},
        facets=["region", "tier"],
    )
    assert page["items"][0]["id"] == made["id"]
    assert page["items"][0]["highlights"]["name"] == "宁波<em>海曙精工</em>机械有限公司"
    assert {"value": "330000", "count": page["total"]} in page["facets"]["region"]
    suggestions = api.get("/api/v1/search/suggest", params={"q": "宁波海曙"}).json()["items"]
    assert suggestions[0]["customer_id"] == made["id"]
    assert made["id"] in ids(api, query="zhaixing")  # 翟 as a surname reads zhai


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"query": "x", "colour": "red"}, 422),
        ({"filter": {"field": "salary", "any_of": ["1"]}}, 422),
        ({"filter": {"field": "tier", "any_of": ["A"], "all": []}}, 422),
        ({"filter": {"field": "deal_amount_12m", "range": {"gte": "lots"}}}, 422),
        ({"sort": "password"}, 422),
        ({"page_size": 10_000}, 422),
        ({"page_token": "garbage"}, 422),
        ({"facets": ["salary"]}, 422),
        ({"query": "长" * 101}, 422),
    ],
)
def test_bad_searches_get_a_clear_problem(api: httpx.Client, body: dict[str, Any], status: int) -> None:
    reply = api.post(SEARCH, json=body)
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/problem+json"


def test_scope_and_hidden_fields_through_the_gateway(api: httpx.Client) -> None:
    rep = {"X-Dev-Caller": "S9001", "X-Dev-Roles": "sales", "X-Dev-Scope": "own"}
    marketing = {"X-Dev-Caller": "M9", "X-Dev-Roles": "marketing", "X-Dev-Scope": "all"}
    mine = api.post(
        "/api/v1/customers",
        headers=rep,
        json=customer_data(
            name="温州瓯海眼镜有限公司", contacts=[{"name": "林立", "phones": ["13655554444"]}]
        ),
    ).json()
    assert eventually(lambda: mine["id"] in ids(api, query="瓯海眼镜"))
    other = {"X-Dev-Caller": "S9002", "X-Dev-Roles": "sales", "X-Dev-Scope": "own"}
    assert api.post(SEARCH, headers=other, json={"query": "瓯海眼镜"}).json()["items"] == []
    seen = api.post(SEARCH, headers=marketing, json={"query": "瓯海眼镜"}).json()["items"][0]
    assert seen["deal_amount_12m"] is None  # marketing sees contacts, not financial data
    assert seen["contacts"][0]["phones"] == ["13655554444"]
    denied = api.post(SEARCH, headers=marketing, json={"sort": "-deal_amount_12m"})
    assert denied.status_code == 403


def test_search_catches_up_after_an_outage(running: Stack, api: httpx.Client) -> None:
    running.stop_service("search")
    made = [
        api.post("/api/v1/customers", json=customer_data(name=f"停机期间客户{i}号有限公司")).json()["id"]
        for i in range(5)
    ]  # the archive keeps accepting writes
    degraded = api.get("/readyz")
    assert degraded.status_code == 200 and degraded.json()["checks"]["search"] == "down"
    assert api.post(SEARCH, json={"query": "x"}).status_code == 503
    running.start_service("search")
    assert eventually(lambda: set(made) <= ids_once_up(api, query="停机期间客户", page_size=20), timeout=20)


def test_customers_stay_searchable_while_tagging_is_down(running: Stack, api: httpx.Client) -> None:
    made = api.post("/api/v1/customers", json=customer_data(name="标签保留测试有限公司")).json()
    tag = api.post("/api/v1/tags", json={"name": "停机保留"}).json()
    assert eventually(lambda: api.get(f"/api/v1/customers/{made['id']}/tags").status_code == 200)
    assigned = api.post(f"/api/v1/customers/{made['id']}/tags", json={"tag_ids": [tag["id"]]})
    assert assigned.status_code == 200, assigned.text

    def hit(query: str, customer_id: str) -> dict[str, Any] | None:
        return next((h for h in search(api, query=query)["items"] if h["id"] == customer_id), None)

    assert eventually(lambda: (h := hit("标签保留测试", made["id"])) and h["tags"] == ["停机保留"])
    running.stop_service("tagging")
    try:
        renamed = api.patch(
            f"/api/v1/customers/{made['id']}",
            json={"name": "标签保留更名有限公司"},
            headers={"If-Match": f'"{made["version"]}"'},
        )
        assert renamed.status_code == 200, renamed.text
        fresh = api.post("/api/v1/customers", json=customer_data(name="标签停机期间新客户有限公司")).json()
        # Changes reach the index without the tagging service, and known tags are kept.
        assert eventually(lambda: hit("标签停机期间新客户", fresh["id"]), timeout=10)
        assert eventually(lambda: hit("标签保留更名", made["id"]), timeout=10)
        assert hit("标签保留更名", made["id"])["tags"] == ["停机保留"]  # type: ignore[index]
    finally:
        running.start_service("tagging")


def test_rebuild_while_answering(running: Stack, api: httpx.Client) -> None:
    before = search(api, query="", page_size=1)["total"]
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}",
        "CRM_SEARCH_LISTEN_ADDRESS": running.search_address,
    }
    subprocess.run(
        [PYTHON, "-m", "services.search", "rebuild"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    answered = 0

    def done() -> bool:
        nonlocal answered
        assert search(api, query="", page_size=1)["total"] > 0  # searches keep working
        answered += 1
        status = subprocess.run(
            [PYTHON, "-m", "services.search", "status"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return '"rebuilding": false' in status

    assert eventually(done, timeout=60)
    assert answered >= 1
    assert search(api, query="", page_size=1)["total"] == before
    assert (Path(running.data_dir) / "search" / "current").read_text() == "g2"
