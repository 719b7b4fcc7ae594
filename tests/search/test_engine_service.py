"""Search as a process on each real local engine: a rebuild swaps the alias while searches go
on, and the index catches up after the engine is killed (kill -9) and started again.

The platform runs as processes with its search service on the session's local node. While the
engine's JVM is dead customers keep being written to the archive; nothing the indexer had
acknowledged may be lost, and nothing written meanwhile may be missed once the engine is back.
"""

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from scripts import engines
from scripts.stack import PYTHON, ROOT, Stack
from services.search.cluster_backend import ClusterBackend
from tests.conftest import customer_data
from tests.search.conftest import URL_VARIABLES
from tests.waiting import eventually

SEARCH = "/api/v1/search/customers"


@pytest.fixture(scope="module", params=["opensearch", "elasticsearch"])
def engine(request: pytest.FixtureRequest) -> engines.Node:
    """The session's local node of one engine (a cluster given by URL is not ours to kill)."""
    kind = request.param
    if os.environ.get(URL_VARIABLES[kind]):
        pytest.skip(f"{URL_VARIABLES[kind]} names a cluster; these tests kill a local node")
    node: engines.Node = request.getfixturevalue(f"{kind}_node")
    return node


@pytest.fixture(scope="module")
def alias() -> str:
    return f"crm-service-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def running(engine: engines.Node, alias: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The platform with its search service on the engine, under an alias of its own."""
    env = {
        "CRM_SEARCH_BACKEND": engine.engine,
        URL_VARIABLES[engine.engine]: engine.url,
        "CRM_SEARCH_INDEX_ALIAS": alias,
    }
    with Stack(data_dir=tmp_path_factory.mktemp(f"stack-{engine.engine}"), env=env) as stack:
        yield stack
    if not engine.alive():
        engine.restart()
    left = ClusterBackend(engine.engine, engine.url, alias)  # type: ignore[arg-type]
    left.drop()
    left.close()


@pytest.fixture
def api(running: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.gateway_url, timeout=10) as client:
        yield client


def found(api: httpx.Client, **body: Any) -> set[str]:
    """Ids a search finds; none while search answers 503 (its engine is down)."""
    reply = api.post(SEARCH, json=body)
    if reply.status_code == 503:
        return set()
    assert reply.status_code == 200, reply.text
    return {h["id"] for h in reply.json()["items"]}


def create(api: httpx.Client, name: str) -> str:
    reply = api.post("/api/v1/customers", json=customer_data(name=name))
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def search_command(running: Stack, command: str) -> str:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}",
        "CRM_SEARCH_LISTEN_ADDRESS": running.search_address,
    }
    done = subprocess.run(
        [PYTHON, "-m", "services.search", command],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def test_a_rebuild_swaps_the_alias_while_searches_go_on(
    engine: engines.Node, running: Stack, api: httpx.Client, alias: str
) -> None:
    made = [create(api, f"重建索引{n}号客户有限公司") for n in range(3)]
    assert eventually(lambda: set(made) <= found(api, query="重建索引"))
    before = api.post(SEARCH, json={"query": "", "page_size": 1}).json()["total"]
    search_command(running, "rebuild")
    answered = 0

    def done() -> bool:
        nonlocal answered
        assert set(made) <= found(api, query="重建索引")  # the live index answers throughout
        answered += 1
        return '"rebuilding": false' in search_command(running, "status")

    assert eventually(done, timeout=60) and answered >= 1
    assert api.post(SEARCH, json={"query": "", "page_size": 1}).json()["total"] == before
    cluster = ClusterBackend(engine.engine, engine.url, alias)  # type: ignore[arg-type]
    try:
        assert cluster.index == f"{alias}-v2"  # the alias moved; the old generation is gone
        assert sorted(cluster._versions()) == [2]
    finally:
        cluster.close()


def test_the_index_catches_up_after_the_engine_is_killed(engine: engines.Node, api: httpx.Client) -> None:
    before = create(api, "引擎崩溃之前客户有限公司")
    assert eventually(lambda: before in found(api, query="引擎崩溃之前"))
    engine.kill()
    made = [create(api, f"引擎停机期间{n}号客户有限公司") for n in range(5)]  # the archive keeps accepting
    reply = api.post(SEARCH, json={"query": "引擎停机期间"})
    assert reply.status_code == 503, reply.text  # unavailable, not an internal error
    time.sleep(1.0)  # the indexer tries, fails and backs off meanwhile
    engine.restart()
    assert eventually(lambda: set(made) <= found(api, query="引擎停机期间", page_size=20), timeout=30)
    assert before in found(api, query="引擎崩溃之前")  # acknowledged writes survived kill -9
    later = create(api, "引擎恢复之后客户有限公司")
    assert eventually(lambda: later in found(api, query="引擎恢复之后"))
