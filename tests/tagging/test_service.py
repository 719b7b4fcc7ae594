"""Tag lifecycle on both databases: merge and rename keep assignments, deletion and erasure of a
customer in the archive, static segments, system tags."""

import threading

import pytest
from sqlalchemy import func, select

from services.common.db import Database
from services.common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from services.tagging import segments, service
from services.tagging.models import Membership, TagHistory
from tests.tagging.conds import field
from tests.tagging.conftest import ADMIN, REP, feed, load_dataset, snapshot


@pytest.fixture
def data(tdb: Database) -> Database:
    load_dataset(tdb)
    return tdb


def tags_of(db: Database, *ids: str) -> dict[str, list[str]]:
    with db.session_scope(readonly=True) as session:
        return service.tag_names(session, ids)


def test_merge_and_rename_keep_assignments_with_who_and_when(data: Database) -> None:
    with data.session_scope() as session:
        a = service.create_tag(session=session, caller=ADMIN, data={"name": "重要", "group": "价值"})
        b = service.create_tag(session=session, caller=ADMIN, data={"name": "重点", "group": "价值"})
        with pytest.raises(AlreadyExists):
            service.create_tag(session=session, caller=ADMIN, data={"name": "重要", "group": "价值"})
        service.assign(session=session, caller=REP, selection=service.Selection(("C1",)), tag_ids=[a.id])
        service.assign(
            session=session, caller=ADMIN, selection=service.Selection(("C1", "C2", "C6")), tag_ids=[b.id]
        )
        a_id, b_id = a.id, b.id
    with data.session_scope() as session:
        target, moved = service.merge_tags(session=session, caller=ADMIN, source_ids=[b_id], target_id=a_id)
        assert moved == 2  # C1 already carried the target
    assert tags_of(data, "C1", "C2", "C6", "C3") == {"C1": ["重要"], "C2": ["重要"], "C6": ["重要"], "C3": []}
    with data.session_scope() as session:
        found = service.customer_tags(session=session, caller=ADMIN, customer_ids=["C2"])["C2"]
        assert found[0][0].assigned_by == "u-admin"
        service.update_tag(session=session, caller=ADMIN, tag_id=a_id, data={"name": "核心"}, paths=["name"])
        with pytest.raises(NotFound):
            service.get_tag(session=session, tag_id=b_id)
    assert tags_of(data, "C1", "C2") == {"C1": ["核心"], "C2": ["核心"]}
    with data.session_scope(readonly=True) as session:
        feed_rows, head = service.read_feed(session, after_position=0, limit=1000)
    assert feed_rows[-1].tags == ["核心"] and head == feed_rows[-1].position


def test_a_rep_tags_only_customers_in_scope(data: Database) -> None:
    with data.session_scope() as session:
        tag = service.create_tag(session=session, caller=ADMIN, data={"name": "跟进"})
    with pytest.raises(NotFound), data.session_scope() as session:
        service.assign(
            session=session, caller=REP, selection=service.Selection(("C1", "C2")), tag_ids=[tag.id]
        )
    assert tags_of(data, "C1", "C2") == {"C1": [], "C2": []}


def test_system_tags_are_for_rules_only(data: Database) -> None:
    with data.session_scope() as session:
        tag = service.create_tag(session=session, caller=ADMIN, data={"name": "系统", "system": True})
    with pytest.raises(FailedPrecondition), data.session_scope() as session:
        service.assign(session=session, caller=ADMIN, selection=service.Selection(("C1",)), tag_ids=[tag.id])


@pytest.mark.parametrize("action", ["customer.deleted", "customer.erased"])
def test_a_customer_gone_from_the_archive_loses_tags_and_memberships(data: Database, action: str) -> None:
    with data.session_scope() as session:
        tag = service.create_tag(session=session, caller=ADMIN, data={"name": "待删"})
        service.assign(
            session=session, caller=ADMIN, selection=service.Selection(("C1", "C2")), tag_ids=[tag.id]
        )
        seg = segments.create(
            session=session,
            caller=ADMIN,
            data={"name": "带标签", "kind": "dynamic", "condition": field("tags", any_of=["待删"])},
        )
        static = segments.create(
            session=session,
            caller=ADMIN,
            data={"name": "名单", "kind": "static", "customer_ids": ["C1", "C3"]},
        )
        seg_id, static_id = seg.id, static.id
    deleted = snapshot("C1", deleted_at="2026-01-01T00:00:00Z") if action == "customer.deleted" else {}
    feed(data, [("C1", action, deleted)])
    assert tags_of(data, "C1", "C2") == {"C1": [], "C2": ["待删"]}
    with data.session_scope(readonly=True) as session:
        members = {
            s: set(session.scalars(select(Membership.customer_id).where(Membership.segment_id == s)))
            for s in (seg_id, static_id)
        }
        history = session.scalar(
            select(func.count()).select_from(TagHistory).where(TagHistory.customer_id == "C1")
        )
        events, _ = segments.read_events(
            session=session, caller=ADMIN, after_position=0, limit=100, segment_id=""
        )
    assert members == {seg_id: {"C2"}, static_id: {"C3"}}
    assert ("C1", "left") in {(e.customer_id, e.kind) for e in events}
    assert history == (0 if action == "customer.erased" else 2)


def test_names_with_control_characters_are_refused(data: Database) -> None:
    with data.session_scope() as session, pytest.raises(InvalidArgument) as bad:
        service.create_tag(session=session, caller=ADMIN, data={"name": "金\x00牌", "group": "价\x07值"})
    assert {v.field for v in bad.value.violations} == {"tag.name", "tag.group"}


def test_simultaneous_identical_assignments_both_succeed_once(data: Database) -> None:
    with data.session_scope() as session:
        tag_id = service.create_tag(session=session, caller=ADMIN, data={"name": "并发"}).id
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def assign() -> None:
        try:
            start.wait()
            with data.session_scope() as session:
                service.assign(
                    session=session, caller=ADMIN, selection=service.Selection(("C1", "C2")), tag_ids=[tag_id]
                )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=assign) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors, errors
    assert tags_of(data, "C1", "C2") == {"C1": ["并发"], "C2": ["并发"]}
    with data.session_scope(readonly=True) as session:
        history = session.scalars(select(TagHistory).where(TagHistory.tag_id == tag_id)).all()
    assert sorted(h.customer_id for h in history) == ["C1", "C2"]
