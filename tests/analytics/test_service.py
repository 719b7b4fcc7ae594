"""The analytics views over the read model, on SQLite and PostgreSQL: scope before aggregating,
withheld financial figures, the funnel's arithmetic, growth periods and refused filters."""

from datetime import UTC, datetime

import pytest

from crm.common.v1 import common_pb2
from services.analytics import readmodel, service
from services.common.db import Database
from services.common.errors import InvalidArgument, PermissionDenied
from services.common.identity import Caller
from tests.analytics.conftest import feed, snapshot

ADMIN = Caller(id="u-admin", roles=("admin",), scope="all", permissions=("*",))
REP = Caller(id="S1001", roles=("sales",), scope="own", permissions=("analytics:read",))
MANAGER = Caller(
    id="M2001", roles=("manager",), scope="team", teammates=("S1001",), permissions=("analytics:read",)
)
MARKETER = Caller(
    id="K1001",
    roles=("marketing",),
    scope="org",
    hidden_fields=("financial",),
    permissions=("analytics:read",),
)
AT = datetime(2026, 12, 7, tzinfo=UTC)


def _stage_counts(db: Database, counts: dict[str, int], owner: str = "S1001") -> None:
    snaps = [snapshot(stage=stage, owner_id=owner) for stage, n in counts.items() for _ in range(n)]
    feed(db, *snaps)


def _view(db: Database, fn, caller: Caller = ADMIN, **kwargs):  # type: ignore[no-untyped-def]
    with db.session_scope(readonly=True) as session:
        return fn(session=session, caller=caller, **kwargs)


def test_funnel_200_120_80_50(adb: Database) -> None:
    """200 reached lead, 120 intent, 80 proposal, 50 deal: 60 %, 66.7 %, 62.5 %, overall 25 %."""
    _stage_counts(adb, {"lead": 80, "intent": 40, "proposal": 30, "deal": 30, "repeat": 15, "loyal": 5})
    view = _view(adb, service.funnel, cond=None)
    stages = view.data["stages"]
    assert [s["count"] for s in stages] == [200, 120, 80, 50]
    assert [s["conversion_percent"] for s in stages] == [0.0, 60.0, 66.7, 62.5]
    assert view.data["overall_conversion_percent"] == 25.0
    assert [s["stage"] for s in stages if s["weakest"]] == ["intent"]


def test_the_funnel_remembers_the_furthest_stage(adb: Database) -> None:
    """A customer that reached proposal and then churned still counts at lead, intent, proposal."""
    snap = snapshot(stage="proposal")
    feed(adb, snap)
    feed(adb, {**snap, "stage": "churned", "status": "churned"})
    stages = _view(adb, service.funnel, cond=None).data["stages"]
    assert [s["count"] for s in stages] == [1, 1, 1, 0]


def test_scope_is_applied_before_aggregating(adb: Database) -> None:
    """A rep counts only their own customers, a manager their team's, the admin everyone."""
    _stage_counts(adb, {"lead": 3}, owner="S1001")
    _stage_counts(adb, {"deal": 2}, owner="S1002")
    _stage_counts(adb, {"intent": 4}, owner="S9999")
    assert _view(adb, service.distribution, REP, cond=None).data["total"] == 3
    manager = Caller(
        id="M2001",
        roles=("manager",),
        scope="team",
        teammates=("S1001", "S1002"),
        permissions=("analytics:read",),
    )
    assert _view(adb, service.distribution, manager, cond=None).data["total"] == 5
    assert _view(adb, service.distribution, ADMIN, cond=None).data["total"] == 9
    rep_funnel = _view(adb, service.funnel, REP, cond=None).data["stages"]
    assert [s["count"] for s in rep_funnel] == [3, 0, 0, 0]


def test_distribution_names_codes_and_splits_regions(adb: Database) -> None:
    """Industries and regions carry their names; cities fold into their provinces."""
    feed(
        adb,
        snapshot(region_code="310115", industry_code="3411"),
        snapshot(region_code="440305", industry_code="3411", source_channel="referral"),
        snapshot(region_code="440106", industry_code="5191", scale="large"),
    )
    dims = _view(adb, service.distribution, cond=None).data["dimensions"]
    provinces = {b.key: (b.count, b.name) for b in dims["province"]}
    assert provinces["440000"][0] == 2 and provinces["310000"][0] == 1
    assert provinces["440000"][1]
    cities = {b.key: (b.count, b.parent) for b in dims["city"]}
    assert cities["440300"] == (1, "440000") and cities["440100"] == (1, "440000")
    industries = {b.key: b for b in dims["industry"]}
    assert industries["3411"].count == 2 and industries["3411"].name
    assert {b.key: b.count for b in dims["source_channel"]} == {"web_form": 2, "referral": 1}
    assert {"industry", "province", "city", "tier", "status", "scale", "source_channel", "stage"} <= set(dims)


def test_financial_figures_are_withheld_and_named(adb: Database) -> None:
    """Without financial visibility the tier split and the mean deal amount are left out and named."""
    feed(adb, snapshot(tier="A", deal_amount_12m="600000.00"), snapshot(tier="C", deal_amount_12m="100.00"))
    dist = _view(adb, service.distribution, MARKETER, cond=None)
    assert "tier" not in dist.data["dimensions"] and dist.withheld == ["tier"]
    portrait = _view(adb, service.portrait, MARKETER, cond=None)
    assert "tiers" not in portrait.data and "average_deal_amount_12m" not in portrait.data
    assert portrait.withheld == ["tiers", "average_deal_amount_12m"]
    full = _view(adb, service.portrait, ADMIN, cond=None)
    assert full.withheld == [] and full.data["average_deal_amount_12m"] == "300050.00"
    with pytest.raises(PermissionDenied):
        cond = common_pb2.Condition(
            field=common_pb2.FieldTest(field="tier", any_of=common_pb2.Values(values=["A"]))
        )
        _view(adb, service.distribution, MARKETER, cond=cond)


def test_portrait_top_five_industries(adb: Database) -> None:
    """The top industries are GB/T 4754 divisions, at most five, largest first."""
    codes = ["3411"] * 5 + ["3412"] * 2 + ["5191"] * 4 + ["6510"] * 3 + ["4411"] * 2 + ["0111"] * 1 + ["7211"]
    feed(adb, *[snapshot(industry_code=c) for c in codes])
    top = _view(adb, service.portrait, cond=None).data["top_industries"]
    assert [(b.key, b.count) for b in top][:3] == [("34", 7), ("51", 4), ("65", 3)]
    assert len(top) == 5 and all(b.name for b in top)


def test_conditions_filter_every_view(adb: Database) -> None:
    """A segment-style condition narrows the customers counted; unknown fields name the field."""
    feed(adb, snapshot(stage="deal", region_code="310115"), snapshot(stage="lead", region_code="440305"))
    cond = common_pb2.Condition(
        field=common_pb2.FieldTest(field="region_code", any_of=common_pb2.Values(values=["310000"]))
    )
    assert _view(adb, service.distribution, cond=cond).data["total"] == 1
    bad = common_pb2.Condition(field=common_pb2.FieldTest(field="colour", exists=True))
    with pytest.raises(InvalidArgument) as caught:
        _view(adb, service.funnel, cond=bad)
    assert caught.value.violations[0].field == "condition.field.field"
    inverted = common_pb2.Condition(
        field=common_pb2.FieldTest(
            field="created_at", range=common_pb2.Range(gte="2026-12-01T00:00:00Z", lte="2026-11-01T00:00:00Z")
        )
    )
    with pytest.raises(InvalidArgument) as caught:
        _view(adb, service.funnel, cond=inverted)
    assert caught.value.violations[0].field == "condition.field.range"


def test_growth_per_month_and_week(adb: Database) -> None:
    """New, churned, net and total per period; totals run on across periods."""
    a = snapshot(created_at="2026-10-05T00:00:00Z")
    b = snapshot(created_at="2026-11-10T00:00:00Z")
    c = snapshot(created_at="2026-11-20T00:00:00Z")
    feed(adb, a, b, c)
    feed(adb, {**a, "status": "churned", "stage": "churned"}, at=datetime(2026, 11, 15, tzinfo=UTC))
    view = _view(
        adb,
        service.growth,
        cond=None,
        period="month",
        start=datetime(2026, 10, 1, tzinfo=UTC),
        end=datetime(2026, 12, 1, tzinfo=UTC),
        at=AT,
    )
    points = {p["period_start"]: p for p in view.data["points"]}
    assert points["2026-10-01"] == {
        "period_start": "2026-10-01",
        "new": 1,
        "churned": 0,
        "net": 1,
        "total": 1,
    }
    assert points["2026-11-01"] == {
        "period_start": "2026-11-01",
        "new": 2,
        "churned": 1,
        "net": 1,
        "total": 2,
    }
    assert points["2026-12-01"]["total"] == 2
    weeks = _view(adb, service.growth, cond=None, period="week", start=None, end=AT, at=AT).data["points"]
    assert len(weeks) == service.DEFAULT_POINTS and weeks[-1]["period_start"] == "2026-12-07"
    quarters = _view(adb, service.growth, cond=None, period="quarter", start=None, end=AT, at=AT).data[
        "points"
    ]
    assert quarters[-1]["period_start"] == "2026-10-01" and quarters[-1]["new"] == 3


def test_growth_refuses_bad_periods_and_inverted_ranges(adb: Database) -> None:
    """An unknown period or start after end is refused naming the field."""
    for kwargs, field in (
        ({"period": "fortnight", "start": None, "end": None}, "period"),
        ({"period": "day", "start": AT, "end": datetime(2026, 1, 1, tzinfo=UTC)}, "start"),
        ({"period": "day", "start": datetime(2000, 1, 1, tzinfo=UTC), "end": AT}, "start"),
    ):
        with pytest.raises(InvalidArgument) as caught:
            _view(adb, service.growth, cond=None, at=AT, **kwargs)
        assert caught.value.violations[0].field == field


def test_deleted_customers_leave_and_replays_change_nothing(adb: Database) -> None:
    """A deleted customer leaves every view; an older snapshot never overwrites a newer one."""
    keep, gone = snapshot(stage="deal"), snapshot()
    feed(adb, keep, gone)
    feed(adb, gone, action="customer.deleted")
    assert _view(adb, service.distribution, cond=None).data["total"] == 1
    with adb.session_scope() as session:
        stale = readmodel.FeedEntry(
            position=1,
            customer_id=keep["id"],
            action="customer.updated",
            at=None,
            snapshot={**keep, "stage": "lead"},
        )
        readmodel.apply(session, entries=[stale], head=readmodel.position(session))
    stages = {b.key: b.count for b in _view(adb, service.distribution, cond=None).data["dimensions"]["stage"]}
    assert stages == {"deal": 1}
