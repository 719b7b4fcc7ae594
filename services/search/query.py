"""The one query builder: a search request becomes a small query tree every backend renders.

The tree says what to match and how much each clause weighs; tantivy and the Elasticsearch /
OpenSearch DSL render it the same way, so all backends find the same customers.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from crm.common.v1 import common_pb2
from services.common import field_rules
from services.common.errors import FieldViolation, InvalidArgument, PermissionDenied
from services.common.identity import Caller
from services.profile import codes
from services.search import analysis, pinyin
from services.search.documents import FIELDS, MIN_PHONE_FRAGMENT, fuzzy_keys

MAX_QUERY_LENGTH = 100
MAX_CONDITIONS = 200
MAX_DEPTH = 8
MAX_VALUES = 500
# Longest Chinese query (characters) also matched by edit distance: people's names.
MAX_FUZZY_NAME = 4
# Longest pinyin query matched by edit distance (a person's full name; a company's pinyin is
# long enough that its prefix and syllables find it).
MAX_FUZZY_PINYIN = 16


@dataclass(frozen=True)
class Term:
    field: str
    value: Any
    boost: float = 1.0


@dataclass(frozen=True)
class Terms:
    field: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Prefix:
    field: str
    value: str
    boost: float = 1.0


@dataclass(frozen=True)
class Fuzzy:
    field: str
    value: str
    distance: int
    boost: float = 1.0


@dataclass(frozen=True)
class Range:
    field: str
    gte: Any = None
    gt: Any = None
    lte: Any = None
    lt: Any = None


@dataclass(frozen=True)
class Exists:
    field: str


@dataclass(frozen=True)
class MatchAll:
    pass


@dataclass(frozen=True)
class Bool:
    must: tuple["Node", ...] = ()
    should: tuple["Node", ...] = ()
    must_not: tuple["Node", ...] = ()
    filter: tuple["Node", ...] = ()
    # With should clauses and nothing in must/filter, at least one should clause must match.
    minimum_should_match: int = 0


Node = Term | Terms | Prefix | Fuzzy | Range | Exists | MatchAll | Bool


@dataclass(frozen=True)
class Sort:
    """Order of results: relevance (field "") or a field, always tie-broken by seq."""

    field: str = ""
    descending: bool = True


@dataclass(frozen=True)
class Plan:
    """Everything a backend needs to run one search."""

    query: Node
    sort: Sort = field(default_factory=Sort)
    size: int = 20
    # For field sorts: continue after (value, seq); for relevance: skip this many.
    after: tuple[Any, int] | None = None
    offset: int = 0
    facets: tuple[str, ...] = ()


# Fields conditions may test, and how their values are read.
CONDITION_FIELDS = {
    "industry_code": "industry_path",
    "region_code": "region_path",
    "tier": "tier",
    "status": "status",
    "stage": "stage",
    "scale": "scale",
    "kind": "kind",
    "owner_id": "owner_id",
    "source_channel": "source_channel",
    "tags": "tags",
    "deal_amount_12m": "deal_amount_12m",
    "last_order_at": "last_order_at",
    "last_follow_up_at": "last_follow_up_at",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
# Sortable fields and the index field that orders them.
SORT_FIELDS = {
    "deal_amount_12m": "deal_amount_12m",
    "last_order_at": "last_order_sort",
    "last_follow_up_at": "last_follow_up_sort",
    "created_at": "seq",
}
FACETS = {
    "industry": "industry_division",
    "region": "region_province",
    "tier": "tier",
    "status": "status",
    "tags": "tags",
}


def _bad(field_path: str, message: str) -> InvalidArgument:
    return InvalidArgument("invalid search", [FieldViolation(field_path, message)])


def visible(caller: Caller, index_field: str) -> bool:
    """Whether the caller may search, sort or count on an index field (field_rules.may_use)."""
    return field_rules.may_use(caller, FIELDS[index_field].group)


def scope_filter(caller: Caller) -> Node | None:
    """The caller's record scope as a filter, or None for all records."""
    if caller.scope in ("all", "org"):
        return None
    owners = (caller.id, *caller.teammates) if caller.scope == "team" else (caller.id,)
    return Terms("owner_id", owners)


def text_query(text: str, caller: Caller) -> Node:
    """Free text over names, contacts, phones, e-mails and tags, weighted for what users mean."""
    raw = text.strip()
    if len(raw) > MAX_QUERY_LENGTH:
        raise _bad("query", f"must be at most {MAX_QUERY_LENGTH} characters")
    norm = pinyin.normalize_query(raw)
    if not norm:
        return MatchAll()
    shoulds: list[Node] = [Term("name_exact", norm, 20.0), Term("id", raw.upper(), 50.0)]
    contacts = visible(caller, "contact_names")
    digits = "".join(ch for ch in raw if ch.isdigit())
    if (
        contacts
        and len(digits) >= MIN_PHONE_FRAGMENT
        and digits == "".join(ch for ch in raw if not ch.isspace() and ch not in "-+()").lstrip("+")
    ):
        shoulds.append(Term("phone_fragments", digits[-11:] if len(digits) > 11 else digits, 10.0))
    if contacts and "@" in raw:
        address = analysis.email(raw)
        shoulds += [Term("emails", address, 10.0), Prefix("emails", address, 4.0)]
    elif contacts and " " not in raw.strip() and analysis.has_latin(raw):
        # A local part ("john.smith") or a domain ("acme.com") of an address: with a dot, an
        # underscore or a plus in it, it names an address first and the names sharing its words next.
        part = analysis.email(raw)
        shoulds.append(Term("email_parts", part, 40.0 if any(ch in part for ch in "._+") else 6.0))
    shoulds += _word_clauses(analysis.words(raw), "name_words", 1.0)
    if contacts:
        shoulds += _word_clauses(analysis.words(raw), "contact_words", 0.5)
    shoulds.append(Term("tags", raw.lower(), 3.0))
    if pinyin.is_pinyin_like(norm):
        shoulds += _pinyin_clauses(norm, "name_pinyin", "name_initials", 1.0)
        shoulds.append(Term("name_syllables", norm, 2.0))
        if contacts:
            shoulds += _pinyin_clauses(norm, "contact_pinyin", "contact_initials", 0.5)
    grams = _ngrams(norm)
    if grams:
        # A typo in a short name breaks every bigram, so 3-4 character names also match within
        # one edit (through their deletion keys, see documents.fuzzy_keys); longer names keep
        # enough intact bigrams, and 1-2 characters are too few to tell a typo from another name.
        short = 3 <= len(norm) <= MAX_FUZZY_NAME
        shoulds += _ngram_clauses(grams, "name", 1.0)
        shoulds.append(Prefix("name_exact", norm, 5.0))
        if short:
            shoulds += [Term("name_fuzzy", key, 3.0) for key in fuzzy_keys(norm)]
        if contacts:
            shoulds += _ngram_clauses(grams, "contact_names", 0.5)
            shoulds.append(Term("contact_exact", norm, 8.0))
            if short:
                shoulds += [Term("contact_fuzzy", key, 1.5) for key in fuzzy_keys(norm)]
    return Bool(should=tuple(shoulds), minimum_should_match=1)


# Shortest Latin word matched within one edit, and within two.
MIN_FUZZY_WORD = 4
MIN_FUZZY_WORD_2 = 8


def _word_clauses(words: list[str], field_name: str, weight: float) -> list[Node]:
    """Each word of the query as a whole word, as the beginning of one, and within a typo or two.

    Weights rank a whole-name match (name_exact, 20) first, then whole words (6 each), then
    beginnings (3) and typos (1.5): a name matching more words of the query comes first among those.
    """
    clauses: list[Node] = []
    for word in words:
        clauses.append(Term(field_name, word, 6.0 * weight))
        if not word.isascii():
            continue
        clauses.append(Prefix(field_name, word, 3.0 * weight))
        if len(word) >= MIN_FUZZY_WORD:
            distance = 2 if len(word) >= MIN_FUZZY_WORD_2 else 1
            clauses.append(Fuzzy(field_name, word, distance, 1.5 * weight))
    return clauses


def _distance(text: str) -> int:
    """Edit distance allowed: none for 1-2 characters, 1 for short words, 2 for long pinyin."""
    if len(text) <= 2:
        return 0
    if text.isascii() and len(text) >= 8:
        return 2
    return 1


def _pinyin_clauses(norm: str, full_field: str, initials_field: str, weight: float) -> list[Node]:
    clauses: list[Node] = [
        Term(full_field, norm, 8.0 * weight),
        Prefix(full_field, norm, 4.0 * weight),
        Term(initials_field, norm, 6.0 * weight),
        Prefix(initials_field, norm, 2.0 * weight),
    ]
    if 4 <= len(norm) <= MAX_FUZZY_PINYIN:
        clauses.append(Fuzzy(full_field, norm, _distance(norm), 2.0 * weight))
    return clauses


# Words most company names share: their bigrams match most of the index, cost the most to
# score and tell nothing apart, so partial matching ignores them (exact matching still sees them).
GENERIC_NAME_WORDS = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "分公司",
    "集团",
    "公司",
    "股份",
    "有限",
    "科技",
    "实业",
    "贸易",
    "发展",
    "控股",
    "国际",
)


def _ngrams(norm: str) -> list[str]:
    """The bigrams of the distinctive part of a Chinese query (the text itself if one character)."""
    if not any("\u4e00" <= ch <= "\u9fff" for ch in norm):
        return []
    distinctive = norm
    for word in GENERIC_NAME_WORDS:
        distinctive = distinctive.replace(word, " ")
    parts = [p for p in distinctive.split() if p] or [norm]
    bigrams = [p[i : i + 2] for p in parts for i in range(len(p) - 1)]
    return bigrams or parts


def _ngram_clauses(grams: list[str], field_name: str, weight: float) -> list[Node]:
    # Each shared bigram counts; a single character must match as a whole.
    return [Term(field_name, g, 2.0 * weight) for g in dict.fromkeys(grams)]


def condition(cond: common_pb2.Condition, caller: Caller, path: str = "filter", depth: int = 0) -> Node:
    """A condition tree as a filter node; InvalidArgument pinpoints what is wrong."""
    if depth > MAX_DEPTH:
        raise _bad(path, f"conditions nest at most {MAX_DEPTH} deep")
    kind = cond.WhichOneof("kind")
    if kind is None:
        raise _bad(path, "an empty condition")
    if kind in ("all", "any"):
        children = getattr(cond, kind).conditions
        if not children:
            raise _bad(f"{path}.{kind}", "needs at least one condition")
        nodes = tuple(condition(c, caller, f"{path}.{kind}.{i}", depth + 1) for i, c in enumerate(children))
        return Bool(filter=nodes) if kind == "all" else Bool(should=nodes, minimum_should_match=1)
    if kind == "not":
        return Bool(must_not=(condition(getattr(cond, "not"), caller, f"{path}.not", depth + 1),))
    if kind == "behavior":
        raise _bad(f"{path}.behavior", "search has no behaviour data; use a segment for behaviour conditions")
    return _field_test(cond.field, caller, f"{path}.field")


def _field_test(test: common_pb2.FieldTest, caller: Caller, path: str) -> Node:
    index_field = CONDITION_FIELDS.get(test.field)
    if index_field is None:
        raise _bad(
            f"{path}.field", f"cannot filter on {test.field!r}; use one of {', '.join(CONDITION_FIELDS)}"
        )
    if not visible(caller, index_field):
        raise PermissionDenied(f"you may not search on {test.field}")
    kind = test.WhichOneof("test")
    if kind in ("any_of", "all_of", "none_of"):
        values = [_keyword(test.field, v, path) for v in getattr(test, kind).values]
        if not values or len(values) > MAX_VALUES:
            raise _bad(f"{path}.{kind}", f"give 1 to {MAX_VALUES} values")
        if kind == "any_of":
            return Terms(index_field, tuple(values))
        if kind == "all_of":
            return Bool(filter=tuple(Term(index_field, v) for v in values))
        return Bool(must_not=(Terms(index_field, tuple(values)),))
    if kind == "range":
        if FIELDS[index_field].kind not in ("long", "date"):
            raise _bad(f"{path}.range", f"{test.field} has no order; use any_of")
        bounds = {
            name: _bound(test.field, getattr(test.range, name), f"{path}.range.{name}")
            for name in ("gte", "gt", "lte", "lt")
        }
        if all(v is None for v in bounds.values()):
            raise _bad(f"{path}.range", "give at least one bound")
        return Range(index_field, **bounds)
    if kind == "exists":
        node: Node = Exists(index_field)
        return node if test.exists else Bool(must_not=(node,))
    raise _bad(path, "say what to test: any_of, all_of, none_of, range or exists")


def _keyword(field_name: str, value: str, path: str) -> str:
    if field_name == "industry_code":
        if codes.industry(value.upper()) is None:
            raise _bad(path, f"unknown GB/T 4754-2017 industry code {value!r}")
        return value.upper()
    if field_name == "region_code" and codes.region(value) is None:
        raise _bad(path, f"unknown GB/T 2260 region code {value!r}")
    if len(value) > 100:
        raise _bad(path, "values are at most 100 characters")
    return value.lower() if field_name == "tags" else value


def _bound(field_name: str, raw: str, path: str) -> Any:
    if not raw:
        return None
    if FIELDS[CONDITION_FIELDS[field_name]].kind == "long":
        try:
            amount = Decimal(raw)
        except InvalidOperation:
            raise _bad(path, f"{raw!r} is not a number") from None
        if not amount.is_finite() or abs(amount) > Decimal("1e13"):
            raise _bad(path, f"{raw!r} is out of range")
        return int(amount * 100)
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(path, f"{raw!r} is not an RFC 3339 time") from None
    if value.tzinfo is None:
        raise _bad(path, "give the time zone, e.g. 2024-05-01T00:00:00+08:00")
    return value


def sort_of(raw: str, caller: Caller) -> Sort:
    """The requested order; InvalidArgument for unknown fields."""
    descending = raw.startswith("-")
    name = raw.lstrip("-")
    if name in ("", "relevance"):
        return Sort()
    if name not in SORT_FIELDS:
        raise _bad("sort", f"sort by relevance or one of {', '.join(SORT_FIELDS)}")
    if not visible(caller, name):
        raise PermissionDenied(f"you may not sort by {name}")
    return Sort(SORT_FIELDS[name], descending)


def facets_of(names: list[str], caller: Caller) -> tuple[str, ...]:
    """Index fields to count, in request order."""
    for name in names:
        if name not in FACETS:
            raise _bad("facets", f"{name!r} is not a facet; use {', '.join(FACETS)}")
        if not visible(caller, FACETS[name]):
            raise PermissionDenied(f"you may not count customers by {name}")
    return tuple(dict.fromkeys(FACETS[n] for n in names))


def plan(
    *,
    caller: Caller,
    text: str,
    cond: common_pb2.Condition | None,
    sort: str,
    size: int,
    after: tuple[Any, int] | None,
    offset: int,
    facets: list[str],
) -> Plan:
    """The complete plan of a search: text, conditions and scope, sort, page, facets."""
    filters: list[Node] = []
    if (scope := scope_filter(caller)) is not None:
        filters.append(scope)
    if cond is not None:
        if _count(cond) > MAX_CONDITIONS:
            raise _bad("filter", f"at most {MAX_CONDITIONS} conditions")
        filters.append(condition(cond, caller))
    matched = text_query(text, caller)
    query: Node = Bool(must=(matched,), filter=tuple(filters)) if filters else matched
    return Plan(
        query=query,
        sort=sort_of(sort, caller),
        size=size,
        after=after,
        offset=offset,
        facets=facets_of(facets, caller),
    )


def _count(cond: common_pb2.Condition) -> int:
    kind = cond.WhichOneof("kind")
    if kind in ("all", "any"):
        return 1 + sum(_count(c) for c in getattr(cond, kind).conditions)
    if kind == "not":
        return 1 + _count(getattr(cond, "not"))
    return 1
