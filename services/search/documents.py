"""The index mapping shared by every backend, and the document built from a customer.

Documents are built from the profile service's change-feed snapshots. Keyword values are
normalized here (lower-case) so every backend indexes exactly the same terms.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from services.common import field_rules
from services.profile import codes
from services.search import analysis, pinyin

FieldKind = Literal["keyword", "text", "long", "date", "stored"]
# Name of the Chinese 1-2 gram analyzer every backend defines the same way.
NGRAM_ANALYZER = "crm_ngram"
MIN_PHONE_FRAGMENT = 4


@dataclass(frozen=True)
class FieldSpec:
    """One field of the index: its kind and whether it holds several values."""

    name: str
    kind: FieldKind
    multi: bool = False
    # The field group (services/common/field_rules.py) a caller must see to search on it.
    group: str = field_rules.PUBLIC


MAPPING: tuple[FieldSpec, ...] = (
    FieldSpec("id", "keyword"),
    FieldSpec("name", "text"),
    FieldSpec("name_exact", "keyword"),
    FieldSpec("name_fuzzy", "keyword", multi=True),
    FieldSpec("name_prefixes", "keyword", multi=True),
    FieldSpec("name_pinyin", "keyword", multi=True),
    FieldSpec("name_pinyin_prefixes", "keyword", multi=True),
    FieldSpec("name_initials", "keyword", multi=True),
    FieldSpec("name_syllables", "keyword", multi=True),
    # Words of the name (services/search/analysis.py): Latin words folded, Han runs between them.
    FieldSpec("name_words", "keyword", multi=True),
    FieldSpec("name_word_prefixes", "keyword", multi=True),
    FieldSpec("contact_names", "text", multi=True, group=field_rules.CONTACT),
    FieldSpec("contact_exact", "keyword", multi=True, group=field_rules.CONTACT),
    FieldSpec("contact_fuzzy", "keyword", multi=True, group=field_rules.CONTACT),
    FieldSpec("contact_pinyin", "keyword", multi=True, group=field_rules.CONTACT),
    FieldSpec("contact_pinyin_prefixes", "keyword", multi=True, group=field_rules.CONTACT),
    FieldSpec("contact_initials", "keyword", multi=True, group=field_rules.CONTACT),
    FieldSpec("contact_words", "keyword", multi=True, group=field_rules.CONTACT),
    FieldSpec("contact_word_prefixes", "keyword", multi=True, group=field_rules.CONTACT),
    FieldSpec("phones", "keyword", multi=True, group=field_rules.CONTACT),
    FieldSpec("phone_fragments", "keyword", multi=True, group=field_rules.CONTACT),
    FieldSpec("emails", "keyword", multi=True, group=field_rules.CONTACT),
    # Local parts, domains and local-part words of the addresses.
    FieldSpec("email_parts", "keyword", multi=True, group=field_rules.CONTACT),
    FieldSpec("tags", "keyword", multi=True),
    FieldSpec("kind", "keyword"),
    FieldSpec("industry_code", "keyword"),
    FieldSpec("industry_path", "keyword", multi=True),
    FieldSpec("industry_division", "keyword"),
    FieldSpec("region_code", "keyword"),
    FieldSpec("region_path", "keyword", multi=True),
    FieldSpec("region_province", "keyword"),
    FieldSpec("tier", "keyword", group=field_rules.FINANCIAL),
    FieldSpec("status", "keyword"),
    FieldSpec("stage", "keyword"),
    FieldSpec("scale", "keyword"),
    FieldSpec("owner_id", "keyword"),
    FieldSpec("source_channel", "keyword"),
    FieldSpec("deal_amount_12m", "long", group=field_rules.FINANCIAL),
    FieldSpec("last_order_at", "date", group=field_rules.PURCHASE),
    FieldSpec("last_follow_up_at", "date"),
    FieldSpec("created_at", "date"),
    FieldSpec("updated_at", "date"),
    # Sort keys of optional times: epoch milliseconds, -1 when absent (sorts as the smallest).
    FieldSpec("last_order_sort", "long", group=field_rules.PURCHASE),
    FieldSpec("last_follow_up_sort", "long"),
    # Numeric form of the ID: the tie-breaker of every sort.
    FieldSpec("seq", "long"),
    FieldSpec("version", "long"),
    # What a hit shows, as JSON; not searchable.
    FieldSpec("display", "stored"),
)
FIELDS = {f.name: f for f in MAPPING}

# Fields searched by prefix whose short prefixes are indexed as terms of their own (as
# Elasticsearch's index_prefixes): field -> (prefix field, longest prefix indexed). A short
# prefix ("北京", "zh") starts tens of thousands of distinct names, and scanning them all cost
# 15-55 ms a query at 1,000,000 customers; a longer one starts few names and is scanned cheaply.
PREFIXES = {
    "name_exact": ("name_prefixes", 4),
    "name_pinyin": ("name_pinyin_prefixes", 12),
    "contact_pinyin": ("contact_pinyin_prefixes", 10),
    "name_words": ("name_word_prefixes", 8),
    "contact_words": ("contact_word_prefixes", 8),
}


def prefix_field(field_name: str, value: str) -> str | None:
    """The field holding value as a whole term when it is an indexed prefix of field_name's values."""
    indexed = PREFIXES.get(field_name)
    return indexed[0] if indexed and 0 < len(value) <= indexed[1] else None


def prefixes(values: list[str], longest: int) -> list[str]:
    """Every prefix of the values up to `longest` characters."""
    return sorted({v[:n] for v in values for n in range(1, min(len(v), longest) + 1)})


# Lengths of the names (normalized) that are found within one typo. One wrong character breaks
# every bigram of a short name, so these names are also indexed by their one-character
# deletions ("symmetric delete"): a 3-4 character query and a name within one edit of it
# (substitution, insertion, deletion or swapped neighbours) share one of these keys, which is
# an exact-term lookup. An edit-distance automaton over every name in the index instead cost
# 7-11 ms a clause at 1,000,000 customers.
FUZZY_NAME_LENGTHS = range(2, 6)


def fuzzy_keys(text: str) -> list[str]:
    """The text itself and, from 3 characters on, the text without each one of its characters."""
    if len(text) not in FUZZY_NAME_LENGTHS:
        return []
    keys = {text}
    if len(text) >= 3:
        keys.update(text[:i] + text[i + 1 :] for i in range(len(text)))
    return sorted(keys)


def phone_fragments(phone: str) -> list[str]:
    """Every run of at least four consecutive digits of a phone number."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return sorted(
        {digits[i:j] for i in range(len(digits)) for j in range(i + MIN_PHONE_FRAGMENT, len(digits) + 1)}
    )


# Room for the day's sequence, which widens past 999 (a day of imports reaches a million). Ten
# million a day keeps every seq below 2**53, which JSON tools and emulators read as doubles.
_DAY_SEQUENCES = 10**7


def seq_of(customer_id: str) -> int:
    """C20240501001 -> 20240501 * 10**7 + 1: orders IDs by day, then by the day's sequence."""
    return int(customer_id[1:9]) * _DAY_SEQUENCES + int(customer_id[9:])


def _path(code: str | None, ancestors: Any) -> list[str]:
    return [c.code for c in ancestors(code)] if code else []


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _millis(value: str | None) -> int:
    moment = _time(value)
    return int(moment.timestamp() * 1000) if moment else -1


def _words(name: str) -> list[str]:
    """The words of a name holding Latin script (a Chinese-only name is matched by its n-grams)."""
    return analysis.words(name) if analysis.has_latin(name) else []


def _latin(words: list[str]) -> list[str]:
    return [w for w in words if w.isascii()]


def _fen(amount: str | None) -> int:
    return int(Decimal(amount or "0") * 100)


def build(customer: dict[str, Any], tags: list[str] | None = None) -> dict[str, Any]:
    """The index document of a customer snapshot (proto field names, JSON values)."""
    name = customer["name"]
    person = customer.get("kind") == "individual"
    name_readings = pinyin.readings(name, person=person)
    contacts = customer.get("contacts") or []
    contact_readings = [pinyin.readings(c["name"], person=True) for c in contacts]
    phones = sorted({p for c in contacts for p in c.get("phones") or []})
    industry_path = _path(customer.get("industry_code"), codes.industry_ancestors)
    region_path = _path(customer.get("region_code"), codes.region_ancestors)
    display = {
        "id": customer["id"],
        "name": name,
        "kind": customer.get("kind", ""),
        "industry_code": customer.get("industry_code", ""),
        "region_code": customer.get("region_code") or "",
        "tier": customer.get("tier", ""),
        "status": customer.get("status", ""),
        "stage": customer.get("stage", ""),
        "scale": customer.get("scale") or "",
        "owner_id": customer.get("owner_id") or "",
        "source_channel": customer.get("source_channel", ""),
        "deal_amount_12m": customer.get("deal_amount_12m") or "0.00",
        "last_order_at": customer.get("last_order_at"),
        "last_follow_up_at": customer.get("last_follow_up_at"),
        "created_at": customer.get("created_at"),
        # Kept so a tag change can rebuild the document from its display alone.
        "updated_at": customer.get("updated_at"),
        "version": int(customer.get("version", 0)),
        "contacts": [
            {"name": c["name"], "phones": c.get("phones") or [], "emails": c.get("emails") or []}
            for c in contacts
        ],
        "tags": sorted(tags or []),
    }
    name_exact = pinyin.normalize_query(name)
    contact_pinyin = sorted({r for cr in contact_readings for r in cr.full})
    name_words = _words(name)
    contact_words = sorted({w for c in contacts for w in _words(c["name"])})
    emails = sorted({analysis.email(e) for c in contacts for e in c.get("emails") or []})
    return {
        "id": customer["id"],
        "name": name,
        "name_exact": name_exact,
        "name_prefixes": prefixes([name_exact], PREFIXES["name_exact"][1]),
        "name_pinyin_prefixes": prefixes(list(name_readings.full), PREFIXES["name_pinyin"][1]),
        "contact_pinyin_prefixes": prefixes(contact_pinyin, PREFIXES["contact_pinyin"][1]),
        "name_fuzzy": fuzzy_keys(name_exact),
        "name_pinyin": list(name_readings.full),
        "name_initials": list(name_readings.initials),
        "name_syllables": list(name_readings.syllables),
        "name_words": name_words,
        "name_word_prefixes": prefixes(_latin(name_words), PREFIXES["name_words"][1]),
        "contact_names": [c["name"] for c in contacts],
        "contact_exact": [pinyin.normalize_query(c["name"]) for c in contacts],
        "contact_fuzzy": sorted({k for c in contacts for k in fuzzy_keys(pinyin.normalize_query(c["name"]))}),
        "contact_pinyin": contact_pinyin,
        "contact_initials": sorted({r for cr in contact_readings for r in cr.initials}),
        "contact_words": contact_words,
        "contact_word_prefixes": prefixes(_latin(contact_words), PREFIXES["contact_words"][1]),
        "phones": phones,
        "phone_fragments": sorted({f for p in phones for f in phone_fragments(p)}),
        "emails": emails,
        "email_parts": sorted({p for e in emails for p in analysis.email_parts(e)}),
        "tags": sorted({t.lower() for t in tags or []}),
        "kind": customer.get("kind", ""),
        "industry_code": customer.get("industry_code", ""),
        "industry_path": industry_path,
        "industry_division": next((c for c in industry_path if c[:1].isdigit()), ""),
        "region_code": customer.get("region_code") or "",
        "region_path": region_path,
        "region_province": region_path[0] if region_path else "",
        "tier": customer.get("tier", ""),
        "status": customer.get("status", ""),
        "stage": customer.get("stage", ""),
        "scale": customer.get("scale") or "",
        "owner_id": customer.get("owner_id") or "",
        "source_channel": customer.get("source_channel", ""),
        "deal_amount_12m": _fen(customer.get("deal_amount_12m")),
        "last_order_at": _time(customer.get("last_order_at")),
        "last_follow_up_at": _time(customer.get("last_follow_up_at")),
        "created_at": _time(customer.get("created_at")),
        "updated_at": _time(customer.get("updated_at")),
        "last_order_sort": _millis(customer.get("last_order_at")),
        "last_follow_up_sort": _millis(customer.get("last_follow_up_at")),
        "seq": seq_of(customer["id"]),
        "version": int(customer.get("version", 0)),
        "display": display,
    }
