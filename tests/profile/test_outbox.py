"""Audit events of changes go through the archive's outbox: committed with the change, shipped
to the central log in order, kept while the log is down; over real processes, on both databases."""

import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from sqlalchemy import create_engine, text

from crm.auth.v1 import auth_pb2, auth_pb2_grpc
from crm.profile.v1 import profile_pb2 as pb
from crm.profile.v1 import profile_pb2_grpc
from scripts.stack import Stack
from services.common.identity import Caller
from tests.waiting import eventually

ADMIN = Caller(id="u-admin", roles=("admin",), scope="all", permissions=("*",)).to_metadata()
AUDITOR = Caller(id="K1001", roles=("auditor",), permissions=("audit:read",)).to_metadata()


def customer(name: str) -> pb.Customer:
    return pb.Customer(
        name=name,
        industry_code="6511",
        region_code="330106",
        contacts=[pb.Contact(name="陈晨", phones=["13900001111"])],
    )


@pytest.fixture
def stack(db_url: str, tmp_path: Path) -> Iterator[Stack]:
    running = Stack(data_dir=tmp_path / "data", database_url=db_url)
    running.migrate()
    running.start_service("auth")
    running.start_service("profile")
    yield running
    running.stop()


def pending(db_url: str) -> int:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM audit_outbox")).scalar_one())
    finally:
        engine.dispose()


def logged(stack: Stack, action: str = "customer.create") -> list[auth_pb2.AuditEvent]:
    with grpc.insecure_channel(stack.auth_address) as channel:
        reply = auth_pb2_grpc.AuthServiceStub(channel).ListAuditEvents(
            auth_pb2.ListAuditEventsRequest(action=action), metadata=AUDITOR, timeout=5
        )
    return sorted(reply.events, key=lambda e: e.seq)


def metric(stack: Stack, name: str) -> float:
    page = httpx.get(f"http://127.0.0.1:{stack.profile_metrics_port}/metrics", timeout=5).text
    return float(next(line.split()[1] for line in page.splitlines() if line.startswith(name + " ")))


def test_change_events_reach_the_log_in_order_and_wait_while_it_is_down(stack: Stack, db_url: str) -> None:
    with grpc.insecure_channel(stack.profile_address) as channel:
        profile = profile_pb2_grpc.ProfileServiceStub(channel)

        def create(name: str) -> str:
            request = pb.CreateCustomerRequest(customer=customer(name))
            return str(profile.CreateCustomer(request, metadata=ADMIN, timeout=10).customer.id)

        first = create("杭州云栖软件有限公司")
        assert eventually(lambda: [e.target for e in logged(stack)] == [f"customer:{first}"], 5)
        (event,) = logged(stack)
        assert (event.actor, event.service, event.trace_id != "") == ("u-admin", "svc-profile", True)
        assert "occurred_at" in json.loads(event.details_json) and "name" in event.fields
        assert pending(db_url) == 0

        # A refused change leaves no event behind.
        with pytest.raises(grpc.RpcError):
            profile.CreateCustomer(
                pb.CreateCustomerRequest(customer=pb.Customer(name="x", industry_code="ZZ")),
                metadata=ADMIN,
                timeout=10,
            )

        # With the log down, changes still succeed and their events wait in the archive.
        stack.stop_service("auth")
        names = ("宁波甬江机械有限公司", "温州瓯海眼镜有限公司", "绍兴柯桥纺织有限公司")
        later = [create(name) for name in names]
        assert pending(db_url) == 3
        assert eventually(lambda: metric(stack, "crm_profile_audit_outbox_pending") == 3, 5)

        stack.start_service("auth")
        targets = [f"customer:{cid}" for cid in [first, *later]]
        assert eventually(lambda: [e.target for e in logged(stack)] == targets, 20), logged(stack)
        assert pending(db_url) == 0
        assert eventually(lambda: metric(stack, "crm_profile_audit_outbox_pending") == 0, 5)
