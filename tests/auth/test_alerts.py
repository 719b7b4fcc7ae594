"""Anomaly rules over the audit stream, with a controlled clock, on both databases."""

from datetime import UTC, datetime

import pytest

from services.auth import alerts, audit
from services.common.db import Database
from services.common.errors import NotFound
from services.common.identity import Caller
from tests.auth.conftest import Clock

RECORDER = Caller(id="svc-profile", kind="service", permissions=("audit:write",))
# 10:00 in Shanghai: inside working hours.
WORKDAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def record(db: Database, clock: Clock, count: int, **fields: str) -> None:
    values = {
        "actor": "S1001",
        "actor_kind": "user",
        "action": "customer.read",
        "target": "customer:C20240501001",
        "outcome": "success",
    } | fields
    for start in range(0, count, audit.MAX_EVENTS_PER_CALL):
        events = [audit.NewEvent(**values) for _ in range(min(audit.MAX_EVENTS_PER_CALL, count - start))]  # type: ignore[arg-type]
        with db.session_scope() as session:
            audit.record(session=session, recorder=RECORDER, clock=clock, events=events)


def open_alerts(db: Database) -> dict[tuple[str, str], int]:
    with db.session_scope(readonly=True) as session:
        return {
            (a.kind, a.actor): a.count for a in alerts.list_alerts(session=session, status="open", limit=100)
        }


def test_a_burst_of_failed_logins_raises_one_alert(auth_db: Database) -> None:
    clock = Clock(WORKDAY)
    record(auth_db, clock, 4, actor="S1002", action="auth.login", target="user:S1002", outcome="denied")
    assert open_alerts(auth_db) == {}
    record(auth_db, clock, 1, actor="S1002", action="auth.login", target="user:S1002", outcome="denied")
    assert open_alerts(auth_db) == {("failed_logins", "S1002"): 5}
    record(auth_db, clock, 2, actor="S1002", action="auth.login", target="user:S1002", outcome="denied")
    assert open_alerts(auth_db) == {("failed_logins", "S1002"): 7}  # the same alert grows


def test_failures_spread_over_time_raise_nothing(auth_db: Database) -> None:
    clock = Clock(WORKDAY)
    for _ in range(6):
        record(auth_db, clock, 1, action="auth.login", target="user:S1001", outcome="denied")
        clock.advance(5 * 60)  # one every five minutes: never five within fifteen
    assert open_alerts(auth_db) == {}


def test_repeated_denials_and_mass_viewing(auth_db: Database) -> None:
    clock = Clock(WORKDAY)
    record(auth_db, clock, 5, actor="K1001", action="rpc.list_contracts", outcome="denied")
    record(auth_db, clock, alerts.MASS_VIEWING.threshold - 1, actor="M1001")
    assert open_alerts(auth_db) == {("repeated_denials", "K1001"): 5}
    record(auth_db, clock, 1, actor="M1001")
    assert open_alerts(auth_db)[("mass_viewing", "M1001")] == alerts.MASS_VIEWING.threshold


def test_off_hours_access_by_people_only(auth_db: Database) -> None:
    clock = Clock(datetime(2026, 3, 2, 15, 30, tzinfo=UTC))  # 23:30 in Shanghai
    record(auth_db, clock, 1, actor="svc-search", actor_kind="client", action="feed.read")
    assert open_alerts(auth_db) == {}
    record(auth_db, clock, 3, actor="S1001")
    assert open_alerts(auth_db) == {("off_hours", "S1001"): 1}


def test_acknowledging_an_alert(auth_db: Database) -> None:
    clock = Clock(datetime(2026, 3, 2, 15, 30, tzinfo=UTC))
    record(auth_db, clock, 1)
    with auth_db.session_scope() as session:
        (alert,) = alerts.list_alerts(session=session, status="open", limit=10)
        alerts.acknowledge(session=session, alert_id=alert.id, by="K1001", at=clock())
    with auth_db.session_scope(readonly=True) as session:
        (seen,) = alerts.list_alerts(session=session, status="acknowledged", limit=10)
        assert (seen.acknowledged_by, seen.status) == ("K1001", "acknowledged")
    with auth_db.session_scope() as session, pytest.raises(NotFound):
        alerts.acknowledge(
            session=session, alert_id="00000000-0000-0000-0000-000000000000", by="x", at=clock()
        )


def test_a_session_used_from_a_new_address(auth_db: Database) -> None:
    clock = Clock(WORKDAY)
    record(auth_db, clock, 3, source="10.1.2.3")
    assert open_alerts(auth_db) == {}  # the first address is simply where they work
    record(auth_db, clock, 1, source="198.51.100.7")
    assert open_alerts(auth_db) == {("new_location", "S1001"): 1}


def test_a_batch_of_many_callers_raises_what_one_by_one_would(auth_db: Database) -> None:
    """A group commit records many calls' events at once; the rules see each event in order."""
    clock = Clock(datetime(2026, 3, 2, 15, 30, tzinfo=UTC))  # off hours

    def read(actor: str, source: str) -> audit.NewEvent:
        return audit.NewEvent(
            actor=actor, actor_kind="user", action="customer.read", target="customer:C1", source=source
        )

    record(auth_db, clock, 1, actor="S1002", source="10.1.2.3")
    batch = [
        (RECORDER, [read("S1001", "10.0.0.1"), read("S1002", "10.1.2.3")]),
        (RECORDER, [read("S1001", "10.0.0.1"), read("S1002", "198.51.100.7")]),
        (RECORDER, [read("S1002", "198.51.100.7"), read("S1001", "10.0.0.1")]),
    ]
    with auth_db.session_scope() as session:
        seqs = audit.record_checked(session=session, calls=batch, clock=clock)
    assert seqs == [[2, 3], [4, 5], [6, 7]]
    with auth_db.session_scope(readonly=True) as session:
        found = {(a.kind, a.actor): a for a in alerts.list_alerts(session=session, status="open", limit=100)}
    assert set(found) == {("off_hours", "S1001"), ("off_hours", "S1002"), ("new_location", "S1002")}
    # One alert per kind and person, following that person's latest event.
    assert (found["off_hours", "S1001"].first_seq, found["off_hours", "S1001"].last_seq) == (2, 7)
    assert (found["off_hours", "S1002"].first_seq, found["off_hours", "S1002"].last_seq) == (1, 6)
    assert found["new_location", "S1002"].first_seq == 5
