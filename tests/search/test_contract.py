"""What users expect of search, on every backend: the same customers found the same way."""

from typing import Any

import pytest

from crm.common.v1 import common_pb2 as c
from services.common.errors import InvalidArgument, PermissionDenied
from services.common.identity import Caller
from services.search import documents, service
from services.search.backend import SearchBackend

ADMIN = Caller(id="u-admin", roles=("admin",), scope="all", permissions=("*",))
REP = Caller(id="S1", roles=("sales",), scope="own")
TEAM_LEAD = Caller(id="S3", roles=("manager",), scope="team", teammates=("S1",))
SERVICE_AGENT = Caller(id="V1", roles=("service",), scope="all", hidden_fields=("financial",))
MASKED = Caller(id="V2", roles=("service",), scope="all", masked_fields=("contact",))
NO_CONTACTS = Caller(id="M1", roles=("marketing",), scope="all", hidden_fields=("contact", "financial"))


def customer(
    seq: int,
    name: str,
    *,
    kind: str = "company",
    owner: str = "S1",
    industry: str = "3411",
    region: str = "310115",
    amount: str = "0.00",
    tier: str = "C",
    status: str = "potential",
    phones: tuple[str, ...] = (),
    emails: tuple[str, ...] = (),
    contact: str = "王芳",
    last_order_at: str | None = None,
) -> dict[str, Any]:
    snapshot = {
        "id": f"C20240501{seq:03d}",
        "name": name,
        "kind": kind,
        "industry_code": industry,
        "region_code": region,
        "tier": tier,
        "deal_amount_12m": amount,
        "status": status,
        "stage": "lead",
        "owner_id": owner,
        "source_channel": "manual",
        "version": "1",
        "created_at": f"2024-05-01T00:{seq % 60:02d}:00Z",
        "updated_at": "2024-05-01T00:00:00Z",
        "contacts": [{"name": contact, "phones": list(phones), "emails": list(emails)}],
    }
    if last_order_at:
        snapshot["last_order_at"] = last_order_at
    return snapshot


DATASET = [
    customer(
        1,
        "张三",
        kind="individual",
        phones=("13812345678",),
        amount="520000.00",
        tier="A",
        last_order_at="2024-04-01T00:00:00Z",
    ),
    customer(2, "张三丰", kind="individual", phones=("13912340000",), amount="150000.00", tier="B"),
    customer(3, "李四", kind="individual", owner="S2", phones=("13700005678",)),
    customer(
        4,
        "上海明辉精密机械有限公司",
        industry="3411",
        region="310115",
        amount="800000.00",
        tier="A",
        emails=("zhangwei@minghui.cn",),
        contact="张伟",
        last_order_at="2024-03-01T00:00:00Z",
    ),
    customer(
        5,
        "深圳云栖软件有限公司",
        industry="6511",
        region="440305",
        owner="S2",
        amount="120000.00",
        tier="B",
        contact="陈晨",
    ),
    customer(6, "单雄信", kind="individual", region="440304", owner="S2"),
    customer(7, "曾国藩", kind="individual", region="430102", owner="S3"),
    customer(
        8,
        "重庆长安汽车股份有限公司",
        industry="3611",
        region="500103",
        owner="S3",
        amount="800000.00",
        tier="A",
        status="deal",
    ),
    customer(9, "北京华信贸易有限公司", industry="5191", region="110105", status="churned"),
    customer(10, "广州华信电子有限公司", industry="3971", region="440106", amount="120000.00", tier="B"),
]
for n in range(11, 36):  # filler to make pages and ties
    DATASET.append(
        customer(
            n,
            f"杭州星河{n}号科技有限公司",
            industry="6511",
            region="330106",
            owner="S1" if n % 2 else "S2",
            amount=f"{(n % 3) * 10000}.00",
        )
    )


@pytest.fixture
def index(backend: SearchBackend) -> SearchBackend:
    backend.apply([documents.build(s) for s in DATASET], [], len(DATASET))
    return backend


def find(
    backend: SearchBackend,
    text: str = "",
    caller: Caller = ADMIN,
    cond: c.Condition | None = None,
    sort: str = "",
    size: int = 50,
    facets: list[str] | None = None,
) -> service.Page:
    return service.search(
        backend=backend,
        caller=caller,
        text=text,
        cond=cond,
        sort=sort,
        size=size,
        token="",
        facets=facets or [],
    )


def names(page: service.Page) -> list[str]:
    return [h["name"] for h in page.hits]


def field(name: str, **test: Any) -> c.Condition:
    kind, value = next(iter(test.items()))
    ft = c.FieldTest(field=name)
    if kind == "range":
        ft.range.CopyFrom(c.Range(**value))
    elif kind == "exists":
        ft.exists = value
    else:
        getattr(ft, kind).values.extend(value)
    return c.Condition(field=ft)


def all_of(*conds: c.Condition) -> c.Condition:
    return c.Condition(all=c.ConditionList(conditions=list(conds)))


def any_of(*conds: c.Condition) -> c.Condition:
    return c.Condition(any=c.ConditionList(conditions=list(conds)))


def test_the_exact_name_comes_first(index: SearchBackend) -> None:
    found = names(find(index, "张三"))
    assert found[0] == "张三" and "张三丰" in found
    assert names(find(index, "上海明辉精密机械有限公司"))[0] == "上海明辉精密机械有限公司"


def test_partial_names_and_typos(index: SearchBackend) -> None:
    assert names(find(index, "明辉"))[0] == "上海明辉精密机械有限公司"
    assert "张三丰" in names(find(index, "张山丰"))  # one wrong character
    assert "张三丰" in names(find(index, "三张丰"))  # two characters swapped
    assert "张三丰" in names(find(index, "张三丰丰"))  # one character too many
    assert "单雄信" in names(find(index, "单熊信"))  # a homophone typed for the right character
    assert "曾国藩" not in names(find(index, "曾果番"))  # two wrong characters are another name
    assert names(find(index, "zhangsna"))[:1] == ["张三"]  # one typo in the pinyin
    assert set(names(find(index, "华信"))) >= {"北京华信贸易有限公司", "广州华信电子有限公司"}


def test_a_contact_is_found_with_a_typo_unless_contacts_are_hidden(index: SearchBackend) -> None:
    assert "深圳云栖软件有限公司" in names(find(index, "陈晨晨"))
    hidden = Caller(id="M1", roles=("marketing",), scope="all", hidden_fields=("contact",))
    assert "深圳云栖软件有限公司" not in names(find(index, "陈晨晨", caller=hidden))


def test_suggestions_complete_short_and_long_beginnings(index: SearchBackend) -> None:
    def suggested(prefix: str) -> list[str]:
        return [s["name"] for s in service.suggest(backend=index, caller=ADMIN, prefix=prefix, limit=5)]

    assert suggested("上")[:1] == ["上海明辉精密机械有限公司"]
    assert suggested("上海明辉精")[:1] == ["上海明辉精密机械有限公司"]  # beyond the indexed prefixes
    assert set(suggested("zhang")[:2]) == {"张三", "张三丰"}
    assert suggested("shanghaiminghuij")[:1] == ["上海明辉精密机械有限公司"]  # a long pinyin beginning
    assert suggested("chongqingchang")[:1] == ["重庆长安汽车股份有限公司"]


def test_full_pinyin_and_initials(index: SearchBackend) -> None:
    assert names(find(index, "zhangsan"))[0] == "张三"
    assert names(find(index, "zs"))[0] == "张三"
    assert "张三丰" in names(find(index, "zsf"))
    assert names(find(index, "Zhang San"))[0] == "张三"
    assert "上海明辉精密机械有限公司" in names(find(index, "shmh"))  # initials prefix of a company


def test_surnames_are_found_by_the_reading_people_say(index: SearchBackend) -> None:
    assert names(find(index, "shanxiongxin"))[:1] == ["单雄信"]
    assert names(find(index, "danxiongxin"))[:1] == ["单雄信"]  # the common misreading too
    assert names(find(index, "zengguofan"))[:1] == ["曾国藩"]
    assert names(find(index, "chongqingchangan"))[:1] == ["重庆长安汽车股份有限公司"]


def test_phone_fragments_emails_and_contacts(index: SearchBackend) -> None:
    assert set(names(find(index, "5678"))) == {"张三", "李四"}  # last four digits
    assert names(find(index, "1234"))[:2] == ["张三", "张三丰"] or set(names(find(index, "1234"))) == {
        "张三",
        "张三丰",
    }
    assert names(find(index, "138 1234 5678")) == ["张三"]
    assert names(find(index, "zhangwei@minghui.cn")) == ["上海明辉精密机械有限公司"]
    assert names(find(index, "陈晨")) == ["深圳云栖软件有限公司"]  # by contact name
    hit = find(index, "5678").hits[0]
    assert "<em>5678</em>" in hit["highlights"]["contacts.phones"]


def test_highlights_mark_the_matched_part(index: SearchBackend) -> None:
    hit = find(index, "明辉").hits[0]
    assert hit["highlights"]["name"] == "上海<em>明辉</em>精密机械有限公司"
    assert find(index, "zs").hits[0]["highlights"]["name"] == "<em>张三</em>"


def test_conditions_combine(index: SearchBackend) -> None:
    manufacturing_a = all_of(field("industry_code", any_of=["C"]), field("tier", any_of=["A"]))
    assert set(names(find(index, cond=manufacturing_a))) == {
        "张三",
        "上海明辉精密机械有限公司",
        "重庆长安汽车股份有限公司",
    }
    guangdong = field("region_code", any_of=["440000"])  # the province and everything in it
    assert set(names(find(index, cond=guangdong))) == {
        "深圳云栖软件有限公司",
        "单雄信",
        "广州华信电子有限公司",
    }
    rich = field("deal_amount_12m", range={"gte": "150000", "lt": "800000"})
    assert set(names(find(index, cond=rich))) == {"张三", "张三丰"}
    not_churned = c.Condition(**{"not": field("status", any_of=["churned", "potential"])})
    assert names(find(index, cond=not_churned)) == ["重庆长安汽车股份有限公司"]
    either = any_of(field("region_code", any_of=["110000"]), field("region_code", any_of=["500000"]))
    assert set(names(find(index, cond=either))) == {"北京华信贸易有限公司", "重庆长安汽车股份有限公司"}
    ordered = field("last_order_at", range={"gte": "2024-03-15T00:00:00+08:00"})
    assert names(find(index, cond=ordered)) == ["张三"]
    assert set(names(find(index, cond=field("last_order_at", exists=True)))) == {
        "张三",
        "上海明辉精密机械有限公司",
    }
    text_and_filter = find(index, "华信", cond=field("region_code", any_of=["440000"]))
    assert names(text_and_filter) == ["广州华信电子有限公司"]


def test_facets_count_what_matches(index: SearchBackend) -> None:
    page = find(index, cond=field("tier", any_of=["A", "B"]), facets=["tier", "region"])
    assert dict(page.facets["tier"]) == {"A": 3, "B": 3}
    assert dict(page.facets["region_province"])["440000"] == 2
    assert page.total == 6


def test_scope_applies_to_every_shape(index: SearchBackend) -> None:
    mine = find(index, caller=REP, facets=["tier"])
    assert {h["owner_id"] for h in mine.hits} == {"S1"}
    assert sum(count for _, count in mine.facets["tier"]) == mine.total
    assert names(find(index, "李四", caller=REP)) == []  # S2's customer stays invisible
    assert names(find(index, "5678", caller=REP)) == ["张三"]
    team = find(index, caller=TEAM_LEAD)
    assert {h["owner_id"] for h in team.hits} == {"S1", "S3"}
    suggested = service.suggest(backend=index, caller=REP, prefix="li", limit=5)
    assert all(s["name"] != "李四" for s in suggested)


def test_hidden_fields_are_neither_shown_nor_searchable(index: SearchBackend) -> None:
    assert names(find(index, "5678", caller=NO_CONTACTS)) == []
    assert names(find(index, "陈晨", caller=NO_CONTACTS)) == []
    hit = find(index, "张三", caller=NO_CONTACTS).hits[0]
    # Contacts keep their names, as in the archive, and lose every detail.
    assert [(c["name"], c["phones"], c["emails"]) for c in hit["contacts"]] == [("王芳", [], [])]
    assert hit["deal_amount_12m"] == "" and hit["tier"] == ""  # the tier is the amount in buckets
    for cond in (field("deal_amount_12m", range={"gte": "1"}), field("tier", any_of=["A"])):
        with pytest.raises(PermissionDenied):
            find(index, caller=SERVICE_AGENT, cond=cond)
    with pytest.raises(PermissionDenied):
        find(index, caller=SERVICE_AGENT, sort="-deal_amount_12m")
    with pytest.raises(PermissionDenied):  # counts per tier would give the amounts away
        find(index, caller=SERVICE_AGENT, facets=["tier"])


def test_sorted_pages_are_complete_and_stable(index: SearchBackend) -> None:
    seen: list[tuple[float, str]] = []
    token = ""
    while True:
        page = service.search(
            backend=index,
            caller=ADMIN,
            text="",
            cond=None,
            sort="-deal_amount_12m",
            size=4,
            token=token,
            facets=[],
        )
        seen += [(float(h["deal_amount_12m"]), h["id"]) for h in page.hits]
        token = page.next_token
        if not token:
            break
    assert len(seen) == len(DATASET) == len(set(seen))
    assert seen == sorted(seen, reverse=True)  # amount, then id, both descending


def test_relevance_pages_do_not_repeat(index: SearchBackend) -> None:
    seen: list[str] = []
    token = ""
    for _ in range(20):
        page = service.search(
            backend=index, caller=ADMIN, text="科技", cond=None, sort="", size=7, token=token, facets=[]
        )
        seen += [h["id"] for h in page.hits]
        token = page.next_token
        if not token:
            break
    assert len(seen) == len(set(seen)) == 25


def test_updates_replace_and_deletes_remove(index: SearchBackend) -> None:
    renamed = customer(2, "张无忌", kind="individual")
    index.apply([documents.build(renamed)], ["C20240501003"], len(DATASET) + 2)
    assert "张三丰" not in names(find(index, "张三丰"))
    assert names(find(index, "zhangwuji"))[:1] == ["张无忌"]
    assert names(find(index, "李四")) == []
    assert index.position() == len(DATASET) + 2
    assert index.count() == len(DATASET) - 1


@pytest.mark.parametrize(
    ("kwargs", "field_name"),
    [
        ({"cond": field("password", any_of=["x"])}, "filter.field.field"),
        ({"cond": field("industry_code", any_of=["ZZ"])}, "filter.field"),
        ({"cond": field("deal_amount_12m", range={"gte": "lots"})}, "filter.field.range.gte"),
        ({"cond": field("created_at", range={"gte": "2024-05-01T00:00:00"})}, "filter.field.range.gte"),
        ({"cond": field("tier", range={"gte": "A"})}, "filter.field.range"),
        ({"cond": c.Condition()}, "filter"),
        ({"cond": c.Condition(all=c.ConditionList())}, "filter.all"),
        ({"sort": "password"}, "sort"),
        ({"size": 1000}, "page_size"),
        ({"text": "长" * 101}, "query"),
        ({"facets": ["salary"]}, "facets"),
    ],
)
def test_bad_queries_are_refused_clearly(
    index: SearchBackend, kwargs: dict[str, Any], field_name: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        find(index, **kwargs)
    assert field_name in {v.field for v in caught.value.violations}


def test_pathological_text_neither_crashes_nor_matches_everything(index: SearchBackend) -> None:
    for text in [".*", "[[", "\\", "*:*", "OR 1=1", "😀😀", "\u0000", "a" * 100, "'\"", "()"]:
        page = find(index, text)
        assert page.total < len(DATASET), text


def test_a_bad_page_token_is_refused(index: SearchBackend) -> None:
    with pytest.raises(InvalidArgument):
        service.search(
            backend=index, caller=ADMIN, text="", cond=None, sort="", size=5, token="garbage!", facets=[]
        )
    page = service.search(
        backend=index, caller=ADMIN, text="", cond=None, sort="-created_at", size=5, token="", facets=[]
    )
    with pytest.raises(InvalidArgument):  # a token is bound to its sort
        service.search(
            backend=index, caller=ADMIN, text="", cond=None, sort="", size=5, token=page.next_token, facets=[]
        )


def test_masked_contacts_are_shown_in_part_and_not_searchable(index: SearchBackend) -> None:
    hit = find(index, "张三", caller=MASKED).hits[0]
    assert hit["contacts"][0]["phones"] == ["138****5678"]
    assert names(find(index, "13812345678", caller=MASKED)) == []


def test_newest_first_holds_across_days_past_the_999th_customer(backend: SearchBackend) -> None:
    ids = ["C20240501999", "C202405011000", "C20240502001", "C202405021234"]
    docs = []
    for n, customer_id in enumerate(ids):
        snapshot = customer(n + 1, f"跨日排序{n}号有限公司")
        snapshot["id"] = customer_id
        docs.append(documents.build(snapshot))
    backend.apply(docs, [], len(docs))
    newest = service.search(
        backend=backend, caller=ADMIN, text="", cond=None, sort="-created_at", size=10, token="", facets=[]
    )
    assert [h["id"] for h in newest.hits] == list(reversed(ids))
