"""Rule and segment semantics against hand-computed expectations on the fixed dataset
(tests/tagging/conftest.py), on SQLite and PostgreSQL."""

import pytest
from sqlalchemy import select, update

from services.common.db import Database
from services.common.errors import InvalidArgument, PermissionDenied
from services.tagging import readmodel, rules, segments, service
from services.tagging.models import Customer, Membership
from tests.tagging.conds import all_, any_, behavior, field, not_
from tests.tagging.conftest import ADMIN, DATASET, MARKETER, REP, feed, interaction, load_dataset, snapshot

CHURN = all_(field("tier", any_of=["A", "B"]), behavior("interactions", {"lte": "0"}, days=90))
INTEREST = behavior("interactions", {"gte": "3"}, days=30, channels=["web"], summary_contains="产品X")


def matching(db: Database, cond: object, caller: object = ADMIN) -> set[str]:
    """Customers a preview counts for a condition (the sample holds them all here)."""
    with db.session_scope(readonly=True) as session:
        count, rows = segments.preview(session=session, caller=caller, cond=cond, sample=50)
    assert count == len(rows)
    return {r.id for r in rows}


@pytest.fixture
def data(tdb: Database) -> Database:
    load_dataset(tdb)
    return tdb


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        (field("tier", any_of=["A"]), {"C1", "C3"}),
        (field("tier", none_of=["A"]), {"C2", "C4", "C5", "C6"}),
        (field("industry_code", any_of=["C"]), {"C1", "C3", "C5"}),
        (field("industry_code", any_of=["34"]), {"C1", "C5"}),
        (field("region_code", any_of=["330000"]), {"C2", "C6"}),
        (field("region_code", any_of=["310000"]), {"C1", "C4"}),
        (field("owner_id", exists=False), {"C5"}),
        (field("deal_amount_12m", range={"gte": "150000"}), {"C1", "C2", "C3", "C5"}),
        (field("deal_amount_12m", range={"gt": "150000", "lt": "800000"}), {"C1", "C2"}),
        (
            all_(
                not_(field("status", any_of=["churned"])), field("deal_amount_12m", range={"gte": "150000"})
            ),
            {"C1", "C2", "C3", "C5"},
        ),
        (
            any_(field("tier", any_of=["A"]), field("region_code", any_of=["330106"])),
            {"C1", "C3", "C2", "C6"},
        ),
        (CHURN, {"C1", "C5"}),
        (INTEREST, {"C3"}),
        (behavior("interactions", {"gte": "3"}, channels=["web"]), {"C3", "C4"}),
        (behavior("interactions", {"gte": "1"}, days=90), {"C2", "C3", "C4"}),
        (behavior("orders", {"gt": "100000"}, days=90, measure="amount"), {"C1"}),
        (behavior("orders", {"gte": "2"}, days=30), set()),
        (behavior("orders", {"gte": "1"}, days=30, products=["产品X"]), {"C1"}),
        # the example: A tier, industry C, order value > 100k in the last 3 months
        (
            all_(
                field("industry_code", any_of=["C"]),
                field("tier", any_of=["A"]),
                behavior("orders", {"gt": "100000"}, days=90, measure="amount"),
            ),
            {"C1"},
        ),
    ],
)
def test_conditions_match_hand_computed_sets(data: Database, cond: object, expected: set[str]) -> None:
    assert matching(data, cond) == expected


def test_rules_tag_exactly_the_matching_customers_and_untag_when_they_stop(data: Database) -> None:
    with data.session_scope() as session:
        risk = service.create_tag(
            session=session, caller=ADMIN, data={"name": "高流失风险", "group": "风险", "system": True}
        )
        hot = service.create_tag(
            session=session, caller=ADMIN, data={"name": "新产品潜在客户", "group": "兴趣", "system": True}
        )
        matching_, assign, remove, _ = rules.dry_run(
            session=session, caller=ADMIN, rule_id="", data={"tag_id": risk.id, "condition": CHURN}
        )
        assert (matching_, assign, remove) == (2, 2, 0)
        rules.create_rule(
            session=session,
            caller=ADMIN,
            data={"name": "churn", "tag_id": risk.id, "condition": CHURN, "enabled": True},
        )
        rules.create_rule(
            session=session,
            caller=ADMIN,
            data={"name": "hot", "tag_id": hot.id, "condition": INTEREST, "enabled": True},
        )
    with data.session_scope(readonly=True) as session:
        tags = service.tag_names(session, ["C1", "C2", "C3", "C4", "C5", "C6"])
    assert tags == {
        "C1": ["高流失风险"],
        "C2": [],
        "C3": ["新产品潜在客户"],
        "C4": [],
        "C5": ["高流失风险"],
        "C6": [],
    }
    # C1 gets a phone call: it is no longer a churn risk; the rule takes its tag off.
    fields = DATASET[0][1]
    feed(
        data,
        [("C1", "interaction.created", snapshot("C1", **fields))],
        {"C1": readmodel.Behaviour([interaction(1, 120), interaction(99, 1)], DATASET[0][2].orders)},
    )
    with data.session_scope(readonly=True) as session:
        assert service.tag_names(session, ["C1"])["C1"] == []
        history = service.history(session=session, caller=ADMIN, customer_id="C1", before_id=None, limit=10)
    assert [(h.action, h.source.startswith("rule:")) for h in history] == [
        ("removed", True),
        ("assigned", True),
    ]


def test_segments_over_tags_follow_manual_tagging(data: Database) -> None:
    with data.session_scope() as session:
        vip = service.create_tag(session=session, caller=ADMIN, data={"name": "VIP", "group": "价值"})
        seg = segments.create(
            session=session,
            caller=ADMIN,
            data={
                "name": "上海 VIP",
                "kind": "dynamic",
                "condition": all_(field("tags", any_of=["vip"]), field("region_code", any_of=["310000"])),
            },
        )
        service.assign(
            session=session, caller=ADMIN, selection=service.Selection(("C1", "C2", "C4")), tag_ids=[vip.id]
        )
    with data.session_scope(readonly=True) as session:
        members = set(session.scalars(select(Membership.customer_id).where(Membership.segment_id == seg.id)))
        events, _ = segments.read_events(
            session=session, caller=ADMIN, after_position=0, limit=100, segment_id=seg.id
        )
    assert members == {"C1", "C4"}
    assert sorted((e.customer_id, e.kind) for e in events) == [("C1", "entered"), ("C4", "entered")]
    with data.session_scope() as session:
        service.remove(session=session, caller=ADMIN, selection=service.Selection(("C4",)), tag_ids=[vip.id])
    with data.session_scope(readonly=True) as session:
        members = set(session.scalars(select(Membership.customer_id).where(Membership.segment_id == seg.id)))
        events, _ = segments.read_events(
            session=session, caller=ADMIN, after_position=0, limit=100, segment_id=seg.id
        )
    assert members == {"C1"}
    assert (events[-1].customer_id, events[-1].kind) == ("C4", "left")
    with data.session_scope(readonly=True) as session:
        mine, _ = segments.read_events(
            session=session, caller=REP, after_position=0, limit=100, segment_id=""
        )
    assert {e.customer_id for e in mine} == {"C1"}  # C4 belongs to another rep


def test_tag_combinations_all_any_none(data: Database) -> None:
    with data.session_scope() as session:
        a = service.create_tag(session=session, caller=ADMIN, data={"name": "甲"})
        b = service.create_tag(session=session, caller=ADMIN, data={"name": "乙"})
        service.assign(
            session=session, caller=ADMIN, selection=service.Selection(("C1", "C2")), tag_ids=[a.id]
        )
        service.assign(
            session=session, caller=ADMIN, selection=service.Selection(("C2", "C3")), tag_ids=[b.id]
        )
    assert matching(data, field("tags", all_of=["甲", "乙"])) == {"C2"}
    assert matching(data, field("tags", any_of=["甲", "乙"])) == {"C1", "C2", "C3"}
    assert matching(data, field("tags", none_of=["甲", "乙"])) == {"C4", "C5", "C6"}
    assert matching(data, field("tags", exists=False)) == {"C4", "C5", "C6"}


def test_previews_and_members_stay_within_the_callers_scope(data: Database) -> None:
    cond = field("tier", any_of=["A", "B"])
    assert matching(data, cond, REP) == {"C1", "C3"}
    with data.session_scope() as session:
        seg = segments.create(
            session=session, caller=ADMIN, data={"name": "AB", "kind": "dynamic", "condition": cond}
        )
    with data.session_scope(readonly=True) as session:
        rows, _, total = segments.members(
            session=session, caller=REP, segment_id=seg.id, size=10, token="", export=False
        )
        all_rows, _, all_total = segments.members(
            session=session, caller=ADMIN, segment_id=seg.id, size=2, token="", export=False
        )
    assert total == 2 and {c.id for c, _ in rows} == {"C1", "C3"}
    assert all_total == 4 and len(all_rows) == 2
    # Exports state their purpose; one that needs consent keeps only those who gave it.
    with data.session_scope() as session:
        session.execute(update(Customer).where(Customer.id == "C3").values(consents=",analytics,marketing,"))
    with data.session_scope(readonly=True) as session:

        def export(purpose: str) -> set[str]:
            found, _, _ = segments.members(
                session=session,
                caller=ADMIN,
                segment_id=seg.id,
                size=10,
                token="",
                export=True,
                purpose=purpose,
            )
            return {c.id for c, _ in found}

        assert export("marketing") == export("analytics") == {"C3"}
        assert export("profiling") == set()
        assert len(export("customer_service")) == 4
        for bad in ("", "spam"):
            with pytest.raises(InvalidArgument):
                export(bad)
        with pytest.raises(InvalidArgument):
            segments.members(
                session=session,
                caller=ADMIN,
                segment_id=seg.id,
                size=10,
                token="",
                export=False,
                purpose="marketing",
            )


def test_hidden_field_groups_cannot_be_filtered_on(data: Database) -> None:
    with pytest.raises(PermissionDenied):
        matching(data, field("deal_amount_12m", range={"gte": "1"}), MARKETER)


@pytest.mark.parametrize(
    "cond",
    [
        field("nope", any_of=["x"]),
        field("tier", range={"gte": "1"}),
        field("industry_code", any_of=["ZZ"]),
        field("deal_amount_12m", range={"gte": "abc"}),
        field("created_at", range={"gte": "0001-01-01T00:00:00+14:00"}),
        field("created_at", range={"gte": "2024-05-01T00:00:00"}),
        behavior("visits", {"gte": "1"}),
        behavior("interactions", {"gte": "1"}, measure="amount"),
        behavior("interactions", {}, days=30),
        all_(),
    ],
)
def test_bad_conditions_are_invalid_arguments_and_create_nothing(data: Database, cond: object) -> None:
    with pytest.raises(InvalidArgument), data.session_scope() as session:
        segments.create(
            session=session, caller=ADMIN, data={"name": "bad", "kind": "dynamic", "condition": cond}
        )
    with data.session_scope(readonly=True) as session:
        assert segments.list_segments(session=session, caller=ADMIN, size=10, token="")[0] == []
