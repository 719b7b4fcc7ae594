"""The embedded backend: a tantivy index in a local folder (one writer: this process)."""

import json
import logging
import os
import shutil
import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import tantivy
from tantivy import Document, FieldType, Filter, Occur, Order, Query, TextAnalyzerBuilder, Tokenizer

from services.search import query as q
from services.search.backend import Hit, Result
from services.search.documents import FIELDS, MAPPING, NGRAM_ANALYZER, prefix_field

log = logging.getLogger(__name__)
_WRITER_HEAP = 128_000_000


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    for spec in MAPPING:
        if spec.kind == "keyword":
            builder.add_text_field(spec.name, tokenizer_name="raw", fast=True, index_option="freq")
        elif spec.kind == "text":
            builder.add_text_field(spec.name, tokenizer_name=NGRAM_ANALYZER, index_option="freq")
        elif spec.kind in ("long", "date"):
            builder.add_integer_field(spec.name, indexed=True, fast=True)
        else:
            builder.add_bytes_field(spec.name, stored=True, indexed=False)
    return builder.build()


def _ngram() -> tantivy.TextAnalyzer:
    return (
        TextAnalyzerBuilder(Tokenizer.ngram(min_gram=1, max_gram=2, prefix_only=False))
        .filter(Filter.lowercase())
        .build()
    )


def _millis(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _value(field_name: str, value: Any) -> Any:
    """A query value in the form the index stores (dates as epoch milliseconds)."""
    if FIELDS[field_name].kind == "date" and isinstance(value, datetime):
        return _millis(value)
    return value


class TantivyBackend:
    """A tantivy index under a folder; `current` names the live generation for rebuilds."""

    name = "tantivy"

    def __init__(self, folder: Path, *, generation: str | None = None) -> None:
        self._folder = Path(folder)
        self._folder.mkdir(parents=True, exist_ok=True)
        pointer = self._folder / "current"
        if generation is None:
            generation = pointer.read_text().strip() if pointer.exists() else "g1"
            pointer.write_text(generation)
        self.generation = generation
        self._path = self._folder / generation
        self._path.mkdir(parents=True, exist_ok=True)
        self.schema = _schema()
        try:
            self._index = tantivy.Index(self.schema, path=str(self._path), reuse=True)
        except ValueError as exc:
            if "schema does not match" not in str(exc):
                raise
            self._index = self._start_next_generation()
        self._index.register_tokenizer(NGRAM_ANALYZER, _ngram())
        self._writer = self._index.writer(_WRITER_HEAP, 1)
        self._lock = threading.Lock()

    def _start_next_generation(self) -> "tantivy.Index":
        """An empty index in the next generation, for an index an earlier mapping wrote.

        Its feed positions start at 0, so the indexer refills it from the change feeds; searches
        find fewer customers until it has caught up (`python -m services.search status`).
        """
        stale = self._path
        self.generation = f"g{int(self.generation.lstrip('g')) + 1}"
        self._path = self._folder / self.generation
        shutil.rmtree(self._path, ignore_errors=True)
        self._path.mkdir(parents=True)
        index = tantivy.Index(self.schema, path=str(self._path), reuse=True)
        (self._folder / "current").write_text(self.generation)
        shutil.rmtree(stale, ignore_errors=True)
        log.warning(
            "the index was written with an earlier mapping; refilling %s from the change feed",
            self.generation,
        )
        return index

    # -- writing ---------------------------------------------------------------------------

    def _document(self, data: dict[str, Any]) -> Document:
        doc = Document()
        for spec in MAPPING:
            value = data.get(spec.name)
            if value is None or value == "" or value == []:
                continue
            values = value if spec.multi else [value]
            for item in values:
                if spec.kind in ("keyword", "text"):
                    doc.add_text(spec.name, item)
                elif spec.kind == "long":
                    doc.add_integer(spec.name, int(item))
                elif spec.kind == "date":
                    doc.add_integer(spec.name, _millis(item))
                else:
                    doc.add_bytes(spec.name, json.dumps(item, ensure_ascii=False).encode())
        return doc

    def apply(
        self,
        upserts: list[dict[str, Any]],
        deletes: list[str],
        position: int,
        versions: Mapping[str, int] | None = None,
    ) -> None:
        """Replace or remove documents, commit, then record the position.

        One process writes a tantivy index, in feed order, so versions are not needed here.
        """
        with self._lock:
            for data in upserts:
                self._writer.delete_documents_by_term("id", data["id"])
                self._writer.add_document(self._document(data))
            for customer_id in deletes:
                self._writer.delete_documents_by_term("id", customer_id)
            self._writer.commit()
            self._index.reload()
            tmp = self._path / "position.json.tmp"
            tmp.write_text(json.dumps({"position": position}))
            os.replace(tmp, self._path / "position.json")

    def position(self) -> int:
        """The last feed position committed to this index."""
        path = self._path / "position.json"
        return int(json.loads(path.read_text())["position"]) if path.exists() else 0

    def count(self) -> int:
        """Documents in the index."""
        return int(self._index.searcher().num_docs)

    def feed_position(self, feed: str) -> int:
        """The last position committed of another followed feed."""
        path = self._path / f"{feed}-position.json"
        return int(json.loads(path.read_text())["position"]) if path.exists() else 0

    def set_feed_position(self, feed: str, position: int) -> None:
        """Record another feed's position (after the writes it covers were committed)."""
        with self._lock:
            tmp = self._path / f"{feed}-position.json.tmp"
            tmp.write_text(json.dumps({"position": position}))
            os.replace(tmp, self._path / f"{feed}-position.json")

    def sources(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The display fields of the documents with these ids."""
        if not ids:
            return {}
        searcher = self._index.searcher()
        found = searcher.search(Query.term_set_query(self.schema, "id", list(ids)), len(ids)).hits
        shown = [self._display(searcher, address) for _, address in found]
        return {d["id"]: d for d in shown}

    # -- rebuilds --------------------------------------------------------------------------

    def begin_rebuild(self) -> "TantivyBackend":
        """An empty next generation beside this one."""
        number = int(self.generation.lstrip("g")) + 1
        fresh_path = self._folder / f"g{number}"
        shutil.rmtree(fresh_path, ignore_errors=True)
        return TantivyBackend(self._folder, generation=f"g{number}")

    def finish_rebuild(self, fresh: "TantivyBackend") -> None:  # type: ignore[override]
        """Point `current` at the rebuilt generation and delete this one."""
        (self._folder / "current").write_text(fresh.generation)
        self.close()
        shutil.rmtree(self._path, ignore_errors=True)

    def close(self) -> None:
        """Release the writer (and with it the index lock)."""
        with self._lock:
            self._writer.wait_merging_threads()

    # -- searching -------------------------------------------------------------------------

    def render(self, node: q.Node) -> Query:
        """The tantivy query for a plan node."""
        schema = self.schema
        match node:
            case q.MatchAll():
                return Query.all_query()
            case q.Term(field, value, boost):
                term = Query.term_query(schema, field, _value(field, value))
                return term if boost == 1.0 else Query.boost_query(term, boost)
            case q.Terms(field, values):
                return Query.term_set_query(schema, field, [_value(field, v) for v in values])
            case q.Prefix(field, value, boost):
                if indexed := prefix_field(field, value):
                    return Query.const_score_query(Query.term_query(schema, indexed, value), boost)
                prefix = Query.fuzzy_term_query(schema, field, value, distance=0, prefix=True)
                return Query.boost_query(prefix, boost)
            case q.Fuzzy(field, value, distance, boost):
                if distance == 0:
                    return self.render(q.Term(field, value, boost))
                fuzzy = Query.fuzzy_term_query(
                    schema, field, value, distance=distance, transposition_cost_one=True
                )
                return Query.boost_query(fuzzy, boost)
            case q.Range(field, gte, gt, lte, lt):
                lower = gte if gte is not None else gt
                upper = lte if lte is not None else lt
                return Query.range_query(
                    schema,
                    field,
                    FieldType.Integer,
                    None if lower is None else _value(field, lower),
                    None if upper is None else _value(field, upper),
                    include_lower=gt is None,
                    include_upper=lt is None,
                )
            case q.Exists(field):
                return Query.exists_query(field)
            case q.Bool():
                return self._bool(node)
        raise TypeError(f"unknown query node {node!r}")

    def _bool(self, node: q.Bool) -> Query:
        clauses: list[tuple[Occur, Query]] = [(Occur.Must, self.render(n)) for n in node.must]
        clauses += [(Occur.Must, Query.const_score_query(self.render(n), 0.0)) for n in node.filter]
        shoulds = [(Occur.Should, self.render(n)) for n in node.should]
        if shoulds and clauses and node.minimum_should_match:
            clauses.append((Occur.Must, Query.boolean_query(shoulds)))
        else:
            clauses += shoulds
        clauses += [(Occur.MustNot, self.render(n)) for n in node.must_not]
        if all(occur == Occur.MustNot for occur, _ in clauses):
            clauses.append((Occur.Must, Query.all_query()))
        return Query.boolean_query(clauses)

    def search(self, plan: q.Plan) -> Result:
        """Run a plan: hits in order, total, facet counts."""
        searcher = self._index.searcher()
        base = self.render(plan.query)
        facets = self._facets(searcher, base, plan.facets)
        if not plan.sort.field:
            found = searcher.search(base, plan.size, count=True, offset=plan.offset)
            hits = [Hit(self._display(searcher, addr), float(score)) for score, addr in found.hits]
            return Result(hits, int(found.count or 0), facets)
        total = int(searcher.search(base, 1, count=True).count or 0)
        return Result(self._sorted_page(searcher, plan), total, facets)

    def _sorted_page(self, searcher: Any, plan: q.Plan) -> list[Hit]:
        field, desc = plan.sort.field, plan.sort.descending
        order = Order.Desc if desc else Order.Asc
        node = plan.query
        if plan.after is not None:
            value, seq = plan.after
            before = q.Range(field, lt=value) if desc else q.Range(field, gt=value)
            tie = q.Bool(
                filter=(q.Term(field, value), q.Range("seq", lt=seq) if desc else q.Range("seq", gt=seq))
            )
            node = q.Bool(must=(node,), filter=(q.Bool(should=(before, tie), minimum_should_match=1),))
        found = searcher.search(self.render(node), plan.size, order_by_field=field, order=order).hits
        if not found:
            return []
        addresses = [addr for _, addr in found]
        values = [int(v) for v in searcher.fast_field_values(field, addresses)]
        seqs = [int(v) for v in searcher.fast_field_values("seq", addresses)]
        rows = list(zip(values, seqs, addresses, strict=True))
        if len(rows) == plan.size:
            # tantivy orders ties arbitrarily: take the boundary value's members by seq.
            last = rows[-1][0]
            keep = [r for r in rows if r[0] != last]
            tied = q.Bool(must=(node,), filter=(q.Term(field, last),))
            more = searcher.search(
                self.render(tied), plan.size - len(keep), order_by_field="seq", order=order
            ).hits
            keep += [(last, int(s), a) for s, a in more]
            rows = keep
        rows.sort(key=lambda r: (r[0], r[1]), reverse=desc)
        return [Hit(self._display(searcher, a), 0.0, v, s) for v, s, a in rows]

    def _facets(
        self, searcher: Any, base: Query, fields: tuple[str, ...]
    ) -> dict[str, list[tuple[str, int]]]:
        if not fields:
            return {}
        spec = {f: {"terms": {"field": f, "size": 50}} for f in fields}
        found = searcher.aggregate(base, spec)
        return {f: [(b["key"], int(b["doc_count"])) for b in found[f]["buckets"]] for f in fields}

    @staticmethod
    def _display(searcher: Any, address: Any) -> dict[str, Any]:
        return json.loads(bytes(searcher.doc(address)["display"][0]))  # type: ignore[no-any-return]
