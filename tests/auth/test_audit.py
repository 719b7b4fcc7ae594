"""The central audit log: hash chain, verification, tampering, concurrency, queries, access."""

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import grpc
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from crm.auth.v1 import auth_pb2 as pb
from crm.auth.v1 import auth_pb2_grpc
from scripts.stack import ROOT, free_port, wait_grpc_serving
from services.auth import audit
from services.auth.audit_writer import AuditWriter
from services.common.audit import AuditRecorder, AuditUnavailable
from services.common.db import Database
from services.common.errors import InvalidArgument, PermissionDenied, violations_of
from services.common.identity import Caller
from tests.auth.conftest import Clock

RECORDER = Caller(id="svc-profile", kind="service", scope="all", permissions=("audit:write",))
ADMIN = Caller(id="A0001", roles=("admin",), scope="all", permissions=("*",))
AUDITOR = Caller(id="K1001", roles=("auditor",), permissions=("audit:read",))
REP = Caller(id="S1001", roles=("sales",), permissions=("customer:read",))
OTHER_REP = Caller(id="S1002", roles=("sales",), permissions=("customer:read",))


def event(n: int = 0, **overrides: object) -> audit.NewEvent:
    values: dict[str, object] = {
        "actor": "S1001",
        "actor_kind": "user",
        "action": "customer.update",
        "target": f"customer:C2024050100{n}",
        "source": "10.0.0.7",
        "fields": ("name", "contacts"),
        "details": {"version": n, "note": "更新联系人"},
    }
    values.update(overrides)
    return audit.NewEvent(**values)  # type: ignore[arg-type]


def record(db: Database, clock: Clock, *events: audit.NewEvent) -> list[int]:
    with db.session_scope() as session:
        return audit.record(session=session, recorder=RECORDER, events=list(events), clock=clock)


def verify(db: Database) -> audit.Verification:
    with db.session_scope(readonly=True) as session:
        return audit.verify(session=session)


def execute(db: Database, sql: str, **params: object) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(sql), params)


def test_events_chain_and_verify(auth_db: Database, clock: Clock) -> None:
    assert verify(auth_db) == audit.Verification(True, 0)
    assert record(auth_db, clock, event(1)) == [1]
    assert record(auth_db, clock, event(2), event(3, outcome="denied")) == [2, 3]
    with auth_db.session_scope(readonly=True) as session:
        rows, _ = audit.list_events(session=session)
    first, second, third = sorted(rows, key=lambda e: e.seq)
    assert first.prev_hash == audit.GENESIS
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert first.service == "svc-profile" and first.details == {"version": 1, "note": "更新联系人"}
    assert verify(auth_db) == audit.Verification(True, 3)


def test_an_altered_event_is_pinpointed(auth_db: Database, clock: Clock) -> None:
    record(auth_db, clock, *(event(n) for n in range(1, 6)))
    execute(auth_db, "UPDATE audit_events SET actor = 'S9999' WHERE seq = 3")
    result = verify(auth_db)
    assert (result.ok, result.first_bad_seq, result.reason, result.checked) == (
        False,
        3,
        audit.HASH_MISMATCH,
        2,
    )


def test_a_rehashed_forgery_breaks_the_chain_at_the_next_event(auth_db: Database, clock: Clock) -> None:
    record(auth_db, clock, *(event(n) for n in range(1, 6)))
    with auth_db.session_scope(readonly=True) as session:
        original = next(e for e in audit.list_events(session=session)[0] if e.seq == 2)
        values = {c.name: getattr(original, c.name) for c in audit.AuditEvent.__table__.columns}
    new_hash = audit.compute_hash({**values, "target": "customer:forged"})
    execute(
        auth_db,
        "UPDATE audit_events SET target = 'customer:forged', hash = :h WHERE seq = 2",
        h=new_hash,
    )
    result = verify(auth_db)
    assert (result.ok, result.first_bad_seq, result.reason) == (False, 3, audit.BROKEN_CHAIN)


def test_a_deleted_event_is_reported_missing(auth_db: Database, clock: Clock) -> None:
    record(auth_db, clock, *(event(n) for n in range(1, 6)))
    execute(auth_db, "DELETE FROM audit_events WHERE seq = 4")
    result = verify(auth_db)
    assert (result.ok, result.first_bad_seq, result.reason) == (False, 4, audit.MISSING_EVENT)
    execute(auth_db, "DELETE FROM audit_events WHERE seq >= 4")
    result = verify(auth_db)
    assert (result.ok, result.first_bad_seq, result.reason) == (False, 4, audit.MISSING_EVENT)


def test_verify_pages_through_long_chains(
    auth_db: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "VERIFY_BATCH", 7)
    for start in range(0, 40, 10):
        record(auth_db, clock, *(event(n) for n in range(start, start + 10)))
    assert verify(auth_db) == audit.Verification(True, 40)
    execute(auth_db, "UPDATE audit_events SET details = :d WHERE seq = 29", d='{"version": 0}')
    assert verify(auth_db).first_bad_seq == 29


def test_concurrent_recorders_make_one_contiguous_chain(auth_db: Database, clock: Clock) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for n in range(10):
                record(auth_db, clock, event(n, actor=f"S{worker:04d}"), event(n, actor=f"S{worker:04d}"))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert verify(auth_db) == audit.Verification(True, 160)
    with auth_db.session_scope(readonly=True) as session:
        seqs = [e.seq for e in audit.list_events(session=session, page_size=500)[0]]
    assert sorted(seqs) == list(range(1, 161))


def test_the_group_writer_commits_concurrent_calls_together_in_one_chain(
    auth_db: Database, clock: Clock
) -> None:
    writer = AuditWriter(auth_db, clock)
    answers: dict[int, list[int]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(17)

    def work(worker: int) -> None:
        try:
            start.wait()
            for n in range(10):
                actor = f"S{worker:04d}"
                if worker == 16:  # the auth service's own actions still record directly
                    record(auth_db, clock, event(n, actor=actor))
                    continue
                seqs = writer.record(recorder=RECORDER, events=[event(n, actor=actor), event(n, actor=actor)])
                answers[worker * 100 + n] = seqs
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(17)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    before = REGISTRY.get_sample_value("crm_auth_audit_commit_events_count") or 0.0
    with pytest.raises(InvalidArgument):
        writer.record(recorder=RECORDER, events=[event(1, action="not an action")])
    writer.close()
    assert errors == []
    assert verify(auth_db) == audit.Verification(True, 330)
    with auth_db.session_scope(readonly=True) as session:
        stored = {e.seq: e for e in audit.list_events(session=session, page_size=500)[0]}
    assert sorted(stored) == list(range(1, 331))
    # Each call got its own two consecutive seqs, naming its own events.
    for key, seqs in answers.items():
        assert seqs[1] == seqs[0] + 1
        assert {stored[s].actor for s in seqs} == {f"S{key // 100:04d}"}
        assert {stored[s].target for s in seqs} == {f"customer:C2024050100{key % 100}"}
    # The refused call queued nothing and committed nothing.
    assert REGISTRY.get_sample_value("crm_auth_audit_commit_events_count") == before


def test_list_filters_and_pages_newest_first(auth_db: Database, clock: Clock) -> None:
    start = clock()
    record(auth_db, clock, *(event(n) for n in range(5)))
    clock.advance(60)
    record(
        auth_db,
        clock,
        event(7, actor="M1001", action="customer.read"),
        event(8, actor="M1001", action="customer.delete", outcome="denied"),
    )
    with auth_db.session_scope(readonly=True) as session:
        page, token = audit.list_events(session=session, page_size=3)
        assert [e.seq for e in page] == [7, 6, 5] and token
        page, token = audit.list_events(session=session, page_size=3, page_token=token)
        assert [e.seq for e in page] == [4, 3, 2] and token
        page, token = audit.list_events(session=session, page_size=3, page_token=token)
        assert [e.seq for e in page] == [1] and token == ""
        assert [e.seq for e in audit.list_events(session=session, actor="M1001")[0]] == [7, 6]
        assert [e.seq for e in audit.list_events(session=session, outcome="denied")[0]] == [7]
        assert [e.seq for e in audit.list_events(session=session, action="customer.read")[0]] == [6]
        assert [e.seq for e in audit.list_events(session=session, target="customer:C20240501003")[0]] == [4]
        later = audit.list_events(session=session, start_time=start + timedelta(seconds=30))[0]
        earlier = audit.list_events(session=session, end_time=start + timedelta(seconds=30))[0]
        assert [e.seq for e in later] == [7, 6] and [e.seq for e in earlier] == [5, 4, 3, 2, 1]
        with pytest.raises(InvalidArgument) as bad:
            audit.list_events(session=session, page_token="not-a-token!", outcome="maybe")
        assert {v.field for v in bad.value.violations} == {"page.page_token", "outcome"}


def test_invalid_events_are_refused_with_field_violations(auth_db: Database, clock: Clock) -> None:
    with pytest.raises(InvalidArgument) as bad:
        record(
            auth_db,
            clock,
            event(1),
            event(2, action="Customer-Update", outcome="ok", actor="", trace_id="xyz", target="t" * 201),
        )
    assert {v.field for v in bad.value.violations} == {
        "events.1.action",
        "events.1.outcome",
        "events.1.actor",
        "events.1.trace_id",
        "events.1.target",
    }
    with pytest.raises(InvalidArgument) as bad:
        record(auth_db, clock, *(event(n) for n in range(101)))
    assert [v.field for v in bad.value.violations] == ["events"]
    with pytest.raises(InvalidArgument):
        record(auth_db, clock, event(1, details={"blob": "x" * 5000}))
    assert verify(auth_db) == audit.Verification(True, 0)  # nothing of the refused calls


def listing(n: int = 0, customers: tuple[str, ...] = (), **overrides: object) -> audit.NewEvent:
    """A list read's event, naming the customers it returned."""
    values: dict[str, object] = {"action": "customer.list", "target": "customers", "fields": ()}
    values["details"] = {}
    return event(n, customers=customers, **{**values, **overrides})


def stored_customers(db: Database) -> list[tuple[int, str]]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT seq, customer_id FROM audit_event_customers"))]


def test_events_without_customers_hash_exactly_as_before(auth_db: Database, clock: Clock) -> None:
    """Chains recorded before events listed customers still verify: the field is hashed only when set."""
    record(auth_db, clock, event(1), listing(2, ("C20240501002", "C20240501001")))
    with auth_db.session_scope(readonly=True) as session:
        plain, listed = sorted(audit.list_events(session=session)[0], key=lambda e: e.seq)
        assert audit.customers_of(session=session, seqs=[1, 2]) == {2: ["C20240501001", "C20240501002"]}
        values = {c.name: getattr(plain, c.name) for c in audit.AuditEvent.__table__.columns}
        listed_values = {c.name: getattr(listed, c.name) for c in audit.AuditEvent.__table__.columns}
    # The body as it was hashed before this field existed (docs/audit.md, "The chain").
    old_body = {k: v for k, v in values.items() if k != "hash"} | {"at": audit._at_text(plain.at)}
    old = json.dumps(old_body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert plain.hash == hashlib.sha256(old.encode("utf-8")).hexdigest()
    assert listed.hash == audit.compute_hash({**listed_values, "customers": ["C20240501002", "C20240501001"]})
    assert listed.hash != audit.compute_hash(listed_values)
    assert verify(auth_db) == audit.Verification(True, 2)


def test_a_customer_filter_finds_targeting_and_listing_events(auth_db: Database, clock: Clock) -> None:
    ada, bo, cy = "C20240501001", "C20240501002", "C202405011000"
    record(
        auth_db,
        clock,
        event(1, action="customer.read"),  # seq 1, targets ada
        listing(customers=(bo, ada, bo)),  # 2: lists ada (once) and bo
        listing(customers=(cy,), actor="M1001"),  # 3
        event(2),  # 4: bo
        listing(customers=(ada, cy), actor="M1001", action="customer.search"),  # 5
    )
    assert sorted(stored_customers(auth_db)) == [(2, ada), (2, bo), (3, cy), (5, ada), (5, cy)]
    with auth_db.session_scope(readonly=True) as session:

        def seqs(**filters: Any) -> list[int]:
            return [e.seq for e in audit.list_events(session=session, **filters)[0]]

        assert seqs(customer_id=ada) == [5, 2, 1]
        assert seqs(customer_id=bo) == [4, 2]
        assert seqs(customer_id=cy, actor="M1001", action="customer.list") == [3]
        assert seqs(customer_id="C20240501009") == []
        page, token = audit.list_events(session=session, customer_id=ada, page_size=2)
        assert [e.seq for e in page] == [5, 2]
        assert audit.customers_of(session=session, seqs=[5, 2]) == {5: [ada, cy], 2: [ada, bo]}
        page, token = audit.list_events(session=session, customer_id=ada, page_size=2, page_token=token)
        assert [e.seq for e in page] == [1] and token == ""
        assert audit.customers_of(session=session, seqs=[1]) == {}
        with pytest.raises(InvalidArgument) as bad:
            audit.list_events(session=session, customer_id="customer:C1")
        assert [v.field for v in bad.value.violations] == ["customer_id"]


def test_a_page_carries_a_bounded_number_of_customers(
    auth_db: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "MAX_PAGE_CUSTOMERS", 10)
    ids = tuple(f"C20240501{n:03d}" for n in range(12))
    record(auth_db, clock, event(1), listing(customers=ids[:4]), listing(customers=ids[:5]), event(4))
    record(auth_db, clock, listing(customers=ids), listing(customers=ids[:2]))
    with auth_db.session_scope(readonly=True) as session:
        pages = []
        page, token = audit.list_events(session=session)
        pages.append([e.seq for e in page])
        while token:
            page, token = audit.list_events(session=session, page_token=token)
            pages.append([e.seq for e in page])
        # 2 + 12 > 10; one event over the budget still makes a page; 0 + 5 + 4 fit.
        assert pages == [[6], [5], [4, 3, 2, 1]]
        assert audit.list_events(session=session, with_customers=False)[0][-1].seq == 1


def test_altered_customer_rows_break_the_chain_at_their_event(auth_db: Database, clock: Clock) -> None:
    record(auth_db, clock, event(1), listing(customers=("C20240501001", "C20240501002")), event(3))
    execute(auth_db, "DELETE FROM audit_event_customers WHERE seq = 2 AND customer_id = 'C20240501002'")
    assert (verify(auth_db).first_bad_seq, verify(auth_db).reason) == (2, audit.HASH_MISMATCH)
    execute(auth_db, "INSERT INTO audit_event_customers (seq, customer_id) VALUES (2, 'C20240501002')")
    assert verify(auth_db).ok
    execute(auth_db, "INSERT INTO audit_event_customers (seq, customer_id) VALUES (3, 'C20240501009')")
    assert (verify(auth_db).first_bad_seq, verify(auth_db).reason) == (3, audit.HASH_MISMATCH)


def test_verify_pages_through_events_listing_many_customers(
    auth_db: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "VERIFY_BATCH", 3)  # events 3 at a time, customer rows 30 at a time
    ids = [f"C20240501{n:03d}" for n in range(1, 50)]
    record(
        auth_db,
        clock,
        *(listing(customers=tuple(ids[n : n + 25])) if n % 2 else event(n) for n in range(10)),
    )
    assert verify(auth_db) == audit.Verification(True, 10)
    execute(auth_db, "DELETE FROM audit_event_customers WHERE seq = 10 AND customer_id = :c", c=ids[33])
    assert verify(auth_db).first_bad_seq == 10


def test_the_customers_of_an_event_are_bounded_and_checked(auth_db: Database, clock: Clock) -> None:
    too_many = tuple(f"C2024050{n:05d}" for n in range(audit.MAX_CUSTOMERS + 1))
    with pytest.raises(InvalidArgument) as bad:
        record(auth_db, clock, listing(customers=too_many))
    assert [v.field for v in bad.value.violations] == ["events.0.customer_ids"]
    assert "5,000" in bad.value.violations[0].message
    malformed = ("C20240501001", "customer:C20240501002", "C1", "", "C20240501003\n")
    with pytest.raises(InvalidArgument) as bad:
        record(auth_db, clock, event(1), listing(customers=malformed))
    assert [v.field for v in bad.value.violations] == [f"events.1.customer_ids.{j}" for j in (1, 2, 3, 4)]
    with pytest.raises(InvalidArgument) as bad:
        record(auth_db, clock, listing(customers=("x",) * 50))
    assert len(bad.value.violations) == audit.MAX_CUSTOMER_PROBLEMS  # not one per customer
    per_call = tuple(f"C2024050{n:05d}" for n in range(audit.MAX_CUSTOMERS))
    with pytest.raises(InvalidArgument) as bad:
        record(auth_db, clock, *(listing(customers=per_call) for _ in range(5)))
    assert [v.field for v in bad.value.violations] == ["events"]
    assert verify(auth_db) == audit.Verification(True, 0) and stored_customers(auth_db) == []
    assert record(auth_db, clock, listing(customers=per_call)) == [1]
    assert len(stored_customers(auth_db)) == audit.MAX_CUSTOMERS and verify(auth_db).ok


def test_who_may_write_and_read(auth_db: Database) -> None:
    audit.require_writer(caller=RECORDER, dev_identity=False)
    dev_service = Caller(id="svc-search", kind="service", scope="all")
    audit.require_writer(caller=dev_service, dev_identity=True)
    for caller in (dev_service, REP):
        with pytest.raises(PermissionDenied):
            audit.require_writer(caller=caller, dev_identity=False)
    # "*" grants audit:write, but only platform services record what others did.
    audit.require_writer(caller=ADMIN, dev_identity=False)
    audit.require_own_actions(caller=ADMIN, events=[event(actor="A0001")])
    with pytest.raises(PermissionDenied):
        audit.require_own_actions(caller=ADMIN, events=[event()])
    audit.require_own_actions(caller=RECORDER, events=[event()])
    with auth_db.session_scope(readonly=True) as session:
        audit.require_reader(session=session, caller=ADMIN)
        audit.require_reader(session=session, caller=AUDITOR)
        for caller in (REP, RECORDER):
            with pytest.raises(PermissionDenied):
                audit.require_reader(session=session, caller=caller)


def test_the_recorder_fails_closed_when_the_log_is_down() -> None:
    recorder = AuditRecorder(f"127.0.0.1:{free_port()}", metadata=RECORDER.to_metadata, deadline_seconds=1)
    try:
        with pytest.raises(AuditUnavailable) as caught:
            recorder.record(caller=REP, action="customer.read", target="customer:C1")
        assert caught.value.code == grpc.StatusCode.UNAVAILABLE
        recorded = recorder.start(caller=REP, action="customer.search", target="customers")
        with pytest.raises(AuditUnavailable):
            recorded()  # started alongside the work, it still fails the answer
    finally:
        recorder.close()


# --- through a real auth process -------------------------------------------------------------


@pytest.fixture(scope="module")
def auth_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("audit")
    address = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}",
        "CRM_DATA_DIR": str(data_dir),
        "CRM_AUTH_LISTEN_ADDRESS": address,
        "CRM_DEV_IDENTITY": "true",
        "OTEL_SERVICE_NAME": "auth",
    }
    with open(data_dir / "auth.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.auth"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_grpc_serving(address)
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_services_record_and_auditors_read_over_grpc(auth_address: str) -> None:
    recorder = AuditRecorder(auth_address, metadata=RECORDER.to_metadata, source="gateway")
    try:
        first = recorder.record(
            caller=REP, action="customer.update", target="customer:C1", fields=["name"], details={"v": 2}
        )
        second = recorder.record(caller=REP, action="customer.delete", target="customer:C1", outcome="denied")
        assert second == first + 1
        assert recorder.start(caller=OTHER_REP, action="customer.search", target="customers")() == second + 1
        # Anyone without audit:write is refused, and the refusal is the recorder's AuditUnavailable.
        with pytest.raises(AuditUnavailable):
            AuditRecorder(auth_address, metadata=REP.to_metadata).record(
                caller=REP, action="customer.read", target="customer:C1"
            )
    finally:
        recorder.close()
    with grpc.insecure_channel(auth_address) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.RecordAuditEvents(
                pb.RecordAuditEventsRequest(
                    events=[pb.AuditEvent(actor="S1001", actor_kind="user", action="bad", outcome="success")]
                ),
                metadata=RECORDER.to_metadata(),
                timeout=5,
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in violations_of(caught.value)] == ["events.0.action"]
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListAuditEvents(pb.ListAuditEventsRequest(), metadata=REP.to_metadata(), timeout=5)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        listed = stub.ListAuditEvents(
            pb.ListAuditEventsRequest(actor="S1001"), metadata=AUDITOR.to_metadata(), timeout=5
        )
        assert [e.seq for e in listed.events] == [second, first]
        latest, earliest = listed.events
        assert earliest.prev_hash == audit.GENESIS and latest.prev_hash == earliest.hash
        assert (earliest.service, earliest.source, list(earliest.fields)) == (
            "svc-profile",
            "gateway",
            ["name"],
        )
        assert earliest.details_json == '{"v":2}' and latest.outcome == "denied"
        verified = stub.VerifyAuditLog(pb.VerifyAuditLogRequest(), metadata=AUDITOR.to_metadata(), timeout=5)
        assert (verified.ok, verified.checked, verified.first_bad_seq) == (True, 3, 0)


def test_api_clients_record_with_their_access_tokens(auth_address: str) -> None:
    with grpc.insecure_channel(auth_address) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        created = stub.CreateApiClient(
            pb.CreateApiClientRequest(
                client=pb.ApiClient(
                    name="svc-profile", scopes=["audit:write"], record_scope="all", kind="service"
                )
            ),
            metadata=ADMIN.to_metadata(),
            timeout=5,
        )
        token = stub.IssueClientToken(
            pb.IssueClientTokenRequest(
                client_id=created.client.client_id, client_secret=created.client_secret
            ),
            timeout=5,
        ).tokens.access_token
        bearer = [("authorization", f"Bearer {token}")]
        recorder = AuditRecorder(auth_address, metadata=lambda: bearer)
        try:
            seq = recorder.record(caller=OTHER_REP, action="customer.read", target="customer:C7")
        finally:
            recorder.close()
        with pytest.raises(grpc.RpcError) as caught:
            stub.VerifyAuditLog(pb.VerifyAuditLogRequest(), metadata=bearer, timeout=5)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(AuditUnavailable):
            AuditRecorder(auth_address, metadata=lambda: [("authorization", "Bearer forged")]).record(
                caller=OTHER_REP, action="customer.read", target="customer:C7"
            )
        listed = stub.ListAuditEvents(
            pb.ListAuditEventsRequest(target="customer:C7"), metadata=AUDITOR.to_metadata(), timeout=5
        )
    assert [e.seq for e in listed.events] == [seq]
    assert listed.events[0].service == f"svc-profile ({created.client.client_id})"
