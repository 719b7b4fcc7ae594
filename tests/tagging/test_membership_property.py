"""Property: after any stream of customer changes (fields, interactions, deletions, manual
tags), the materialized memberships and rule tags equal a fresh evaluation of the conditions."""

import itertools
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from services.common.db import Database
from services.tagging import conditions, migrate, readmodel, rules, segments, service
from services.tagging.models import Assignment, Customer, Membership, Segment, Tag
from tests.tagging.conds import all_, any_, behavior, field, not_
from tests.tagging.conftest import ADMIN, interaction, snapshot

IDS = [f"C{n}" for n in range(1, 7)]
_position = itertools.count(1)

customers = st.sampled_from(IDS)
upsert = st.tuples(
    st.just("upsert"),
    customers,
    st.sampled_from(["A", "B", "C"]),
    st.sampled_from(["potential", "deal", "churned"]),
    st.sampled_from(["0.00", "50000.00", "100000.00", "900000.00"]),
    st.sampled_from(["310115", "330106"]),
)
delete = st.tuples(st.just("delete"), customers)
talk = st.tuples(st.just("interactions"), customers, st.lists(st.sampled_from([1, 20, 45, 120]), max_size=3))
tag = st.tuples(st.just("tag"), customers, st.sampled_from(["X", "Y"]), st.booleans())
operations = st.lists(st.one_of(upsert, delete, talk, tag), min_size=1, max_size=20)

SEGMENTS = {
    "s1": all_(field("tier", any_of=["A"]), field("deal_amount_12m", range={"gte": "100000"})),
    "s2": any_(field("tags", any_of=["x"]), behavior("interactions", {"gte": "2"}, days=30)),
    "s3": all_(not_(field("status", any_of=["churned"])), field("tags", none_of=["y"])),
    "s4": all_(field("tags", any_of=["R"]), field("region_code", any_of=["310000"])),
}
RULE = all_(field("tier", any_of=["A", "B"]), behavior("interactions", {"lte": "0"}, days=90))


def _setup(db: Database) -> dict[str, str]:
    with db.session_scope() as session:
        made = {
            name: service.create_tag(session=session, caller=ADMIN, data={"name": name}).id for name in "XY"
        }
        rule_tag = service.create_tag(session=session, caller=ADMIN, data={"name": "R", "system": True})
        rules.create_rule(
            session=session,
            caller=ADMIN,
            data={"name": "r", "tag_id": rule_tag.id, "condition": RULE, "enabled": True},
        )
        for name, cond in SEGMENTS.items():
            segments.create(
                session=session, caller=ADMIN, data={"name": name, "kind": "dynamic", "condition": cond}
            )
    return made


def _run(db: Database, op: tuple, tags: dict[str, str], state: dict[str, dict]) -> None:
    kind, cid = op[0], op[1]
    at = datetime.now(UTC)
    if kind == "upsert":
        state[cid] = {"tier": op[2], "status": op[3], "deal_amount_12m": op[4], "region_code": op[5]}
        entry = readmodel.FeedEntry(next(_position), cid, "customer.updated", snapshot(cid, **state[cid]))
        with db.session_scope() as session:
            readmodel.apply(session, entries=[entry], behaviour={}, head=entry.position, at=at)
    elif kind == "delete" and cid in state:
        del state[cid]
        entry = readmodel.FeedEntry(
            next(_position), cid, "customer.deleted", snapshot(cid, deleted_at=at.isoformat())
        )
        with db.session_scope() as session:
            readmodel.apply(session, entries=[entry], behaviour={}, head=entry.position, at=at)
    elif kind == "interactions" and cid in state:
        records = readmodel.Behaviour(
            [interaction(hash((cid, i, d)) % 10**9, d) for i, d in enumerate(op[2])], []
        )
        entry = readmodel.FeedEntry(next(_position), cid, "interaction.created", snapshot(cid, **state[cid]))
        with db.session_scope() as session:
            readmodel.apply(session, entries=[entry], behaviour={cid: records}, head=entry.position, at=at)
    elif kind == "tag" and cid in state:
        verb = service.assign if op[3] else service.remove
        with db.session_scope() as session:
            verb(session=session, caller=ADMIN, selection=service.Selection((cid,)), tag_ids=[tags[op[2]]])


def _check(db: Database) -> None:
    at = datetime.now(UTC)
    with db.session_scope(readonly=True) as session:
        for segment in session.scalars(select(Segment)):
            fresh = set(
                session.scalars(
                    select(Customer.id).where(conditions.where(SEGMENTS[segment.name], caller=None, now=at))
                )
            )
            stored = set(
                session.scalars(select(Membership.customer_id).where(Membership.segment_id == segment.id))
            )
            assert stored == fresh, f"segment {segment.name}: stored {sorted(stored)} fresh {sorted(fresh)}"
        fresh_rule = set(
            session.scalars(select(Customer.id).where(conditions.where(RULE, caller=None, now=at)))
        )
        tagged = set(
            session.scalars(
                select(Assignment.customer_id).join(Tag, Tag.id == Assignment.tag_id).where(Tag.name == "R")
            )
        )
        assert tagged == fresh_rule


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations)
def test_materialized_membership_equals_fresh_evaluation(ops: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'tagging.db'}"
        migrate.upgrade(url)
        db = Database(url, service="tagging")
        try:
            tags = _setup(db)
            state: dict[str, dict] = {}
            for op in ops:
                _run(db, op, tags, state)
                _check(db)
        finally:
            db.dispose()
