"""Anomaly rules over the audit stream, with a controlled clock, on both databases."""

from datetime import UTC, datetime
from typing import Any

import pytest

from services.auth import alerts, audit
from services.auth.settings import AuthSettings
from services.common.db import Database
from services.common.errors import NotFound
from services.common.identity import Caller
from tests.auth.conftest import Clock

RECORDER = Caller(id="svc-profile", kind="service", permissions=("audit:write",))
# 10:00 in Shanghai: inside working hours.
WORKDAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def record(
    db: Database, clock: Clock, count: int, rules: alerts.Rules = alerts.DEFAULT_RULES, **fields: Any
) -> None:
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
            audit.record(session=session, recorder=RECORDER, clock=clock, events=events, rules=rules)


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


def customers(first: int, count: int) -> tuple[str, ...]:
    return tuple(f"C20260302{n:03d}" for n in range(first, first + count))


def read_each(db: Database, clock: Clock, ids: tuple[str, ...], **fields: Any) -> None:
    """One single read (customer.read, target customer:<id>) of each customer."""
    for start in range(0, len(ids), audit.MAX_EVENTS_PER_CALL):
        events = [
            audit.NewEvent(actor_kind="user", action="customer.read", target=f"customer:{c}", **fields)
            for c in ids[start : start + audit.MAX_EVENTS_PER_CALL]
        ]
        with db.session_scope() as session:
            audit.record(session=session, recorder=RECORDER, clock=clock, events=events)


def test_repeated_denials_and_mass_viewing(auth_db: Database) -> None:
    clock = Clock(WORKDAY)
    record(auth_db, clock, 5, actor="K1001", action="rpc.list_contracts", outcome="denied")
    read_each(auth_db, clock, customers(1, alerts.MASS_VIEWING.threshold - 1), actor="M1001")
    # Reading the same customers again shows nobody new.
    read_each(auth_db, clock, customers(1, 50), actor="M1001")
    assert open_alerts(auth_db) == {("repeated_denials", "K1001"): 5}
    # One list page showing one more customer, and one already seen, reaches the threshold.
    record(
        auth_db,
        clock,
        1,
        actor="M1001",
        action="customer.list",
        target="customers",
        customers=customers(199, 2),
    )
    assert open_alerts(auth_db)[("mass_viewing", "M1001")] == alerts.MASS_VIEWING.threshold


def test_mass_viewing_counts_the_customers_lists_searches_and_segments_return(
    auth_db: Database, settings: AuthSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_AUTH_MASS_VIEWING_THRESHOLD", "12")
    rules = alerts.Rules.from_settings(AuthSettings())
    assert rules.mass_viewing.threshold == 12
    clock = Clock(WORKDAY)

    def shown(actor: str, action: str, ids: tuple[str, ...], **fields: Any) -> None:
        target = "segment:s1" if action.startswith("segment.") else "customers"
        record(auth_db, clock, 1, rules, actor=actor, action=action, target=target, customers=ids, **fields)

    # Paging a list over the same five customers again and again shows five.
    for _ in range(10):
        shown("M1001", "customer.list", customers(1, 5))
    assert open_alerts(auth_db) == {}
    shown("M1001", "customer.search", customers(4, 4))  # 2 new: 7
    read_each(auth_db, clock, customers(8, 2), actor="M1001")  # 9
    shown("M1001", "segment.members.read", customers(1, 10))  # 10
    shown("M1001", "customer.list", customers(10, 3), outcome="denied")  # a refusal showed nothing
    assert open_alerts(auth_db) == {}
    shown("M1001", "segment.export", customers(10, 2))  # 11
    shown("M1001", "customer.tags.read", customers(12, 1))  # 12
    assert open_alerts(auth_db) == {("mass_viewing", "M1001"): 12}
    shown("M1001", "customer.list", customers(13, 5))
    assert open_alerts(auth_db) == {("mass_viewing", "M1001"): 17}  # the same alert grows
    # The platform's services read customers in bulk by design; partners are watched like people.
    shown("svc-search", "customer.tags.read", customers(1, 100), actor_kind="service")
    shown("partner-1", "customer.list", customers(1, 100), actor_kind="client")
    assert set(open_alerts(auth_db)) == {("mass_viewing", "M1001"), ("mass_viewing", "partner-1")}
    # An hour later the window starts afresh.
    clock.advance(3601)
    shown("S1001", "customer.list", customers(1, 11))
    clock.advance(3601)
    shown("S1001", "customer.list", customers(20, 11))
    assert ("mass_viewing", "S1001") not in open_alerts(auth_db)


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
