"""The analytics views: distribution, growth, funnel and portrait over the read model.

Every view first narrows the customers to the caller's record scope and the optional condition,
in SQL, and only then aggregates; figures made from amounts (tier, average deal amount) are left
out for callers who may not see financial data, and their names returned as withheld.
"""

from bisect import bisect_left
from collections import Counter as Tally
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from crm.common.v1 import common_pb2
from services.analytics import conditions
from services.analytics.models import Customer
from services.analytics.readmodel import FUNNEL
from services.common import field_rules
from services.common.identity import Caller
from services.profile import codes

PERIODS = ("day", "week", "month", "quarter")
MAX_POINTS = 1000
# Periods shown when no start is given.
DEFAULT_POINTS = 12
TOP_INDUSTRIES = 5


@dataclass
class Bucket:
    """One value of a dimension and how many customers have it."""

    key: str
    count: int
    name: str = ""
    parent: str = ""


@dataclass
class View:
    """A computed view: its figures and the figures withheld from this caller."""

    data: dict[str, Any] = field(default_factory=dict)
    withheld: list[str] = field(default_factory=list)


def now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


def selected(caller: Caller, cond: common_pb2.Condition | None) -> ColumnElement[bool]:
    """The customers a view counts: within the caller's scope, matching the condition."""
    parts = [conditions.scope(caller)]
    if cond is not None and cond.WhichOneof("kind") is not None:
        parts.append(conditions.where(cond, caller=caller))
    return and_(*parts)


def _financial(caller: Caller) -> bool:
    return field_rules.may_use(caller, field_rules.FINANCIAL)


def _industry_name(code: str) -> str:
    found = codes.industry(code) if code else None
    return found.name if found else ""


def _region_name(code: str) -> str:
    found = codes.region(code) if code else None
    return found.name if found else ""


def _counts(session: Session, column: Any, where: ColumnElement[bool]) -> list[tuple[str, int]]:
    rows = session.execute(select(column, func.count()).where(where).group_by(column)).all()
    return [(str(k or ""), int(n)) for k, n in rows]


def _sorted(buckets: Iterable[Bucket]) -> list[Bucket]:
    return sorted(buckets, key=lambda b: (-b.count, b.key))


def _regions(session: Session, where: ColumnElement[bool]) -> tuple[list[Bucket], list[Bucket]]:
    provinces: Tally[str] = Tally()
    cities: Tally[str] = Tally()
    for code, n in _counts(session, Customer.region_code, where):
        province = f"{code[:2]}0000" if len(code) == 6 else ""
        provinces[province] += n
        if len(code) == 6 and code[2:] != "0000":
            cities[f"{code[:4]}00"] += n
    return (
        _sorted(Bucket(k, n, _region_name(k)) for k, n in provinces.items()),
        _sorted(Bucket(k, n, _region_name(k) or k, parent=f"{k[:2]}0000") for k, n in cities.items()),
    )


def _plain(session: Session, column: Any, where: ColumnElement[bool]) -> list[Bucket]:
    return _sorted(Bucket(k, n) for k, n in _counts(session, column, where))


def distribution(*, session: Session, caller: Caller, cond: common_pb2.Condition | None) -> View:
    """Counts of the selected customers by industry, province, city, tier, status, scale,
    source channel and stage."""
    where = selected(caller, cond)
    total = int(session.scalar(select(func.count()).select_from(Customer).where(where)) or 0)
    provinces, cities = _regions(session, where)
    dims: dict[str, list[Bucket]] = {
        "industry": _sorted(
            Bucket(k, n, _industry_name(k)) for k, n in _counts(session, Customer.industry_code, where)
        ),
        "province": provinces,
        "city": cities,
    }
    view = View()
    if _financial(caller):
        dims["tier"] = _plain(session, Customer.tier, where)
    else:
        view.withheld.append("tier")
    for name, column in (
        ("status", Customer.status),
        ("scale", Customer.scale),
        ("source_channel", Customer.source_channel),
        ("stage", Customer.stage),
    ):
        dims[name] = _plain(session, column, where)
    view.data = {"total": total, "dimensions": dims}
    return view


def period_start(value: datetime, period: str) -> date:
    """The first day of the period holding `value` (UTC; weeks start on Monday)."""
    day = value.astimezone(UTC).date()
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day


def next_period(start: date, period: str) -> date:
    """The first day of the period after the one starting on `start`."""
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    months = 1 if period == "month" else 3
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1)


def _previous_period(start: date, period: str) -> date:
    if period == "day":
        return start - timedelta(days=1)
    if period == "week":
        return start - timedelta(days=7)
    months = 1 if period == "month" else 3
    month = start.month - 1 - months
    return date(start.year + month // 12, month % 12 + 1, 1)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def growth_periods(period: str, start: datetime | None, end: datetime | None, at: datetime) -> list[date]:
    """The first days of the periods a growth view covers; InvalidArgument naming the field for
    an unknown period, an inverted range or too many points."""
    if period not in PERIODS:
        raise conditions.bad("period", f"use one of {', '.join(PERIODS)}")
    end = end or at
    if start is not None and start > end:
        raise conditions.bad("start", "end (now when not given) must be after start")
    last = period_start(end, period)
    if start is None:
        first = last
        for _ in range(DEFAULT_POINTS - 1):
            first = _previous_period(first, period)
    else:
        first = period_start(start, period)
    days = [first]
    while days[-1] < last:
        if len(days) >= MAX_POINTS:
            raise conditions.bad(
                "start", f"at most {MAX_POINTS} {period}s; narrow the range or use a longer period"
            )
        days.append(next_period(days[-1], period))
    return days


def growth(
    *,
    session: Session,
    caller: Caller,
    cond: common_pb2.Condition | None,
    period: str,
    start: datetime | None,
    end: datetime | None,
    at: datetime,
) -> View:
    """New, churned, net and running total of the selected customers per period."""
    days = growth_periods(period, start, end, at)
    rows = session.execute(
        select(Customer.created_at, Customer.churned_at).where(selected(caller, cond))
    ).all()
    created = sorted(r[0] for r in rows if r[0] is not None)
    churned = sorted(r[1] for r in rows if r[1] is not None)
    points = []
    for day in days:
        begin, finish = _midnight(day), _midnight(next_period(day, period))
        new = bisect_left(created, finish) - bisect_left(created, begin)
        gone = bisect_left(churned, finish) - bisect_left(churned, begin)
        total = bisect_left(created, finish) - bisect_left(churned, finish)
        points.append(
            {"period_start": day.isoformat(), "new": new, "churned": gone, "net": new - gone, "total": total}
        )
    return View(data={"period": period, "points": points})


def _percent(part: int, whole: int) -> float:
    return round(part * 100 / whole, 1) if whole else 0.0


def funnel(*, session: Session, caller: Caller, cond: common_pb2.Condition | None) -> View:
    """Customers that reached each funnel stage (lead, intent, proposal, deal), the conversion
    from each stage to the next and overall, and the weakest step."""
    reached = dict(
        session.execute(
            select(Customer.furthest_stage, func.count())
            .where(selected(caller, cond), Customer.furthest_stage > 0)
            .group_by(Customer.furthest_stage)
        ).all()
    )
    counts = [sum(int(n) for rank, n in reached.items() if rank >= i + 1) for i in range(len(FUNNEL))]
    stages = [
        {
            "stage": name,
            "count": counts[i],
            "conversion_percent": _percent(counts[i], counts[i - 1]) if i else 0.0,
            "weakest": False,
        }
        for i, name in enumerate(FUNNEL)
    ]
    steps = [s for s in stages[1:] if stages[stages.index(s) - 1]["count"]]
    if steps:
        min(steps, key=lambda s: s["conversion_percent"])["weakest"] = True
    return View(data={"stages": stages, "overall_conversion_percent": _percent(counts[-1], counts[0])})


def portrait(*, session: Session, caller: Caller, cond: common_pb2.Condition | None) -> View:
    """The selected customers' province split, top industries (by GB/T 4754 division), scale,
    kind and tier split and mean 12-month deal amount."""
    where = selected(caller, cond)
    total = int(session.scalar(select(func.count()).select_from(Customer).where(where)) or 0)
    provinces, _ = _regions(session, where)
    divisions: Tally[str] = Tally()
    for code, n in _counts(session, Customer.industry_code, where):
        divisions[code[:2] if code[:2].isdigit() else code] += n
    view = View()
    view.data = {
        "total": total,
        "provinces": provinces,
        "top_industries": _sorted(Bucket(k, n, _industry_name(k)) for k, n in divisions.items())[
            :TOP_INDUSTRIES
        ],
        "scales": _plain(session, Customer.scale, where),
        "kinds": _plain(session, Customer.kind, where),
    }
    if _financial(caller):
        view.data["tiers"] = _plain(session, Customer.tier, where)
        mean = session.scalar(select(func.avg(Customer.deal_amount_12m_fen)).where(where))
        view.data["average_deal_amount_12m"] = f"{float(mean or 0) / 100:.2f}" if total else ""
    else:
        view.withheld += ["tiers", "average_deal_amount_12m"]
    return view
