"""The real engines find what tantivy finds, in the same order, over realistic generated customers.

Every query of the benchmark's mix (typos, partial names, pinyin, initials, phone fragments,
suggestions, filters, facets, deep sorted pages) runs on tantivy and on each local engine over
the same 2,000 customers. What they must agree on: totals, facet counts and their order, the
customers found, every score, and every field-sorted page. Two differences are accepted and
pinned here (docs/search-engines.md):

- ties in relevance: the engines order equal scores by seq, newest first (the Sort contract);
  tantivy leaves them in index order;
- BM25 statistics of sparse fields: Lucene takes a field's document count and average length
  over the documents that have the field, tantivy over all documents. Only short names have
  name_fuzzy keys (and contact_fuzzy keys), so a match there scores higher on the engines.

The emulator is left out: it does not score as Lucene does.
"""

import random
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.search_latency import _query, snapshot
from crm.common.v1 import common_pb2 as c
from services.common.identity import Caller
from services.search import documents, service
from services.search import query as q
from services.search.backend import Result, SearchBackend
from services.search.cluster_backend import ClusterBackend
from services.search.tantivy_backend import TantivyBackend
from tests.search.conftest import cluster_url, engine_kind
from tests.search.test_contract import all_of, field

CUSTOMERS = 2000
SAMPLES = 40
KINDS = ("fuzzy_typo", "partial_name", "pinyin_full", "initials", "phone_last4", "phone_middle", "suggest")
SPARSE = ("name_fuzzy", "contact_fuzzy")
ADMIN = Caller(id="u-admin", roles=("admin",), scope="all", permissions=("*",))


def _documents() -> list[dict[str, Any]]:
    rng = random.Random(19)
    return [documents.build(snapshot(n, rng)) for n in range(CUSTOMERS)]


def _fill(backend: SearchBackend, docs: list[dict[str, Any]]) -> None:
    for start in range(0, len(docs), 500):
        backend.apply(docs[start : start + 500], [], start + 500)


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return _documents()


@pytest.fixture(scope="module")
def tantivy(docs: list[dict[str, Any]]) -> Iterator[TantivyBackend]:
    with tempfile.TemporaryDirectory() as folder:
        backend = TantivyBackend(Path(folder) / "index")
        _fill(backend, docs)
        yield backend
        backend.close()


@pytest.fixture(scope="module", params=["opensearch", "elasticsearch"])
def engine(request: pytest.FixtureRequest, docs: list[dict[str, Any]]) -> Iterator[ClusterBackend]:
    kind = request.param
    backend = ClusterBackend(
        engine_kind(kind), cluster_url(request, kind), f"crm-parity-{uuid.uuid4().hex[:8]}", replicas=0
    )
    _fill(backend, docs)
    yield backend
    backend.drop()
    backend.close()


def _texts(docs: list[dict[str, Any]]) -> list[str]:
    """The benchmark's query mix, built from sampled customers."""
    rng = random.Random(23)
    texts = []
    for doc in docs[:: len(docs) // SAMPLES]:
        sample = {
            "name": doc["name"],
            "kind": doc["kind"],
            "pinyin": doc["name_pinyin"][0] if doc["name_pinyin"] else "",
            "initials": doc["name_initials"][0] if doc["name_initials"] else "",
            "phones": doc["phones"] or ["13800000000"],
        }
        for kind in KINDS:
            if (made := _query(kind, sample, rng)) is not None:
                texts.append(made["grpc"].get("query") or made["grpc"]["prefix"])
    return texts


def _plan(text: str, **extra: Any) -> q.Plan:
    return q.plan(
        caller=ADMIN,
        text=text,
        cond=extra.get("cond"),
        sort=extra.get("sort", ""),
        size=extra.get("size", 20),
        after=extra.get("after"),
        offset=0,
        facets=["tier", "region", "industry"],
    )


def _without_sparse(plan: q.Plan) -> q.Plan:
    """The plan less its clauses on sparse fields (where the engines' statistics differ)."""
    node = plan.query
    assert isinstance(node, q.Bool)
    kept = tuple(n for n in node.should if getattr(n, "field", "") not in SPARSE)
    return q.Plan(query=q.Bool(should=kept, minimum_should_match=1), size=plan.size)


def _scores(result: Result) -> dict[str, float]:
    return {hit.display["id"]: hit.score for hit in result.hits}


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-3 * max(1.0, abs(a))


def test_the_same_customers_are_found_with_the_same_scores(
    docs: list[dict[str, Any]], tantivy: TantivyBackend, engine: ClusterBackend
) -> None:
    unexplained, sparse, ties = [], 0, 0
    texts = _texts(docs)
    for text in texts:
        plan = _plan(text)
        expected, got = tantivy.search(plan), engine.search(plan)
        assert (got.total, got.facets) == (expected.total, expected.facets), text
        wanted, scored = _scores(expected), _scores(got)
        if expected.total <= plan.size:
            assert set(scored) == set(wanted), text
        differing = {i for i in wanted.keys() & scored.keys() if not _same(wanted[i], scored[i])}
        if differing:
            # Explained only if the scores agree once the sparse fields' clauses are left out.
            plain = _without_sparse(plan)
            left = _scores(tantivy.search(plain)), _scores(engine.search(plain))
            if any(i in left[0] and not _same(left[0][i], left[1].get(i, -1.0)) for i in differing):
                unexplained.append((text, sorted(differing)))
            sparse += 1
        for before, after in zip(got.hits, got.hits[1:], strict=False):
            if before.score == after.score:  # equal scores: newest first
                ties += 1
                assert documents.seq_of(before.display["id"]) > documents.seq_of(after.display["id"]), text
    assert unexplained == []
    assert sparse < len(texts) // 20  # a few typo queries of short names
    assert ties > 0  # the mix has ties (phone fragments, pinyin prefixes)


SORTED = [
    (None, "-deal_amount_12m"),
    (None, "last_order_at"),
    (field("tier", any_of=["A", "B"]), "-last_order_at"),
    (all_of(field("industry_code", any_of=["C"]), field("status", any_of=["deal"])), "created_at"),
    (field("last_order_at", exists=False), "-created_at"),
    (c.Condition(**{"not": field("region_code", any_of=["440000"])}), "deal_amount_12m"),
]


@pytest.mark.parametrize(("cond", "sort"), SORTED)
def test_sorted_pages_are_identical(
    tantivy: TantivyBackend, engine: ClusterBackend, cond: c.Condition | None, sort: str
) -> None:
    def pages(backend: SearchBackend) -> tuple[list[str], int, Any]:
        seen: list[str] = []
        token = ""
        first = None
        while True:
            page = service.search(
                backend=backend,
                caller=ADMIN,
                text="",
                cond=cond,
                sort=sort,
                size=100,
                token=token,
                facets=["tier", "region", "status"],
            )
            first = first or (page.total, page.facets)
            seen += [h["id"] for h in page.hits]
            token = page.next_token
            if not token:
                return seen, first[0], first[1]

    assert pages(engine) == pages(tantivy)
