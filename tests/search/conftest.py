"""Backends for the search contract suite: every test runs on each one available.

tantivy always; OpenSearch's wire protocol through the osmem-server emulator always (an
emulator, not Lucene: it checks our requests, not Elasticsearch's scoring); real Elasticsearch
and OpenSearch clusters when ELASTICSEARCH_URL / OPENSEARCH_URL are set.
"""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.search.backend import SearchBackend
from services.search.tantivy_backend import TantivyBackend

BACKENDS = ["tantivy", "opensearch-emulator", "elasticsearch", "opensearch"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchBackend]:
    """A fresh, empty index on one backend."""
    kind = request.param
    if kind == "tantivy":
        opened: SearchBackend = TantivyBackend(tmp_path / "index")
        yield opened
        opened.close()
        return
    if kind == "opensearch-emulator":
        url = request.getfixturevalue("osmem_clone").url
        kind = "opensearch"
    else:
        variable = "ELASTICSEARCH_URL" if kind == "elasticsearch" else "OPENSEARCH_URL"
        url = os.environ.get(variable, "")
        if not url:
            pytest.skip(f"{variable} is not set: no real {kind} cluster to test against")
    from services.search.cluster_backend import ClusterBackend

    cluster = ClusterBackend(kind, url, f"crm-test-{uuid.uuid4().hex[:10]}")
    yield cluster
    cluster.drop()
    cluster.close()
