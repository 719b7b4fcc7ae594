"""An embedded index written with an earlier mapping is replaced, and refilled from the feed."""

from pathlib import Path

import tantivy

from services.search import documents
from services.search import query as q
from services.search.tantivy_backend import TantivyBackend
from tests.search.test_contract import DATASET


def test_an_index_from_an_earlier_mapping_starts_over_in_the_next_generation(tmp_path: Path) -> None:
    folder = tmp_path / "search"
    (folder / "g1").mkdir(parents=True)
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", tokenizer_name="raw", fast=True)
    earlier = tantivy.Index(builder.build(), path=str(folder / "g1"), reuse=False)
    writer = earlier.writer(15_000_000, 1)
    writer.add_document(tantivy.Document(id="C20240501001"))
    writer.commit()
    writer.wait_merging_threads()
    (folder / "current").write_text("g1")
    (folder / "g1" / "position.json").write_text('{"position": 70}')

    upgraded = TantivyBackend(folder)
    try:
        # Empty, at feed position 0: the indexer refills it from the start of the feed.
        assert (upgraded.generation, upgraded.count(), upgraded.position()) == ("g2", 0, 0)
        assert (folder / "current").read_text() == "g2" and not (folder / "g1").exists()
        upgraded.apply([documents.build(s) for s in DATASET], [], len(DATASET))
        typo = q.Bool(should=tuple(q.Term("name_fuzzy", k) for k in documents.fuzzy_keys("张山丰")))
        assert [h.display["name"] for h in upgraded.search(q.Plan(query=typo)).hits] == ["张三丰"]
    finally:
        upgraded.close()
    assert TantivyBackend(folder).generation == "g2"  # and it stays
