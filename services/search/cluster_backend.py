"""The cluster backends: Elasticsearch (official client) and OpenSearch (opensearch-py).

Both speak the same DSL, rendered here from the one mapping and the one query tree. Searches go
through an alias; the documents live in versioned indices `<alias>-v<N>` behind it, so a rebuild
fills `<alias>-v<N+1>` and moves the alias in one atomic call. The feed position of each index is
a document in `<alias>-meta` whose id is the index name, written after the documents it covers.
"""

import contextlib
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import elasticsearch
import opensearchpy

from services.search import query as q
from services.search.backend import BackendUnavailable, Hit, Result
from services.search.documents import FIELDS, MAPPING, NGRAM_ANALYZER, prefix_field

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from services.search.settings import SearchSettings

Kind = Literal["elasticsearch", "opensearch"]
FACET_SIZE = 50
TRACK_TOTAL_HITS = 10_000
FUZZY_MAX_EXPANSIONS = 50
DATE_FORMAT = "strict_date_optional_time||epoch_millis"
_TIMEOUT_SECONDS = 30.0
# Statuses of an engine that is overloaded, restarting or recovering shards: worth a retry.
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})


class BulkError(RuntimeError):
    """Some documents of a bulk write were refused for good; the feed position was not recorded."""

    def __init__(self, failures: list[dict[str, Any]]) -> None:
        self.failures = failures
        first = failures[0]
        super().__init__(
            f"{len(failures)} bulk item(s) failed, first {first.get('_id')}: {first.get('error')}"
        )


# -- the index: one mapping and settings for both engines -----------------------------------------


def mapping() -> dict[str, Any]:
    """The index mapping derived from documents.MAPPING (unknown fields are refused).

    Multi-valued keywords keep norms, as tantivy does: a customer whose field holds fewer values
    (one phone rather than three, a name with one reading) scores higher on a match there.
    """
    properties: dict[str, Any] = {}
    for spec in MAPPING:
        if spec.kind == "keyword" and spec.multi:
            properties[spec.name] = {"type": "keyword", "norms": True}
        elif spec.kind == "keyword":
            properties[spec.name] = {"type": "keyword"}
        elif spec.kind == "text":
            properties[spec.name] = {"type": "text", "analyzer": NGRAM_ANALYZER}
        elif spec.kind == "long":
            properties[spec.name] = {"type": "long"}
        elif spec.kind == "date":
            properties[spec.name] = {"type": "date", "format": DATE_FORMAT}
        else:  # stored: kept in _source for display, never indexed
            properties[spec.name] = {"type": "object", "enabled": False}
    return {"dynamic": "strict", "properties": properties}


def index_settings(*, shards: int = 1, replicas: int = 1) -> dict[str, Any]:
    """Index settings with the 1-2 gram analyzer tantivy uses (n-grams of every character)."""
    return {
        "index": {"number_of_shards": shards, "number_of_replicas": replicas, "max_ngram_diff": 1},
        "analysis": {
            "tokenizer": {NGRAM_ANALYZER: {"type": "ngram", "min_gram": 1, "max_gram": 2}},
            "analyzer": {
                NGRAM_ANALYZER: {"type": "custom", "tokenizer": NGRAM_ANALYZER, "filter": ["lowercase"]}
            },
        },
    }


def _meta_body(*, replicas: int) -> dict[str, Any]:
    return {
        "settings": {"index": {"number_of_shards": 1, "number_of_replicas": replicas}},
        "mappings": {"dynamic": "strict", "properties": {"position": {"type": "long"}}},
    }


def _millis(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _value(field_name: str, value: Any) -> Any:
    """A value as the index holds it: dates as epoch milliseconds, like tantivy."""
    if FIELDS[field_name].kind == "date" and isinstance(value, datetime):
        return _millis(value)
    return value


def _transient(outcome: dict[str, Any]) -> bool:
    """A bulk item refused because the engine could not take it now (queue full, shard not ready)."""
    return int(outcome.get("status") or 0) in TRANSIENT_STATUSES


def _superseded(outcome: dict[str, Any]) -> bool:
    """A versioned write refused because a newer change of that customer is already in."""
    return outcome.get("status") == 409 and "version_conflict" in str(outcome["error"].get("type", ""))


def source(document: dict[str, Any]) -> dict[str, Any]:
    """The _source of an index document; empty values are left out, as tantivy leaves them out."""
    body: dict[str, Any] = {}
    for spec in MAPPING:
        value = document.get(spec.name)
        if spec.kind == "stored":
            body[spec.name] = value
        elif value is None or value == "" or value == []:
            continue
        elif spec.multi:
            body[spec.name] = [_value(spec.name, v) for v in value]
        else:
            body[spec.name] = _value(spec.name, value)
    return body


# -- the query DSL: one renderer of the plan tree ---------------------------------------------------


def render(node: q.Node) -> dict[str, Any]:
    """The Elasticsearch / OpenSearch query of a plan node, with tantivy's semantics."""
    match node:
        case q.MatchAll():
            return {"match_all": {}}
        case q.Term(field, value, boost):
            return {"term": {field: {"value": _value(field, value), "boost": boost}}}
        case q.Terms(field, values):
            return {"terms": {field: [_value(field, v) for v in values]}}
        case q.Prefix(field, value, boost):
            if indexed := prefix_field(field, value):
                return {"constant_score": {"filter": {"term": {indexed: value}}, "boost": boost}}
            return {"prefix": {field: {"value": value, "boost": boost}}}
        case q.Fuzzy(field, value, distance, boost):
            if distance == 0:
                return render(q.Term(field, value, boost))
            return {
                "fuzzy": {
                    field: {
                        "value": value,
                        "fuzziness": distance,
                        "transpositions": True,
                        "prefix_length": 0,
                        "max_expansions": FUZZY_MAX_EXPANSIONS,
                        # tantivy scores every fuzzy match alike (the boost), with no expansion cap.
                        "rewrite": "constant_score",
                        "boost": boost,
                    }
                }
            }
        case q.Range(field, gte, gt, lte, lt):
            bounds = {
                name: _value(field, bound)
                for name, bound in (("gte", gte), ("gt", gt), ("lte", lte), ("lt", lt))
                if bound is not None
            }
            if FIELDS[field].kind == "date":
                bounds["format"] = "epoch_millis"
            return {"range": {field: bounds}}
        case q.Exists(field):
            return {"exists": {"field": field}}
        case q.Bool():
            return _bool(node)
    raise TypeError(f"unknown query node {node!r}")


def _bool(node: q.Bool) -> dict[str, Any]:
    clauses: dict[str, Any] = {}
    for occur, nodes in (
        ("must", node.must),
        ("filter", node.filter),
        ("should", node.should),
        ("must_not", node.must_not),
    ):
        if nodes:
            clauses[occur] = [render(n) for n in nodes]
    if node.should and node.minimum_should_match > 0:
        # Explicit: with must or filter present, the engines' default would make should optional.
        clauses["minimum_should_match"] = node.minimum_should_match
    if not (node.must or node.filter or node.should):
        # Only negations (or nothing): match everything else, scored like tantivy's all-query.
        clauses["must"] = [{"match_all": {}}]
    return {"bool": clauses}


def search_body(plan: q.Plan) -> dict[str, Any]:
    """The search request of a plan: query, order, page, totals and facet aggregations."""
    body: dict[str, Any] = {
        "query": render(plan.query),
        "size": plan.size,
        "track_total_hits": TRACK_TOTAL_HITS,
        "_source": ["display"],
    }
    if plan.sort.field:
        order = "desc" if plan.sort.descending else "asc"
        body["sort"] = [{plan.sort.field: order}, {"seq": order}]
        if plan.after is not None:
            value, seq = plan.after
            body["search_after"] = [_value(plan.sort.field, value), seq]
    else:
        body["sort"] = ["_score", {"seq": "desc"}]
        body["from"] = plan.offset
    if plan.facets:
        body["aggs"] = {f: {"terms": {"field": f, "size": FACET_SIZE}} for f in plan.facets}
    return body


def result_of(plan: q.Plan, response: Any) -> Result:
    """The Result of a search response."""
    hits = []
    for raw in response["hits"]["hits"]:
        display = raw["_source"]["display"]
        if plan.sort.field:
            value, seq = raw["sort"]
            hits.append(Hit(display, 0.0, value, int(seq)))
        else:
            hits.append(Hit(display, float(raw.get("_score") or 0.0)))
    aggregations = response.get("aggregations") or {}
    facets = {
        f: [(str(b["key"]), int(b["doc_count"])) for b in aggregations[f]["buckets"]] for f in plan.facets
    }
    return Result(hits, int(response["hits"]["total"]["value"]), facets)


# -- the backend ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    """A client for one engine and the exceptions it raises."""

    client: Any
    not_found: type[Exception]
    request_error: type[Exception]
    # Raised when the engine cannot be reached at all (refused, timed out).
    unreachable: type[Exception]

    @classmethod
    def open(cls, kind: Kind, url: str) -> "Connection":
        """Connect with the engine's own client (the elasticsearch client only talks to Elasticsearch)."""
        if kind == "elasticsearch":
            client: Any = elasticsearch.Elasticsearch(url, request_timeout=_TIMEOUT_SECONDS)
            return cls(
                client, elasticsearch.NotFoundError, elasticsearch.ApiError, elasticsearch.TransportError
            )
        if kind == "opensearch":
            client = opensearchpy.OpenSearch(hosts=[url], timeout=_TIMEOUT_SECONDS)
            return cls(
                client, opensearchpy.NotFoundError, opensearchpy.TransportError, opensearchpy.ConnectionError
            )
        raise ValueError(f"unknown cluster kind {kind!r}")


class ClusterBackend:
    """An Elasticsearch or OpenSearch index generation behind an alias."""

    def __init__(
        self,
        kind: Kind,
        url: str,
        alias: str,
        *,
        shards: int = 1,
        replicas: int = 1,
        connection: Connection | None = None,
        index: str | None = None,
    ) -> None:
        """Open the live index behind `alias` (created on first use), or, for a rebuild, `index`."""
        self.name: str = kind
        self.kind = kind
        self.url = url
        self.alias = alias
        self.shards, self.replicas = shards, replicas
        self._meta = f"{alias}-meta"
        self._connection = connection or Connection.open(kind, url)
        self._client = self._connection.client
        self._ensure_meta()
        # The live index is read and written through the alias, so every replica follows a
        # rebuild's swap at once; a rebuild generation is written by its concrete name.
        self.index = index or self._live_index()
        self._read = self.alias if index is None else index
        self._write = self._read

    @classmethod
    def from_settings(cls, settings: "SearchSettings") -> "ClusterBackend":
        """The backend the search settings name (elasticsearch or opensearch)."""
        kind = settings.backend
        if kind not in ("elasticsearch", "opensearch"):
            raise ValueError(f"{kind!r} is not a cluster backend")
        url = settings.elasticsearch_url if kind == "elasticsearch" else settings.opensearch_url
        if not url:
            raise ValueError(f"CRM_SEARCH_BACKEND={kind} needs {kind.upper()}_URL")
        return cls(kind, url, settings.index_alias)

    # -- indices ---------------------------------------------------------------------------

    def _index_name(self, version: int) -> str:
        return f"{self.alias}-v{version}"

    def _versions(self) -> dict[int, bool]:
        """Version number of each index generation behind this alias, and whether it is aliased."""
        found = self._client.indices.get_alias(index=f"{self.alias}-v*")
        pattern = re.compile(rf"{re.escape(self.alias)}-v(\d+)")
        versions = {}
        for name, info in found.items():
            if matched := pattern.fullmatch(name):
                versions[int(matched.group(1))] = self.alias in (info.get("aliases") or {})
        return versions

    def _create(self, name: str, *, aliased: bool) -> None:
        body: dict[str, Any] = {
            "settings": index_settings(shards=self.shards, replicas=self.replicas),
            "mappings": mapping(),
        }
        if aliased:
            body["aliases"] = {self.alias: {}}
        self._client.indices.create(index=name, body=body)

    def _live_index(self) -> str:
        """The index the alias points at, creating the first generation on first use."""
        for _ in range(3):
            versions = self._versions()
            live = [v for v, aliased in versions.items() if aliased]
            if len(live) > 1:
                raise RuntimeError(f"alias {self.alias} points at several indices: {sorted(live)}")
            if live:
                self._add_new_fields(self._index_name(live[0]))
                return self._index_name(live[0])
            name = self._index_name(max(versions, default=0) + 1)
            try:
                self._create(name, aliased=True)
                return name
            except self._connection.request_error as exc:
                if "resource_already_exists_exception" not in str(exc):
                    raise
                # Another process created it first: read the alias again.
        raise RuntimeError(f"could not create the first index behind {self.alias}")

    def _add_new_fields(self, index: str) -> None:
        """Map the fields this version adds to an index an earlier version created.

        Adding fields is the one mapping change an index takes in place; documents carry them
        as they are written again, and `python -m services.search rebuild` fills them at once.
        """
        found = self._client.indices.get_mapping(index=index)
        current = next(iter(found.values()))["mappings"].get("properties", {})
        missing = {k: v for k, v in mapping()["properties"].items() if k not in current}
        if missing:
            log.warning("adding fields %s to %s; rebuild to fill them", sorted(missing), index)
            self._client.indices.put_mapping(index=index, body={"properties": missing})

    def _ensure_meta(self) -> None:
        if self._client.indices.exists(index=self._meta):
            return
        try:
            self._client.indices.create(index=self._meta, body=_meta_body(replicas=self.replicas))
        except self._connection.request_error as exc:
            if "resource_already_exists_exception" not in str(exc):
                raise

    @contextlib.contextmanager
    def _available(self) -> Iterator[None]:
        """Turn the engine being down, restarting or overloaded into BackendUnavailable."""
        try:
            yield
        except self._connection.unreachable as exc:
            raise BackendUnavailable(f"{self.kind} at {self.url} cannot be reached: {exc}") from exc
        except self._connection.request_error as exc:
            if getattr(exc, "status_code", None) in TRANSIENT_STATUSES:
                raise BackendUnavailable(f"{self.kind} cannot serve now: {exc}") from exc
            raise

    # -- writing ---------------------------------------------------------------------------

    def apply(
        self,
        upserts: list[dict[str, Any]],
        deletes: list[str],
        position: int,
        versions: Mapping[str, int] | None = None,
    ) -> None:
        """Replace or remove documents in one refreshed bulk write, then record the position.

        With versions, each write carries its change's feed position as an external version:
        the cluster keeps the highest, so concurrent indexers cannot reorder a customer's changes.
        """
        versions = versions or {}

        def action(customer_id: str) -> dict[str, Any]:
            meta: dict[str, Any] = {"_index": self._write, "_id": customer_id}
            if self._write == self.alias:
                meta["require_alias"] = True
            if customer_id in versions:
                meta |= {"version": versions[customer_id], "version_type": "external_gte"}
            return meta

        operations: list[dict[str, Any]] = []
        for document in upserts:
            operations += [{"index": action(document["id"])}, source(document)]
        operations += [{"delete": action(customer_id)} for customer_id in deletes]
        with self._available():
            if operations:
                response = self._client.bulk(body=operations, refresh="true")
                failures = [
                    outcome
                    for item in response["items"]
                    for outcome in item.values()
                    if outcome.get("error") is not None and not _superseded(outcome)
                ]
                if any(not _transient(f) for f in failures):
                    raise BulkError([f for f in failures if not _transient(f)])
                if failures:
                    # The batch is written again whole: versioned writes make that harmless.
                    raise BackendUnavailable(f"{len(failures)} bulk item(s) not taken now: {failures[0]}")
            self._client.index(index=self._meta, id=self._write, body={"position": position})

    def position(self) -> int:
        """The last feed position recorded for this index generation."""
        return self._recorded(self._write)

    def count(self) -> int:
        """Documents in the index."""
        with self._available():
            return int(self._client.count(index=self._read)["count"])

    def feed_position(self, feed: str) -> int:
        """The last position recorded of another followed feed for this index generation."""
        return self._recorded(f"{self._write}#{feed}")

    def _recorded(self, record: str) -> int:
        with self._available():
            try:
                found = self._client.get(index=self._meta, id=record)
            except self._connection.not_found:
                return 0
        return int(found["_source"]["position"])

    def set_feed_position(self, feed: str, position: int) -> None:
        """Record another feed's position (after the writes it covers were refreshed)."""
        with self._available():
            self._client.index(index=self._meta, id=f"{self._write}#{feed}", body={"position": position})

    def sources(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The display fields of the documents with these ids."""
        if not ids:
            return {}
        with self._available():
            found = self._client.mget(index=self._read, body={"ids": list(ids)}, _source=["display"])
        return {d["_id"]: d["_source"]["display"] for d in found["docs"] if d.get("found")}

    # -- rebuilds --------------------------------------------------------------------------

    def begin_rebuild(self) -> "ClusterBackend":
        """An empty next generation, not yet behind the alias (a stale one is replaced)."""
        version = int(self._live_index().rsplit("-v", 1)[1]) + 1
        name = self._index_name(version)
        self._delete_generation(name)
        self._create(name, aliased=False)
        return ClusterBackend(
            self.kind,
            self.url,
            self.alias,
            shards=self.shards,
            replicas=self.replicas,
            connection=self._connection,
            index=name,
        )

    def finish_rebuild(self, fresh: "ClusterBackend") -> None:  # type: ignore[override]
        """Move the alias to the rebuilt index in one atomic call, then delete the old one."""
        old = self._live_index()
        self._client.indices.update_aliases(
            body={
                "actions": [
                    {"remove": {"index": old, "alias": self.alias}},
                    {"add": {"index": fresh.index, "alias": self.alias}},
                ]
            }
        )
        # The position now belongs to the alias, where every replica's indexer reads it.
        self._client.index(index=self._meta, id=self.alias, body={"position": fresh.position()})
        tags = fresh.feed_position("tags")
        with contextlib.suppress(self._connection.not_found):
            self._client.delete(index=self._meta, id=fresh.index)
        with contextlib.suppress(self._connection.not_found):
            self._client.delete(index=self._meta, id=f"{fresh.index}#tags")
        self._client.index(index=self._meta, id=f"{self.alias}#tags", body={"position": tags})
        fresh._read = fresh._write = self.alias
        self.index, self._read, self._write = fresh.index, self.alias, self.alias
        self._delete_generation(old)

    def _delete_generation(self, name: str) -> None:
        """Delete an index generation and its position record, if they exist."""
        if self._client.indices.exists(index=name):
            self._client.indices.delete(index=name)
        with contextlib.suppress(self._connection.not_found):
            self._client.delete(index=self._meta, id=name)
        with contextlib.suppress(self._connection.not_found):
            self._client.delete(index=self._meta, id=f"{name}#tags")

    def drop(self) -> None:
        """Delete every index generation of this alias and the position records."""
        names = [self._index_name(v) for v in self._versions()]
        if self._client.indices.exists(index=self._meta):
            names.append(self._meta)
        if names:
            # By name, not wildcard: clusters refuse wildcard deletes (destructive_requires_name).
            self._client.indices.delete(index=names)

    def close(self) -> None:
        """Close the client's connections (shared with a rebuilt generation)."""
        self._client.close()

    # -- searching -------------------------------------------------------------------------

    def search(self, plan: q.Plan) -> Result:
        """Run a plan: hits in order, total, facet counts."""
        with self._available():
            response = self._client.search(index=self._read, body=search_body(plan))
        return result_of(plan, response)
