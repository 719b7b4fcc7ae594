"""The profile service over real gRPC, in its own process: identity, errors, feed, health."""

import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from google.protobuf import field_mask_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm.profile.v1 import profile_pb2 as pb
from crm.profile.v1 import profile_pb2_grpc
from scripts.stack import Stack
from services.common.errors import violations_of
from services.common.identity import Caller
from services.gateway.policy import permissions as role_permissions

ADMIN = Caller(id="u-admin", roles=("admin",), scope="all", permissions=("*",)).to_metadata()
FEED_READER = Caller(id="svc-search", kind="service", scope="all", permissions=("feed:read",)).to_metadata()
REP = Caller(
    id="S1001", roles=("sales",), scope="own", permissions=role_permissions(("sales",))
).to_metadata()


def new_customer(name: str = "杭州云栖软件有限公司") -> pb.Customer:
    return pb.Customer(
        name=name,
        industry_code="6511",
        region_code="330106",
        contacts=[pb.Contact(name="陈晨", phones=["13900001111"])],
    )


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(data_dir=tmp_path_factory.mktemp("profile"))
    stack.migrate()
    stack.start_service("auth")  # every change and read is audited there
    stack.start_service("profile")
    yield stack
    stack.stop()


@pytest.fixture
def stub(profile: Stack) -> Iterator[profile_pb2_grpc.ProfileServiceStub]:
    with grpc.insecure_channel(profile.profile_address) as channel:
        yield profile_pb2_grpc.ProfileServiceStub(channel)


def test_calls_without_identity_are_unauthenticated(stub: profile_pb2_grpc.ProfileServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListCustomers(pb.ListCustomersRequest(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    bad_scope = [("x-crm-caller-id", "x"), ("x-crm-caller-scope", "galaxy")]
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListCustomers(pb.ListCustomersRequest(), metadata=bad_scope, timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_invalid_arguments_carry_field_violations(stub: profile_pb2_grpc.ProfileServiceStub) -> None:
    bad = pb.Customer(name="x", industry_code="ZZ", contacts=[pb.Contact(name="a", phones=["1"])])
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreateCustomer(pb.CreateCustomerRequest(customer=bad), metadata=ADMIN, timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in violations_of(caught.value)} == {"industry_code", "contacts.0.phones.0"}


def test_stale_versions_are_aborted(stub: profile_pb2_grpc.ProfileServiceStub) -> None:
    made = stub.CreateCustomer(
        pb.CreateCustomerRequest(customer=new_customer()), metadata=ADMIN, timeout=5
    ).customer
    change = pb.UpdateCustomerRequest(
        customer_id=made.id,
        expected_version=1,
        customer=pb.Customer(stage="intent"),
        update_mask=field_mask_pb2.FieldMask(paths=["stage"]),
    )
    assert stub.UpdateCustomer(change, metadata=ADMIN, timeout=5).customer.version == 2
    with pytest.raises(grpc.RpcError) as caught:
        stub.UpdateCustomer(change, metadata=ADMIN, timeout=5)
    assert caught.value.code() == grpc.StatusCode.ABORTED


def test_the_service_checks_scope_itself(stub: profile_pb2_grpc.ProfileServiceStub) -> None:
    theirs = stub.CreateCustomer(
        pb.CreateCustomerRequest(customer=new_customer()), metadata=ADMIN, timeout=5
    ).customer
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetCustomer(pb.GetCustomerRequest(customer_id=theirs.id), metadata=REP, timeout=5)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        stub.ReadChanges(pb.ReadChangesRequest(), metadata=REP, timeout=5)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_health_and_reflection(profile: Stack) -> None:
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with grpc.insecure_channel(profile.profile_address) as channel:
        status = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="crm.profile.v1.ProfileService"), timeout=5
        )
        assert status.status == health_pb2.HealthCheckResponse.SERVING
        alive = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="liveness"), timeout=5
        )
        assert alive.status == health_pb2.HealthCheckResponse.SERVING
        replies = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        names = {s.name for r in replies for s in r.list_services_response.service}
    assert "crm.profile.v1.ProfileService" in names


def read_all(stub: profile_pb2_grpc.ProfileServiceStub, after: int) -> list[pb.Change]:
    changes: list[pb.Change] = []
    while True:
        page = stub.ReadChanges(
            pb.ReadChangesRequest(after_position=after, limit=100), metadata=FEED_READER, timeout=5
        ).changes
        if not page:
            return changes
        changes += page
        after = page[-1].position


def test_a_feed_reader_resumes_after_a_crash_and_misses_nothing(profile: Stack) -> None:
    with grpc.insecure_channel(profile.profile_address) as channel:
        stub = profile_pb2_grpc.ProfileServiceStub(channel)
        start = stub.ReadChanges(
            pb.ReadChangesRequest(after_position=0, limit=1), metadata=FEED_READER, timeout=5
        ).head_position
        made = [
            stub.CreateCustomer(
                pb.CreateCustomerRequest(customer=new_customer(f"客户{i}")), metadata=ADMIN, timeout=5
            ).customer.id
            for i in range(5)
        ]
        first = read_all(stub, start)
    # The service dies without warning; accepted writes must survive and the feed resume.
    profile.stop_service("profile", signal.SIGKILL)
    profile.start_service("profile")
    with grpc.insecure_channel(profile.profile_address) as channel:
        stub = profile_pb2_grpc.ProfileServiceStub(channel)
        more = [
            stub.CreateCustomer(
                pb.CreateCustomerRequest(customer=new_customer(f"客户b{i}")), metadata=ADMIN, timeout=5
            ).customer.id
            for i in range(3)
        ]
        rest = read_all(stub, first[-1].position)
    assert [c.customer_id for c in first] == made
    assert [c.customer_id for c in rest] == more
    positions = [c.position for c in first + rest]
    assert positions == list(range(start + 1, start + 9))
    assert rest[0].customer.name == "客户b0" and rest[0].action == "customer.created"


def test_concurrent_writers_never_let_a_reader_skip_a_position(profile: Stack) -> None:
    with grpc.insecure_channel(profile.profile_address) as channel:
        stub = profile_pb2_grpc.ProfileServiceStub(channel)
        start = stub.ReadChanges(
            pb.ReadChangesRequest(limit=1), metadata=FEED_READER, timeout=5
        ).head_position

        def write(i: int) -> str:
            return stub.CreateCustomer(
                pb.CreateCustomerRequest(customer=new_customer(f"并发{i}")), metadata=ADMIN, timeout=10
            ).customer.id

        seen: list[int] = []
        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(write, i) for i in range(60)]
            after = start
            while not all(f.done() for f in futures) or after < start + 60:
                page = stub.ReadChanges(
                    pb.ReadChangesRequest(after_position=after, limit=7), metadata=FEED_READER, timeout=5
                ).changes
                seen += [c.position for c in page]
                after = page[-1].position if page else after
            ids = {f.result() for f in futures}
    assert seen == list(range(start + 1, start + 61))  # contiguous, each once, in order
    assert len(ids) == 60


def test_red_and_pool_metrics_are_exported(profile: Stack, stub: profile_pb2_grpc.ProfileServiceStub) -> None:
    import httpx

    stub.ListCustomers(pb.ListCustomersRequest(), metadata=ADMIN, timeout=5)
    with pytest.raises(grpc.RpcError):
        stub.GetCustomer(pb.GetCustomerRequest(customer_id="C20990101001"), metadata=ADMIN, timeout=5)
    text = httpx.get(f"http://127.0.0.1:{profile.profile_metrics_port}/metrics").text
    method = "/crm.profile.v1.ProfileService"
    assert f'crm_profile_grpc_requests_total{{code="OK",method="{method}/ListCustomers"}}' in text
    assert f'crm_profile_grpc_requests_total{{code="NOT_FOUND",method="{method}/GetCustomer"}}' in text
    assert f'crm_profile_grpc_request_duration_seconds_count{{method="{method}/ListCustomers"}}' in text
    assert 'crm_profile_db_pool_connections{state="checked_out"}' in text


def test_hidden_field_groups_leave_every_shape(stub: profile_pb2_grpc.ProfileServiceStub) -> None:
    made = stub.CreateCustomer(
        pb.CreateCustomerRequest(customer=new_customer()), metadata=ADMIN, timeout=5
    ).customer
    stub.CreateOrder(
        pb.CreateOrderRequest(
            customer_id=made.id,
            order=pb.Order(product="服务器", amount="1000.00", ordered_at={"seconds": 1_700_000_000}),
        ),
        metadata=ADMIN,
        timeout=5,
    )
    blind = Caller(
        id="M7",
        roles=("marketing",),
        scope="all",
        hidden_fields=("contact", "purchase"),
        permissions=role_permissions(("marketing",)),
    ).to_metadata()
    seen = stub.GetCustomer(pb.GetCustomerRequest(customer_id=made.id), metadata=blind, timeout=5).customer
    assert seen.contacts[0].name == "陈晨" and list(seen.contacts[0].phones) == []
    assert not seen.HasField("last_order_at")
    listed = stub.ListCustomers(pb.ListCustomersRequest(), metadata=blind, timeout=5).customers
    assert all(not c.contacts[0].phones for c in listed)
    view = stub.GetCustomerView(
        pb.GetCustomerViewRequest(customer_id=made.id), metadata=blind, timeout=5
    ).view
    assert list(view.recent_orders) == [] and view.lifetime_order_amount == ""
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListOrders(pb.ListRelatedRequest(customer_id=made.id), metadata=blind, timeout=5)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_history_does_not_reveal_hidden_values(stub: profile_pb2_grpc.ProfileServiceStub) -> None:
    made = stub.CreateCustomer(
        pb.CreateCustomerRequest(customer=new_customer()), metadata=ADMIN, timeout=5
    ).customer
    stub.UpdateCustomer(
        pb.UpdateCustomerRequest(
            customer_id=made.id,
            expected_version=1,
            customer=pb.Customer(credit_limit="5000.00", stage="intent"),
            update_mask=field_mask_pb2.FieldMask(paths=["credit_limit", "stage"]),
        ),
        metadata=ADMIN,
        timeout=5,
    )
    agent = Caller(
        id="V7",
        roles=("service",),
        scope="all",
        hidden_fields=("financial",),
        permissions=("customer:history",),
    ).to_metadata()
    latest = stub.ListCustomerHistory(
        pb.ListCustomerHistoryRequest(customer_id=made.id), metadata=agent, timeout=5
    ).revisions[0]
    changes = {
        c.field: (c.old_value.WhichOneof("kind"), c.new_value.WhichOneof("kind")) for c in latest.changes
    }
    assert changes["credit_limit"] == ("null_value", "null_value")  # changed, but not shown
    stage = next(c for c in latest.changes if c.field == "stage")
    assert stage.new_value.string_value == "intent"


def test_masked_contacts_show_only_part(stub: profile_pb2_grpc.ProfileServiceStub) -> None:
    made = stub.CreateCustomer(
        pb.CreateCustomerRequest(
            customer=pb.Customer(
                name="宁波masked测试有限公司",
                industry_code="6511",
                region_code="330106",
                contacts=[pb.Contact(name="陈晨", phones=["13900001111"], emails=["chenchen@nbtest.cn"])],
            )
        ),
        metadata=ADMIN,
        timeout=5,
    ).customer
    partial = Caller(
        id="V8",
        roles=("service",),
        scope="all",
        masked_fields=("contact",),
        permissions=("customer:read", "customer:history"),
    ).to_metadata()
    seen = stub.GetCustomer(pb.GetCustomerRequest(customer_id=made.id), metadata=partial, timeout=5).customer
    assert (seen.contacts[0].name, list(seen.contacts[0].phones), list(seen.contacts[0].emails)) == (
        "陈晨",
        ["139****1111"],
        ["c***@nbtest.cn"],
    )
    history = stub.ListCustomerHistory(
        pb.ListCustomerHistoryRequest(customer_id=made.id), metadata=partial, timeout=5
    ).revisions[0]
    contacts = next(c for c in history.changes if c.field == "contacts")
    assert contacts.new_value.WhichOneof("kind") == "null_value"  # no full numbers through history
