"""The platform's condition language (crm.common.v1.Condition) over the analytics read model:
a condition tree becomes one SQL expression on its customers table, with the same meaning as
segments give it (codes match everything below them, `none_of` and `not` include customers
without a value). Behaviour tests and tags are refused: this read model holds neither.

Tagging's evaluator is bound to tagging's tables, so this one mirrors its field tests for the
columns kept here; both should move onto one shared evaluator when a third reader appears.
"""

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, and_, false, not_, or_, true

from crm.common.v1 import common_pb2
from services.analytics.models import Customer
from services.common import field_rules
from services.common.errors import FieldViolation, InvalidArgument
from services.common.identity import Caller
from services.profile import codes

MAX_DEPTH = 8
MAX_VALUES = 500

# Field -> (column, kind, field group that must be visible to test it).
FIELDS: dict[str, tuple[Any, str, str]] = {
    "industry_code": (Customer.industry_code, "industry", ""),
    "region_code": (Customer.region_code, "region", ""),
    "tier": (Customer.tier, "keyword", field_rules.FINANCIAL),
    "status": (Customer.status, "keyword", ""),
    "stage": (Customer.stage, "keyword", ""),
    "scale": (Customer.scale, "keyword", ""),
    "kind": (Customer.kind, "keyword", ""),
    "owner_id": (Customer.owner_id, "keyword", ""),
    "source_channel": (Customer.source_channel, "keyword", ""),
    "deal_amount_12m": (Customer.deal_amount_12m_fen, "amount", field_rules.FINANCIAL),
    "created_at": (Customer.created_at, "time", ""),
}


def bad(path: str, message: str) -> InvalidArgument:
    """An InvalidArgument naming the offending field."""
    return InvalidArgument("invalid condition", [FieldViolation(path, message)])


def where(
    cond: common_pb2.Condition, *, caller: Caller, path: str = "condition", depth: int = 0
) -> ColumnElement[bool]:
    """The SQL expression over `customers` true exactly for customers matching the condition."""
    if depth > MAX_DEPTH:
        raise bad(path, f"conditions nest at most {MAX_DEPTH} deep")
    kind = cond.WhichOneof("kind")
    if kind is None:
        raise bad(path, "an empty condition")
    if kind in ("all", "any"):
        children = getattr(cond, kind).conditions
        if not children:
            raise bad(f"{path}.{kind}", "needs at least one condition")
        parts = [
            where(c, caller=caller, path=f"{path}.{kind}.{i}", depth=depth + 1)
            for i, c in enumerate(children)
        ]
        return and_(*parts) if kind == "all" else or_(*parts)
    if kind == "not":
        return not_(where(getattr(cond, "not"), caller=caller, path=f"{path}.not", depth=depth + 1))
    if kind == "behavior":
        raise bad(f"{path}.behavior", "analytics views filter on customer fields only")
    return _field(cond.field, caller, f"{path}.field")


def _field(test: common_pb2.FieldTest, caller: Caller, path: str) -> ColumnElement[bool]:
    spec = FIELDS.get(test.field)
    if spec is None:
        raise bad(f"{path}.field", f"cannot filter on {test.field!r}; use one of {', '.join(FIELDS)}")
    column, kind, group = spec
    field_rules.require_use(caller, group, test.field)
    which = test.WhichOneof("test")
    if which in ("any_of", "all_of", "none_of"):
        values = list(getattr(test, which).values)
        if not values or len(values) > MAX_VALUES:
            raise bad(f"{path}.{which}", f"give 1 to {MAX_VALUES} values")
        if kind in ("amount", "time"):
            raise bad(f"{path}.{which}", f"{test.field} is tested with range or exists")
        matches = [_equals(column, kind, v, f"{path}.{which}") for v in values]
        if which == "any_of":
            return or_(*matches)
        if which == "all_of":
            return and_(*matches)
        return not_(or_(*matches))
    if which == "range":
        if kind not in ("amount", "time"):
            raise bad(f"{path}.range", f"{test.field} has no order; use any_of")
        bounds = {
            n: _bound(kind, getattr(test.range, n), f"{path}.range.{n}") for n in ("gte", "gt", "lte", "lt")
        }
        if all(v is None for v in bounds.values()):
            raise bad(f"{path}.range", "give at least one bound")
        low = bounds["gte"] if bounds["gte"] is not None else bounds["gt"]
        high = bounds["lte"] if bounds["lte"] is not None else bounds["lt"]
        if low is not None and high is not None and low > high:
            raise bad(f"{path}.range", "the lower bound is above the upper bound")
        ops = {"gte": column.__ge__, "gt": column.__gt__, "lte": column.__le__, "lt": column.__lt__}
        return and_(column.isnot(None), *[ops[n](v) for n, v in bounds.items() if v is not None])
    if which == "exists":
        present = column.isnot(None) if kind == "time" else column != 0 if kind == "amount" else column != ""
        return present if test.exists else not_(present)
    raise bad(path, "say what to test: any_of, all_of, none_of, range or exists")


def _equals(column: Any, kind: str, value: str, path: str) -> ColumnElement[bool]:
    if len(value) > 100:
        raise bad(path, "values are at most 100 characters")
    if kind == "industry":
        code = codes.industry(value)
        if code is None:
            raise bad(path, f"unknown GB/T 4754-2017 industry code {value!r}")
        if code.code.isalpha():
            divisions = [c.code for c in codes.industries().values() if c.parent == code.code]
            return or_(column == code.code, *[column.startswith(d) for d in divisions])
        return column.startswith(code.code)
    if kind == "region":
        if codes.region(value) is None:
            raise bad(path, f"unknown GB/T 2260 region code {value!r}")
        value = value.strip()
        prefix = value[:2] if value[2:] == "0000" else value[:4] if value[4:] == "00" else value
        return column.startswith(prefix)
    return column == value


def _bound(kind: str, raw: str, path: str) -> Any:
    if not raw:
        return None
    if kind == "amount":
        try:
            amount = Decimal(raw)
        except InvalidOperation:
            raise bad(path, f"{raw!r} is not a number") from None
        if not amount.is_finite() or abs(amount) > Decimal("1e13"):
            raise bad(path, f"{raw!r} is out of range")
        return int(amount * 100)
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise bad(path, f"{raw!r} is not an RFC 3339 time") from None
    if value.tzinfo is None:
        raise bad(path, "give the time zone, e.g. 2024-05-01T00:00:00+08:00")
    return value.astimezone(UTC)


def scope(caller: Caller) -> ColumnElement[bool]:
    """The customers within the caller's record scope."""
    if caller.scope in ("all", "org"):
        return true()
    if caller.scope == "team":
        return Customer.owner_id.in_([caller.id, *caller.teammates])
    if caller.scope == "own":
        return Customer.owner_id == caller.id
    return false()
