"""The tagging service over real gRPC, in its own process: identity, errors, the tag feed."""

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm.common.v1 import common_pb2
from crm.profile.v1 import profile_pb2, profile_pb2_grpc
from crm.tagging.v1 import tagging_pb2 as pb
from crm.tagging.v1 import tagging_pb2_grpc
from scripts.stack import Stack
from services.common.errors import violations_of
from services.common.identity import Caller
from tests.waiting import eventually

ADMIN = Caller(id="u-admin", roles=("admin",), scope="all", permissions=("*",)).to_metadata()
FEED_READER = Caller(id="svc-search", kind="service", scope="all", permissions=("feed:read",)).to_metadata()
REP = Caller(id="S1001", roles=("sales",), scope="own", permissions=("tag:read", "tag:assign")).to_metadata()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(data_dir=Path(tmp_path_factory.mktemp("tagging")))
    stack.migrate()
    for service in ("auth", "profile", "tagging"):
        stack.start_service(service)
    yield stack
    stack.stop()


@pytest.fixture
def stub(running: Stack) -> Iterator[tagging_pb2_grpc.TaggingServiceStub]:
    with grpc.insecure_channel(running.tagging_address) as channel:
        yield tagging_pb2_grpc.TaggingServiceStub(channel)


def test_health_and_identity(running: Stack, stub: tagging_pb2_grpc.TaggingServiceStub) -> None:
    with grpc.insecure_channel(running.tagging_address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListTags(pb.ListTagsRequest(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreateTag(pb.CreateTagRequest(tag=pb.Tag(name="x")), metadata=REP, timeout=5)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_invalid_arguments_carry_field_violations(stub: tagging_pb2_grpc.TaggingServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreateTag(pb.CreateTagRequest(tag=pb.Tag(name="", color="blue")), metadata=ADMIN, timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in violations_of(caught.value)} == {"tag.name", "tag.color"}
    deep = common_pb2.Condition(field=common_pb2.FieldTest(field="tier", exists=True))
    for _ in range(10):
        deep = common_pb2.Condition(**{"not": deep})
    with pytest.raises(grpc.RpcError) as caught:
        stub.PreviewSegment(pb.PreviewSegmentRequest(condition=deep), metadata=ADMIN, timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "nest" in violations_of(caught.value)[0].message
    assert stub.ListTags(pb.ListTagsRequest(), metadata=ADMIN, timeout=5).tags == []


def test_the_tag_feed_is_ordered_gap_free_and_for_services(
    running: Stack, stub: tagging_pb2_grpc.TaggingServiceStub
) -> None:
    with grpc.insecure_channel(running.profile_address) as channel:
        profile = profile_pb2_grpc.ProfileServiceStub(channel)
        ids = [
            profile.CreateCustomer(
                profile_pb2.CreateCustomerRequest(
                    customer=profile_pb2.Customer(
                        name=f"馈送测试{n}有限公司",
                        industry_code="6511",
                        contacts=[profile_pb2.Contact(name="陈晨", phones=["13900001111"])],
                    )
                ),
                metadata=ADMIN,
                timeout=5,
            ).customer.id
            for n in range(3)
        ]
    tag = stub.CreateTag(pb.CreateTagRequest(tag=pb.Tag(name="馈送")), metadata=ADMIN, timeout=5).tag

    def assign() -> bool:
        try:
            stub.AssignTags(
                pb.AssignTagsRequest(
                    customers=pb.CustomerSelection(customer_ids=pb.CustomerIds(ids=ids)), tag_ids=[tag.id]
                ),
                metadata=ADMIN,
                timeout=5,
            )
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND  # not yet in the read model
            return False
        return True

    assert eventually(assign)
    stub.RemoveTags(
        pb.RemoveTagsRequest(customers=pb.CustomerSelection(customer_id=ids[0]), tag_ids=[tag.id]),
        metadata=ADMIN,
        timeout=5,
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.ReadTagChanges(pb.ReadTagChangesRequest(), metadata=REP, timeout=5)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    feed = stub.ReadTagChanges(pb.ReadTagChangesRequest(after_position=0), metadata=FEED_READER, timeout=5)
    positions = [c.position for c in feed.changes]
    assert positions == list(range(1, len(positions) + 1)) and feed.head_position == positions[-1]
    latest = {c.customer_id: list(c.tags) for c in feed.changes}
    assert latest == {ids[0]: [], ids[1]: ["馈送"], ids[2]: ["馈送"]}
    tail = stub.ReadTagChanges(
        pb.ReadTagChangesRequest(after_position=positions[-2]), metadata=FEED_READER, timeout=5
    )
    assert [c.position for c in tail.changes] == positions[-1:]
