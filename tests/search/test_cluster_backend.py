"""The cluster backend: its mapping and DSL (no server), and its index lifecycle on each cluster."""

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from services.search import documents
from services.search import query as q
from services.search.backend import BackendUnavailable
from services.search.cluster_backend import (
    DATE_FORMAT,
    BulkError,
    ClusterBackend,
    Connection,
    index_settings,
    mapping,
    render,
    result_of,
    search_body,
    source,
)
from services.search.documents import MAPPING, NGRAM_ANALYZER
from services.search.settings import SearchSettings
from services.search.tantivy_backend import _ngram
from tests.search.conftest import CLUSTERS, cluster_url, engine_kind

MAY_1 = datetime(2024, 5, 1, tzinfo=UTC)
MAY_1_MS = 1714521600000


def snapshot(seq: int, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"C20240501{seq:03d}",
        "name": name,
        "kind": "company",
        "industry_code": "3411",
        "region_code": "310115",
        "tier": "B",
        "status": "potential",
        "stage": "lead",
        "owner_id": "S1",
        "source_channel": "manual",
        "deal_amount_12m": "100.00",
        "version": "1",
        "created_at": f"2024-05-01T00:{seq:02d}:00Z",
        "updated_at": "2024-05-01T00:00:00Z",
        "contacts": [{"name": "王芳", "phones": ["13812345678"], "emails": []}],
        **extra,
    }


def names(result: Any) -> list[str]:
    return [h.display["name"] for h in result.hits]


# -- the index definition ------------------------------------------------------------------------


def test_mapping_is_strict_and_follows_the_one_mapping() -> None:
    generated = mapping()
    assert generated["dynamic"] == "strict"
    properties = generated["properties"]
    assert list(properties) == [spec.name for spec in MAPPING]
    assert properties["id"] == {"type": "keyword"}
    assert properties["name_pinyin"] == {"type": "keyword", "norms": True}  # scored by length, as tantivy
    assert properties["name"] == {"type": "text", "analyzer": NGRAM_ANALYZER}
    assert properties["contact_names"] == {"type": "text", "analyzer": NGRAM_ANALYZER}
    assert properties["seq"] == properties["deal_amount_12m"] == {"type": "long"}
    assert properties["created_at"] == {"type": "date", "format": DATE_FORMAT}
    assert properties["display"] == {"type": "object", "enabled": False}
    kinds = {"keyword": "keyword", "text": "text", "long": "long", "date": "date", "stored": "object"}
    assert all(properties[s.name]["type"] == kinds[s.kind] for s in MAPPING)
    assert all(
        properties[s.name].get("norms") == (True if s.multi else None) for s in MAPPING if s.kind == "keyword"
    )


def test_settings_define_tantivys_ngram_analyzer() -> None:
    settings = index_settings(shards=3, replicas=2)
    assert settings["index"] == {"number_of_shards": 3, "number_of_replicas": 2, "max_ngram_diff": 1}
    assert settings["analysis"]["tokenizer"][NGRAM_ANALYZER] == {
        "type": "ngram",
        "min_gram": 1,
        "max_gram": 2,
    }
    assert settings["analysis"]["analyzer"][NGRAM_ANALYZER] == {
        "type": "custom",
        "tokenizer": NGRAM_ANALYZER,
        "filter": ["lowercase"],
    }
    assert index_settings()["index"]["number_of_shards"] == 1


def test_source_holds_indexed_values_as_tantivy_does() -> None:
    doc = documents.build(snapshot(1, "张三", region_code="", last_order_at="2024-05-01T08:00:00+08:00"))
    body = source(doc)
    assert body["last_order_at"] == MAY_1_MS  # dates as epoch milliseconds
    assert "region_code" not in body and "region_path" not in body  # empty values are not indexed
    assert "last_follow_up_at" not in body
    assert body["last_follow_up_sort"] == -1
    assert body["display"] == doc["display"]


# -- the DSL renderer ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (q.MatchAll(), {"match_all": {}}),
        (q.Term("tier", "A"), {"term": {"tier": {"value": "A", "boost": 1.0}}}),
        (q.Term("name_exact", "张三", 20.0), {"term": {"name_exact": {"value": "张三", "boost": 20.0}}}),
        (q.Term("created_at", MAY_1), {"term": {"created_at": {"value": MAY_1_MS, "boost": 1.0}}}),
        (q.Terms("owner_id", ("S1", "S2")), {"terms": {"owner_id": ["S1", "S2"]}}),
        (q.Prefix("emails", "zhang", 4.0), {"prefix": {"emails": {"value": "zhang", "boost": 4.0}}}),
        (  # a short prefix of a prefix-indexed field is one term
            q.Prefix("name_pinyin", "zhang", 4.0),
            {"constant_score": {"filter": {"term": {"name_pinyin_prefixes": "zhang"}}, "boost": 4.0}},
        ),
        (
            q.Prefix("name_pinyin", "zhangsanfengzi", 4.0),
            {"prefix": {"name_pinyin": {"value": "zhangsanfengzi", "boost": 4.0}}},
        ),
        (
            q.Fuzzy("name_pinyin", "zhangsna", 1, 2.0),
            {
                "fuzzy": {
                    "name_pinyin": {
                        "value": "zhangsna",
                        "fuzziness": 1,
                        "transpositions": True,
                        "prefix_length": 0,
                        "max_expansions": 50,
                        "rewrite": "constant_score",
                        "boost": 2.0,
                    }
                }
            },
        ),
        (q.Fuzzy("name_exact", "张三", 0, 3.0), {"term": {"name_exact": {"value": "张三", "boost": 3.0}}}),
        (
            q.Range("deal_amount_12m", gte=100, lt=500),
            {"range": {"deal_amount_12m": {"gte": 100, "lt": 500}}},
        ),
        (
            q.Range("created_at", gt=MAY_1),
            {"range": {"created_at": {"gt": MAY_1_MS, "format": "epoch_millis"}}},
        ),
        (q.Exists("last_order_at"), {"exists": {"field": "last_order_at"}}),
        (
            q.Bool(should=(q.Term("tags", "vip"),), minimum_should_match=1),
            {
                "bool": {
                    "should": [{"term": {"tags": {"value": "vip", "boost": 1.0}}}],
                    "minimum_should_match": 1,
                }
            },
        ),
        (
            q.Bool(must=(q.MatchAll(),), filter=(q.Exists("tags"),), should=(q.Exists("phones"),)),
            {
                "bool": {
                    "must": [{"match_all": {}}],
                    "filter": [{"exists": {"field": "tags"}}],
                    "should": [{"exists": {"field": "phones"}}],
                }
            },
        ),
        (
            q.Bool(must_not=(q.Exists("tags"),)),
            {"bool": {"must_not": [{"exists": {"field": "tags"}}], "must": [{"match_all": {}}]}},
        ),
        (q.Bool(), {"bool": {"must": [{"match_all": {}}]}}),
    ],
)
def test_each_node_renders_to_its_dsl(node: q.Node, expected: dict[str, Any]) -> None:
    assert render(node) == expected


def test_should_clauses_beside_a_filter_stay_required() -> None:
    node = q.Bool(
        filter=(q.Terms("owner_id", ("S1",)),), should=(q.Term("tags", "vip"),), minimum_should_match=1
    )
    assert render(node)["bool"]["minimum_should_match"] == 1


def test_relevance_search_body() -> None:
    plan = q.Plan(query=q.MatchAll(), size=7, offset=14, facets=("tier", "tags"))
    assert search_body(plan) == {
        "query": {"match_all": {}},
        "size": 7,
        "from": 14,
        "track_total_hits": 10000,
        "_source": ["display"],
        "sort": ["_score", {"seq": "desc"}],
        "aggs": {
            "tier": {"terms": {"field": "tier", "size": 50}},
            "tags": {"terms": {"field": "tags", "size": 50}},
        },
    }


def test_field_sort_search_body_continues_after_the_token() -> None:
    plan = q.Plan(query=q.MatchAll(), sort=q.Sort("deal_amount_12m", False), size=5, after=(100, 20240501003))
    body = search_body(plan)
    assert body["sort"] == [{"deal_amount_12m": "asc"}, {"seq": "asc"}]
    assert body["search_after"] == [100, 20240501003]
    assert "from" not in body and "aggs" not in body


def test_responses_become_results() -> None:
    response = {
        "hits": {
            "total": {"value": 12, "relation": "eq"},
            "hits": [{"_score": None, "_source": {"display": {"id": "C1"}}, "sort": [500, 20240501001]}],
        },
        "aggregations": {"tier": {"buckets": [{"key": "A", "doc_count": 3}]}},
    }
    plan = q.Plan(query=q.MatchAll(), sort=q.Sort("deal_amount_12m"), facets=("tier",))
    result = result_of(plan, response)
    assert result.total == 12 and result.facets == {"tier": [("A", 3)]}
    hit = result.hits[0]
    assert (hit.display, hit.score, hit.sort_value, hit.seq) == ({"id": "C1"}, 0.0, 500, 20240501001)


class _RefusingClient:
    """Answers bulk writes with one refused item (a full queue cannot be provoked on demand)."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.recorded: list[str] = []

    def bulk(self, body: list[dict[str, Any]], refresh: str) -> dict[str, Any]:
        error = {
            "type": "es_rejected_execution_exception" if self.status == 429 else "mapper_parsing_exception"
        }
        return {"items": [{"index": {"_id": body[0]["index"]["_id"], "status": self.status, "error": error}}]}

    def index(self, index: str, id: str, body: dict[str, Any]) -> None:
        self.recorded.append(id)


def _refusing(status: int) -> tuple[ClusterBackend, _RefusingClient]:
    client = _RefusingClient(status)
    backend = ClusterBackend.__new__(ClusterBackend)
    backend.kind, backend.url, backend.alias = "opensearch", "http://127.0.0.1:9", ALIAS_OF_FAKES
    backend._connection = Connection(client, KeyError, LookupError, ConnectionError)
    backend._client, backend._meta, backend._write = client, f"{ALIAS_OF_FAKES}-meta", ALIAS_OF_FAKES
    return backend, client


ALIAS_OF_FAKES = "crm-fake"


def test_items_the_engine_cannot_take_now_are_retried_not_refused() -> None:
    busy, client = _refusing(429)
    with pytest.raises(BackendUnavailable):  # the indexer backs off and writes the batch again
        busy.apply([documents.build(snapshot(1, "张三"))], [], 5)
    bad, refused = _refusing(400)
    with pytest.raises(BulkError):
        bad.apply([documents.build(snapshot(1, "张三"))], [], 5)
    assert client.recorded == refused.recorded == []  # the position is not recorded either way


def test_settings_choose_the_cluster() -> None:
    settings = SearchSettings(CRM_SEARCH_BACKEND="elasticsearch", ELASTICSEARCH_URL="")
    with pytest.raises(ValueError, match="ELASTICSEARCH_URL"):
        ClusterBackend.from_settings(settings)


# -- on each cluster: the emulator, a real OpenSearch, a real Elasticsearch -------------------------


Opener = Callable[..., ClusterBackend]


@pytest.fixture(params=CLUSTERS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(request: pytest.FixtureRequest, kind: str) -> str:
    return cluster_url(request, kind)


@pytest.fixture
def alias() -> str:
    """An alias of this test's own, so tests sharing a session's engine never meet."""
    return f"crm-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def opener(kind: str, url: str, alias: str) -> Iterator[Opener]:
    """Opens backends on this test's cluster (this test's alias by default); closes them after."""
    opened: list[ClusterBackend] = []

    def open_backend(name: str = alias) -> ClusterBackend:
        backend = ClusterBackend(engine_kind(kind), url, name, replicas=0)
        opened.append(backend)
        return backend

    yield open_backend
    for backend in opened:
        backend.close()


@pytest.fixture
def cluster(opener: Opener) -> Iterator[ClusterBackend]:
    opened = opener()
    yield opened
    opened.drop()


def test_the_index_is_created_as_generated(cluster: ClusterBackend, alias: str) -> None:
    client = cluster._client
    assert client.indices.get_alias(name=alias) == {f"{alias}-v1": {"aliases": {alias: {}}}}
    created = client.indices.get(index=f"{alias}-v1")[f"{alias}-v1"]
    assert created["mappings"]["dynamic"] == "strict"
    assert created["mappings"]["properties"]["name"] == {"type": "text", "analyzer": NGRAM_ANALYZER}
    tokens = client.indices.analyze(index=alias, body={"analyzer": NGRAM_ANALYZER, "text": "张三丰 AB"})
    assert [t["token"] for t in tokens["tokens"]] == _ngram().analyze("张三丰 AB")


def test_searches_find_what_was_applied(cluster: ClusterBackend) -> None:
    docs = [documents.build(snapshot(n, name)) for n, name in enumerate(["张三", "张三丰", "李四"], 1)]
    cluster.apply(docs, [], 3)
    assert names(cluster.search(q.Plan(query=q.Term("name", "三丰")))) == ["张三丰"]
    fuzzy = q.Plan(query=q.Fuzzy("name_pinyin", "zhangsna", 1), sort=q.Sort("seq", descending=False))
    assert names(cluster.search(fuzzy)) == ["张三"]
    in_tier = q.Bool(filter=(q.Term("tier", "B"),), should=(q.Term("name", "三丰"),), minimum_should_match=1)
    assert names(cluster.search(q.Plan(query=in_tier))) == ["张三丰"]
    not_li = q.Bool(must_not=(q.Term("name_exact", "李四"),))
    assert sorted(names(cluster.search(q.Plan(query=not_li)))) == ["张三", "张三丰"]
    cluster.apply([documents.build(snapshot(2, "张无忌"))], ["C20240501003"], 4)
    everyone = cluster.search(q.Plan(query=q.MatchAll(), facets=("tier",)))
    assert sorted(names(everyone)) == ["张三", "张无忌"] and everyone.facets == {"tier": [("B", 2)]}
    assert cluster.count() == 2


def test_position_survives_reopening(cluster: ClusterBackend, opener: Opener) -> None:
    assert cluster.position() == 0
    cluster.apply([documents.build(snapshot(1, "张三"))], [], 42)
    reopened = opener()
    assert reopened.index == cluster.index
    assert reopened.position() == 42 and reopened.count() == 1


def test_bulk_errors_raise_and_keep_the_position(cluster: ClusterBackend) -> None:
    cluster.apply([documents.build(snapshot(1, "张三"))], [], 5)
    bad = documents.build(snapshot(2, "李四"))
    bad["seq"] = "not a number"
    with pytest.raises(BulkError) as caught:
        cluster.apply([bad], [], 6)
    assert caught.value.failures[0]["_id"] == "C20240501002"
    assert cluster.position() == 5
    cluster.apply([], ["C20240501099"], 7)  # deleting an absent id is not an error
    assert cluster.position() == 7


def test_a_rebuild_swaps_the_alias_and_drops_the_old_index(
    cluster: ClusterBackend, opener: Opener, alias: str
) -> None:
    cluster.apply([documents.build(snapshot(1, "张三"))], [], 10)
    fresh = cluster.begin_rebuild()
    assert fresh.index == f"{alias}-v2" and fresh.position() == 0 and fresh.count() == 0
    fresh.apply([documents.build(snapshot(1, "张三")), documents.build(snapshot(2, "李四"))], [], 12)
    assert names(cluster.search(q.Plan(query=q.MatchAll()))) == ["张三"]  # the live one until the swap
    cluster.finish_rebuild(fresh)
    assert cluster._client.indices.get_alias(index=f"{alias}*") == {
        f"{alias}-v2": {"aliases": {alias: {}}},
        f"{alias}-meta": {"aliases": {}},
    }
    for backend in (fresh, cluster):  # in-flight users of the old object follow the alias
        assert sorted(names(backend.search(q.Plan(query=q.MatchAll())))) == ["张三", "李四"]
    reopened = opener()
    assert reopened.index == f"{alias}-v2" and reopened.position() == 12


def test_versioned_writes_keep_the_newest_change(cluster: ClusterBackend) -> None:
    cluster.apply([documents.build(snapshot(1, "新名字"))], [], 20, {"C20240501001": 20})
    # A slower indexer replays an older change of the same customer: it must not win.
    cluster.apply([documents.build(snapshot(1, "旧名字"))], [], 15, {"C20240501001": 15})
    assert names(cluster.search(q.Plan(query=q.MatchAll()))) == ["新名字"]
    cluster.apply([], ["C20240501001"], 21, {"C20240501001": 21})
    assert cluster.count() == 0


def test_other_replicas_follow_a_rebuild(cluster: ClusterBackend, opener: Opener, alias: str) -> None:
    other = opener()  # another replica's indexer
    cluster.apply([documents.build(snapshot(1, "张三"))], [], 10)
    fresh = cluster.begin_rebuild()
    fresh.apply([documents.build(snapshot(1, "张三"))], [], 10)
    cluster.finish_rebuild(fresh)
    other.apply([documents.build(snapshot(2, "李四"))], [], 11)  # written through the alias
    assert sorted(names(fresh.search(q.Plan(query=q.MatchAll())))) == ["张三", "李四"]
    assert other.position() == fresh.position() == 11
    assert set(cluster._client.indices.get_alias(index=f"{alias}*")) == {f"{alias}-v2", f"{alias}-meta"}


def test_an_index_from_an_earlier_mapping_gets_the_new_fields(opener: Opener, alias: str) -> None:
    """An upgrade that adds index fields keeps the live index and maps the fields into it."""
    earlier = mapping()
    del earlier["properties"]["name_fuzzy"], earlier["properties"]["contact_fuzzy"]
    client = opener(f"{alias}-bootstrap")._client
    client.indices.create(
        index=f"{alias}-v1",
        body={"settings": index_settings(replicas=0), "mappings": earlier, "aliases": {alias: {}}},
    )
    upgraded = opener()
    try:
        assert upgraded.index == f"{alias}-v1"
        properties = client.indices.get_mapping(index=f"{alias}-v1")[f"{alias}-v1"]["mappings"]["properties"]
        assert properties["name_fuzzy"] == mapping()["properties"]["name_fuzzy"]
        upgraded.apply([documents.build(snapshot(1, "张三丰"))], [], 1)
        typo = q.Plan(
            query=q.Bool(should=tuple(q.Term("name_fuzzy", k) for k in documents.fuzzy_keys("张山丰")))
        )
        assert names(upgraded.search(typo)) == ["张三丰"]
    finally:
        upgraded.drop()
        opener(f"{alias}-bootstrap").drop()
