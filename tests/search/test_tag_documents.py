"""What the tag feed needs of every backend: documents read back by id, rebuilt from their
display with new tags, and a second feed position kept with the index."""

from crm.common.v1 import common_pb2 as c
from services.common.identity import Caller
from services.search import documents, service
from services.search.backend import SearchBackend
from tests.search.test_contract import customer

ADMIN = Caller(id="u-admin", roles=("admin",), scope="all", permissions=("*",))


def tagged(backend: SearchBackend, op: str, *tags: str) -> set[str]:
    cond = c.Condition(field=c.FieldTest(field="tags", **{op: c.Values(values=list(tags))}))
    page = service.search(
        backend=backend, caller=ADMIN, text="", cond=cond, sort="", size=50, token="", facets=[]
    )
    return {h["id"] for h in page.hits}


def test_documents_rebuilt_from_their_display_take_new_tags(backend: SearchBackend) -> None:
    first, second = customer(1, "杭州云栖软件有限公司", phones=("13900001111",)), customer(2, "张三丰")
    backend.apply([documents.build(first), documents.build(second, ["老客户"])], [], 7)
    shown = backend.sources([first["id"], second["id"], "C20991231999"])
    assert set(shown) == {first["id"], second["id"]} and shown[second["id"]]["tags"] == ["老客户"]
    rebuilt = documents.build(shown[first["id"]], ["金牌", "试用"])
    assert {k: v for k, v in rebuilt.items() if k not in ("tags", "display")} == {
        k: v for k, v in documents.build(first).items() if k not in ("tags", "display")
    }
    backend.apply([rebuilt], [], backend.position())
    backend.set_feed_position("tags", 42)
    assert tagged(backend, "all_of", "金牌", "试用") == {first["id"]}
    assert tagged(backend, "any_of", "老客户", "金牌") == {first["id"], second["id"]}
    assert tagged(backend, "none_of", "试用") == {second["id"]}
    assert backend.position() == 7 and backend.feed_position("tags") == 42
    assert backend.feed_position("other") == 0
