"""Search domain: plans a request, runs it on the backend, shapes hits for the caller."""

import base64
import html
import json
import re
from dataclasses import dataclass
from typing import Any

from crm.common.v1 import common_pb2
from services.common import field_rules
from services.common.errors import FieldViolation, InvalidArgument
from services.common.identity import Caller
from services.search import analysis, pinyin
from services.search import query as q
from services.search.backend import Hit, Result, SearchBackend

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
# Relevance pages go no deeper than this (as Elasticsearch's max_result_window).
MAX_RELEVANCE_DEPTH = 10_000
MAX_SUGGESTIONS = 20
# Longest query whose partial runs are looked for when highlighting.
MAX_HIGHLIGHT_GRAM = 20


@dataclass
class Page:
    hits: list[dict[str, Any]]
    total: int
    next_token: str
    facets: dict[str, list[tuple[str, int]]]


def _bad(field: str, message: str) -> InvalidArgument:
    return InvalidArgument("invalid search", [FieldViolation(field, message)])


def _encode(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _decode(token: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise _bad("page_token", "not a token this API issued")
    return data


@dataclass
class Prepared:
    """A checked request, ready to run."""

    plan: q.Plan
    caller: Caller
    text: str
    sort: str
    size: int
    offset: int


def prepare(
    *,
    caller: Caller,
    text: str,
    cond: common_pb2.Condition | None,
    sort: str,
    size: int,
    token: str,
    facets: list[str],
) -> Prepared:
    """Check a request and plan it; InvalidArgument or PermissionDenied before anything runs."""
    if size < 0 or size > MAX_PAGE_SIZE:
        raise _bad("page_size", f"must be between 1 and {MAX_PAGE_SIZE}")
    size = size or DEFAULT_PAGE_SIZE
    after, offset = None, 0
    if token:
        state = _decode(token)
        if state.get("s") != sort:
            raise _bad("page_token", "the token belongs to a search with another sort")
        if "a" in state:
            after = (state["a"][0], int(state["a"][1]))
        else:
            offset = int(state.get("o", 0))
    plan = q.plan(
        caller=caller, text=text, cond=cond, sort=sort, size=size, after=after, offset=offset, facets=facets
    )
    if not plan.sort.field and offset + size > MAX_RELEVANCE_DEPTH:
        raise _bad(
            "page_token", f"relevance results end at {MAX_RELEVANCE_DEPTH}; sort by a field to go deeper"
        )
    return Prepared(plan, caller, text, sort, size, offset)


def run(backend: SearchBackend, prepared: Prepared) -> Page:
    """One page of a prepared search, shaped for its caller."""
    plan, size, offset, sort = prepared.plan, prepared.size, prepared.offset, prepared.sort
    result: Result = backend.search(plan)
    next_token = ""
    if len(result.hits) == size:
        last = result.hits[-1]
        state = (
            {"s": sort, "a": [last.sort_value, last.seq]}
            if plan.sort.field
            else {"s": sort, "o": offset + size}
        )
        if plan.sort.field or offset + size < min(result.total, MAX_RELEVANCE_DEPTH):
            next_token = _encode(state)
    hits = [shape(hit, prepared.caller, prepared.text) for hit in result.hits]
    return Page(hits, result.total, next_token, result.facets)


def search(
    *,
    backend: SearchBackend,
    caller: Caller,
    text: str,
    cond: common_pb2.Condition | None,
    sort: str,
    size: int,
    token: str,
    facets: list[str],
) -> Page:
    """One page of customers matching text and conditions within the caller's scope."""
    prepared = prepare(caller=caller, text=text, cond=cond, sort=sort, size=size, token=token, facets=facets)
    return run(backend, prepared)


def shape(hit: Hit, caller: Caller, text: str) -> dict[str, Any]:
    """A hit as the caller may see it, with the matched parts highlighted."""
    display = dict(hit.display)
    gone = field_rules.unseen(caller)
    if gone:
        display = {k: "" if field_rules.CUSTOMER.get(k) in gone else v for k, v in display.items()}
    display["contacts"] = [field_rules.contact(c, caller) for c in display.get("contacts") or []]
    display["score"] = hit.score
    display["highlights"] = highlights(display, text)
    return display


def _mark(value: str, needle: str) -> str | None:
    """value with the first case-insensitive occurrence of needle in <em>, HTML-escaped."""
    if not needle:
        return None
    a = value.lower().find(needle.lower())
    if a < 0:
        return None
    b = a + len(needle)
    return f"{html.escape(value[:a])}<em>{html.escape(value[a:b])}</em>{html.escape(value[b:])}"


def highlights(display: dict[str, Any], text: str) -> dict[str, str]:
    """Field -> text with the part the query matched wrapped in <em></em>."""
    norm = pinyin.normalize_query(text)
    if not norm:
        return {}
    found: dict[str, str] = {}
    name = display["name"]
    words = [w for w in analysis.words(text) if w.isascii()]
    marked = (
        _mark(name, text.strip())
        or _word_mark(name, words)
        or _best_gram(name, norm)
        or _pinyin_mark(name, norm, display["kind"] == "individual")
    )
    if marked:
        found["name"] = marked
    digits = "".join(ch for ch in text if ch.isdigit())
    for contact in display.get("contacts", []):
        if (m := _mark(contact["name"], text.strip()) or _word_mark(contact["name"], words)) or (
            pinyin.is_pinyin_like(norm) and (m := _pinyin_mark(contact["name"], norm, True))
        ):
            found.setdefault("contacts.name", m)
        for phone in contact["phones"]:
            if len(digits) >= 4 and (m := _mark(phone.replace("-", ""), digits)):
                found.setdefault("contacts.phones", m)
        for email in contact["emails"]:
            if m := _mark(email, text.strip()):
                found.setdefault("contacts.emails", m)
    return found


# A run of Latin-script letters and digits (full-width ones too) of a displayed name.
_LATIN_RUN = re.compile(r"[^\W_\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def _word_mark(value: str, words: list[str]) -> str | None:
    """Highlight the first word of value that a query word begins, compared folded (Müller ~ muller)."""
    if not words:
        return None
    for run in _LATIN_RUN.finditer(value):
        folded = analysis.fold(run.group())
        if any(folded.startswith(w) for w in words):
            a, b = run.span()
            return f"{html.escape(value[:a])}<em>{html.escape(value[a:b])}</em>{html.escape(value[b:])}"
    return None


def _best_gram(value: str, norm: str) -> str | None:
    """Highlight the longest run of the query's Chinese characters found in value (typos, partials)."""
    if pinyin.is_pinyin_like(norm) or len(norm) > 2 * MAX_HIGHLIGHT_GRAM:
        return None
    for length in range(len(norm) - 1, 1, -1):
        for i in range(len(norm) - length + 1):
            if m := _mark(value, norm[i : i + length]):
                return m
    return None


def _pinyin_mark(value: str, norm: str, person: bool) -> str | None:
    """Highlight the whole value when the query matches its pinyin or initials."""
    if not pinyin.is_pinyin_like(norm):
        return None
    readings = pinyin.readings(value, person=person)
    if any(r.startswith(norm) for r in readings.full + readings.initials):
        return f"<em>{html.escape(value)}</em>"
    return None


def suggest(*, backend: SearchBackend, caller: Caller, prefix: str, limit: int) -> list[dict[str, str]]:
    """Names completing what the caller is typing, within their scope."""
    if limit < 0 or limit > MAX_SUGGESTIONS:
        raise _bad("limit", f"must be between 1 and {MAX_SUGGESTIONS}")
    if not pinyin.normalize_query(prefix):
        return []
    page = search(
        backend=backend, caller=caller, text=prefix, cond=None, sort="", size=limit or 8, token="", facets=[]
    )
    return [
        {
            "customer_id": h["id"],
            "name": h["name"],
            "highlighted": h["highlights"].get("name", html.escape(h["name"])),
        }
        for h in page.hits
    ]
