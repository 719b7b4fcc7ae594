"""The one evaluator of the platform's condition language (crm.common.v1.Condition) over the
tagging read model: a condition tree becomes one SQL expression on the customers table.

Rules, segments, previews and dry runs all use `where`; the meaning of every test matches the
search service's (codes match everything below them, `none_of` and `not` include customers
without a value, tag names compare case-insensitively).
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from google.protobuf import json_format
from sqlalchemy import ColumnElement, and_, exists, false, func, not_, or_, select, true

from crm.common.v1 import common_pb2
from services.common import field_rules
from services.common.errors import FieldViolation, InvalidArgument
from services.common.identity import Caller
from services.profile import codes
from services.tagging.models import Assignment, Customer, Interaction, Order, Tag

MAX_DEPTH = 8
MAX_CONDITIONS = 200
MAX_VALUES = 500
MAX_DAYS = 3650

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
    "tags": (None, "tags", ""),
    "deal_amount_12m": (Customer.deal_amount_12m_fen, "amount", field_rules.FINANCIAL),
    "last_order_at": (Customer.last_order_at, "time", field_rules.PURCHASE),
    "last_follow_up_at": (Customer.last_follow_up_at, "time", ""),
    "created_at": (Customer.created_at, "time", ""),
    "updated_at": (Customer.updated_at, "time", ""),
}
BEHAVIOR_SOURCES = {"interactions": field_rules.PUBLIC, "orders": field_rules.PURCHASE}


def _bad(path: str, message: str) -> InvalidArgument:
    return InvalidArgument("invalid condition", [FieldViolation(path, message)])


def to_json(cond: common_pb2.Condition) -> dict[str, Any]:
    """The JSON form a condition is stored in."""
    return json_format.MessageToDict(cond, preserving_proto_field_name=True)


def from_json(data: dict[str, Any]) -> common_pb2.Condition:
    """A stored condition as its message."""
    return json_format.ParseDict(data, common_pb2.Condition())


def validate(cond: common_pb2.Condition, caller: Caller | None, path: str = "condition") -> None:
    """InvalidArgument (or PermissionDenied for hidden fields) unless the condition can be evaluated."""
    if _count(cond) > MAX_CONDITIONS:
        raise _bad(path, f"at most {MAX_CONDITIONS} conditions")
    where(cond, caller=caller, now=datetime(2000, 1, 1), path=path)


def _count(cond: common_pb2.Condition) -> int:
    kind = cond.WhichOneof("kind")
    if kind in ("all", "any"):
        return 1 + sum(_count(c) for c in getattr(cond, kind).conditions)
    if kind == "not":
        return 1 + _count(getattr(cond, "not"))
    return 1


def where(
    cond: common_pb2.Condition,
    *,
    caller: Caller | None,
    now: datetime,
    path: str = "condition",
    depth: int = 0,
    among: Sequence[str] | None = None,
) -> ColumnElement[bool]:
    """The SQL expression over `customers` true exactly for customers matching the condition.

    `caller` limits which field groups may be tested (None: the service itself, no limits).
    `among`, when the expression will only be asked about these customers, narrows the behaviour
    sub-selects to them (evaluating one changed customer must not aggregate everyone's records).
    """
    if depth > MAX_DEPTH:
        raise _bad(path, f"conditions nest at most {MAX_DEPTH} deep")
    kind = cond.WhichOneof("kind")
    if kind is None:
        raise _bad(path, "an empty condition")
    if kind in ("all", "any"):
        children = getattr(cond, kind).conditions
        if not children:
            raise _bad(f"{path}.{kind}", "needs at least one condition")
        parts = [
            where(c, caller=caller, now=now, path=f"{path}.{kind}.{i}", depth=depth + 1, among=among)
            for i, c in enumerate(children)
        ]
        return and_(*parts) if kind == "all" else or_(*parts)
    if kind == "not":
        inner = getattr(cond, "not")
        return not_(where(inner, caller=caller, now=now, path=f"{path}.not", depth=depth + 1, among=among))
    if kind == "behavior":
        return _behavior(cond.behavior, caller, now, f"{path}.behavior", among)
    return _field(cond.field, caller, f"{path}.field")


def _require_visible(caller: Caller | None, group: str, what: str) -> None:
    if caller is not None:
        field_rules.require_use(caller, group, what)


def _field(test: common_pb2.FieldTest, caller: Caller | None, path: str) -> ColumnElement[bool]:
    spec = FIELDS.get(test.field)
    if spec is None:
        raise _bad(f"{path}.field", f"cannot filter on {test.field!r}; use one of {', '.join(FIELDS)}")
    column, kind, group = spec
    _require_visible(caller, group, test.field)
    which = test.WhichOneof("test")
    if which in ("any_of", "all_of", "none_of"):
        values = list(getattr(test, which).values)
        if not values or len(values) > MAX_VALUES:
            raise _bad(f"{path}.{which}", f"give 1 to {MAX_VALUES} values")
        if kind in ("amount", "time"):
            raise _bad(f"{path}.{which}", f"{test.field} is tested with range or exists")
        if kind == "tags":
            return _tags(which, [v.strip().lower() for v in values], path)
        matches = [_equals(column, kind, v, f"{path}.{which}") for v in values]
        if which == "any_of":
            return or_(*matches)
        if which == "all_of":
            return and_(*matches)
        return not_(or_(*matches))
    if which == "range":
        if kind not in ("amount", "time"):
            raise _bad(f"{path}.range", f"{test.field} has no order; use any_of")
        bounds = {
            n: _bound(kind, getattr(test.range, n), f"{path}.range.{n}") for n in ("gte", "gt", "lte", "lt")
        }
        if all(v is None for v in bounds.values()):
            raise _bad(f"{path}.range", "give at least one bound")
        return and_(column.isnot(None), *_compare(column, bounds))
    if which == "exists":
        if kind == "tags":
            has = exists().where(Assignment.customer_id == Customer.id)
            return has if test.exists else not_(has)
        present = column.isnot(None) if kind in ("amount", "time") else column != ""
        if kind == "amount":
            present = column != 0
        return present if test.exists else not_(present)
    raise _bad(path, "say what to test: any_of, all_of, none_of, range or exists")


def _compare(column: Any, bounds: dict[str, Any]) -> list[ColumnElement[bool]]:
    ops = {"gte": column.__ge__, "gt": column.__gt__, "lte": column.__le__, "lt": column.__lt__}
    return [ops[name](value) for name, value in bounds.items() if value is not None]


def _equals(column: Any, kind: str, value: str, path: str) -> ColumnElement[bool]:
    if len(value) > 100:
        raise _bad(path, "values are at most 100 characters")
    if kind == "industry":
        code = codes.industry(value)
        if code is None:
            raise _bad(path, f"unknown GB/T 4754-2017 industry code {value!r}")
        if code.code.isalpha():
            divisions = [c.code for c in codes.industries().values() if c.parent == code.code]
            return or_(column == code.code, *[column.startswith(d) for d in divisions])
        return column.startswith(code.code)
    if kind == "region":
        if codes.region(value) is None:
            raise _bad(path, f"unknown GB/T 2260 region code {value!r}")
        value = value.strip()
        prefix = value[:2] if value[2:] == "0000" else value[:4] if value[4:] == "00" else value
        return column.startswith(prefix)
    return column == value


def _tags(which: str, names: list[str], path: str) -> ColumnElement[bool]:
    for name in names:
        if not name or len(name) > 50:
            raise _bad(path, "tag names are 1 to 50 characters")

    def carries(selected: list[str]) -> ColumnElement[bool]:
        return exists().where(
            Assignment.customer_id == Customer.id,
            Assignment.tag_id == Tag.id,
            func.lower(Tag.name).in_(selected),
        )

    if which == "any_of":
        return carries(names)
    if which == "all_of":
        return and_(*[carries([n]) for n in names])
    return not_(carries(names))


def _bound(kind: str, raw: str, path: str) -> Any:
    if not raw:
        return None
    if kind == "amount":
        return _fen(raw, path)
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(path, f"{raw!r} is not an RFC 3339 time") from None
    if value.tzinfo is None:
        raise _bad(path, "give the time zone, e.g. 2024-05-01T00:00:00+08:00")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise _bad(path, f"{raw!r} is out of range") from None


def _fen(raw: str, path: str) -> int:
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise _bad(path, f"{raw!r} is not a number") from None
    if not amount.is_finite() or abs(amount) > Decimal("1e13"):
        raise _bad(path, f"{raw!r} is out of range")
    return int(amount * 100)


def _behavior(
    test: common_pb2.BehaviorTest,
    caller: Caller | None,
    now: datetime,
    path: str,
    among: Sequence[str] | None,
) -> ColumnElement[bool]:
    """Customers whose aggregate over matching records lies in the range.

    Written as membership in a grouped set, so the database aggregates once per evaluation; when
    zero satisfies the range, customers without any matching record are included too.
    """
    if test.source not in BEHAVIOR_SOURCES:
        raise _bad(f"{path}.source", "one of interactions, orders")
    _require_visible(caller, BEHAVIOR_SOURCES[test.source], test.source)
    measure = test.measure or "count"
    if measure not in ("count", "amount") or (measure == "amount" and test.source != "orders"):
        raise _bad(f"{path}.measure", "count, or amount for orders")
    if not 0 <= test.days <= MAX_DAYS:
        raise _bad(f"{path}.days", f"between 0 (all time) and {MAX_DAYS}")
    for name in ("channels", "types", "products"):
        if len(getattr(test, name)) > MAX_VALUES:
            raise _bad(f"{path}.{name}", f"at most {MAX_VALUES} values")
    if test.source == "orders" and (test.channels or test.types or test.summary_contains):
        raise _bad(path, "orders are narrowed by products only")
    if test.source == "interactions" and test.products:
        raise _bad(f"{path}.products", "interactions are narrowed by channels, types and summary_contains")
    if len(test.summary_contains) > 100:
        raise _bad(f"{path}.summary_contains", "at most 100 characters")
    if measure == "amount":
        bounds = {
            n: _bound("amount", getattr(test.range, n), f"{path}.range.{n}")
            for n in ("gte", "gt", "lte", "lt")
        }
    else:
        bounds = {
            n: _count_bound(getattr(test.range, n), f"{path}.range.{n}") for n in ("gte", "gt", "lte", "lt")
        }
    if all(v is None for v in bounds.values()):
        raise _bad(f"{path}.range", "give at least one bound")
    if test.source == "interactions":
        table: Any = Interaction
        filters = [Interaction.channel.in_(test.channels)] if test.channels else []
        if test.types:
            filters.append(Interaction.type.in_(test.types))
        if test.summary_contains:
            filters.append(Interaction.summary.contains(test.summary_contains, autoescape=True))
        time_column = Interaction.occurred_at
        aggregate: Any = func.count()
    else:
        table = Order
        filters = [Order.product.in_(test.products)] if test.products else []
        time_column = Order.ordered_at
        aggregate = func.count() if measure == "count" else func.sum(Order.amount_fen)
    if test.days:
        filters.append(time_column >= now - timedelta(days=test.days))
    if among is not None:
        filters.append(table.customer_id.in_(list(among)))
    grouped = (
        select(table.customer_id)
        .where(*filters)
        .group_by(table.customer_id)
        .having(and_(*_compare(aggregate, bounds)))
    )
    matched = Customer.id.in_(grouped)
    zero_ok = all(
        {"gte": v <= 0, "gt": v < 0, "lte": v >= 0, "lt": v > 0}[n]
        for n, v in bounds.items()
        if v is not None
    )
    if not zero_ok:
        return matched
    # NOT EXISTS, not NOT IN: an anti-join on every database (PostgreSQL plans NOT IN over a large
    # sub-select as a scan per row once the hashed set outgrows work_mem).
    none_yet = ~exists().where(table.customer_id == Customer.id, *filters)
    return or_(matched, none_yet)


def _count_bound(raw: str, path: str) -> int | None:
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise _bad(path, f"{raw!r} is not a number") from None
    if not value.is_finite() or abs(value) > 10**9:
        raise _bad(path, f"{raw!r} is out of range")
    return int(value) if value == int(value) else value  # type: ignore[return-value]


def scope(caller: Caller) -> ColumnElement[bool]:
    """The customers within the caller's record scope."""
    if caller.scope in ("all", "org"):
        return true()
    if caller.scope == "team":
        return Customer.owner_id.in_([caller.id, *caller.teammates])
    if caller.scope == "own":
        return Customer.owner_id == caller.id
    return false()
