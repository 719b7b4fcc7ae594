"""Backends for the search contract suite: every test runs on each one.

- tantivy, the embedded backend;
- OpenSearch's wire protocol through the osmem-server emulator (no Java needed; an emulator,
  not Lucene: it checks our requests, not a real engine's analysis and scoring);
- real OpenSearch and Elasticsearch: the clusters at OPENSEARCH_URL / ELASTICSEARCH_URL when
  set, else a local single node of each (scripts/engines.py), started once per session on
  free ports with its data in a temporary folder.

Without Java or Maven the local engines are skipped with the reason; under CI=true that is a
failure, as a missing PostgreSQL is.
"""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts import engines
from services.search.backend import SearchBackend
from services.search.cluster_backend import ClusterBackend, Kind
from services.search.tantivy_backend import TantivyBackend
from tests.conftest import IN_CI

BACKENDS = ["tantivy", "opensearch-emulator", "elasticsearch", "opensearch"]
CLUSTERS = ["opensearch-emulator", "elasticsearch", "opensearch"]
URL_VARIABLES = {"elasticsearch": "ELASTICSEARCH_URL", "opensearch": "OPENSEARCH_URL"}


def _local_node(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[engines.Node]:
    try:
        node = engines.start(kind, home=tmp_path_factory.mktemp(kind))
    except (engines.EngineUnavailable, RuntimeError) as exc:
        message = f"no local {kind} engine: {exc}"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: the local engines are required)")
        pytest.skip(f"{message}; or set {URL_VARIABLES[kind]} to a cluster")
    yield node
    node.stop()


@pytest.fixture(scope="session")
def opensearch_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[engines.Node]:
    """A local OpenSearch node for the whole session."""
    yield from _local_node("opensearch", tmp_path_factory)


@pytest.fixture(scope="session")
def elasticsearch_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[engines.Node]:
    """A local Elasticsearch node for the whole session."""
    yield from _local_node("elasticsearch", tmp_path_factory)


def cluster_url(request: pytest.FixtureRequest, kind: str) -> str:
    """The cluster a test runs on: the emulator, the one named in the environment, or the local node."""
    if kind == "opensearch-emulator":
        return str(request.getfixturevalue("osmem_clone").url)
    return os.environ.get(URL_VARIABLES[kind]) or request.getfixturevalue(f"{kind}_node").url


def engine_kind(kind: str) -> Kind:
    """The client a cluster is spoken to with (the emulator speaks OpenSearch)."""
    return "elasticsearch" if kind == "elasticsearch" else "opensearch"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchBackend]:
    """A fresh, empty index on one backend."""
    kind = request.param
    if kind == "tantivy":
        opened: SearchBackend = TantivyBackend(tmp_path / "index")
        yield opened
        opened.close()
        return
    cluster = ClusterBackend(
        engine_kind(kind), cluster_url(request, kind), f"crm-test-{uuid.uuid4().hex[:10]}"
    )
    yield cluster
    cluster.drop()
    cluster.close()
