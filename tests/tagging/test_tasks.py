"""The Celery worker and beat for real, on the embedded SQLite broker and on production's Redis:
the scheduled evaluation applies a time-based rule that no data change triggered, and is audited."""

import json
import time
from pathlib import Path

import grpc
import pytest
import redis
from sqlalchemy import update

from crm.auth.v1 import auth_pb2, auth_pb2_grpc
from scripts.stack import Stack
from services.common.db import Database
from services.tagging import migrate, rules, service
from services.tagging.models import Rule
from tests.conftest import REDIS_HOST, REDIS_PORT, need_server
from tests.tagging.conds import all_, behavior, field
from tests.tagging.conftest import ADMIN, load_dataset


def broker_env(broker: str) -> dict[str, str]:
    """The stack's broker setting: the embedded default, or an emptied database on the real Redis."""
    if broker == "sqlite":
        return {}
    need_server("Redis", REDIS_HOST, REDIS_PORT)
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/13"  # its own database: test_idempotency uses 14
    redis.Redis.from_url(url).flushdb()  # no task left over from an earlier run
    return {"CRM_BROKER_URL": url}


@pytest.mark.parametrize("broker", ["sqlite", "redis"])
def test_beat_and_worker_evaluate_rules_on_a_schedule(tmp_path: Path, broker: str) -> None:
    url = f"sqlite:///{tmp_path / 'tagging.db'}"
    migrate.upgrade(url)
    db = Database(url, service="tagging")
    load_dataset(db)
    with db.session_scope() as session:
        tag = service.create_tag(session=session, caller=ADMIN, data={"name": "沉睡", "system": True})
        cond = all_(field("tier", any_of=["A", "B"]), behavior("interactions", {"lte": "0"}, days=90))
        rule = rules.create_rule(
            session=session,
            caller=ADMIN,
            data={"name": "沉睡", "tag_id": tag.id, "condition": cond, "enabled": False},
        )
        # Enabled behind the service's back: only the scheduled evaluation can apply it now.
        session.execute(update(Rule).where(Rule.id == rule.id).values(enabled=True))
    stack = Stack(data_dir=tmp_path, env={"CRM_TAGGING_SCHEDULE_SECONDS": "1", **broker_env(broker)})
    stack.migrate()
    stack.start_service("auth")
    try:
        stack.start_worker("tagging-worker")
        deadline = time.monotonic() + 60
        tagged: dict[str, list[str]] = {}
        while time.monotonic() < deadline:
            with db.session_scope(readonly=True) as session:
                tagged = service.tag_names(session, ["C1", "C2", "C5"])
            if tagged["C1"]:
                break
            time.sleep(0.5)
        with grpc.insecure_channel(stack.auth_address) as channel:
            audited = auth_pb2_grpc.AuthServiceStub(channel).ListAuditEvents(
                auth_pb2.ListAuditEventsRequest(action="tagging.evaluate"),
                metadata=ADMIN.to_metadata(),
                timeout=5,
            )
    finally:
        stack.stop()
        db.dispose()
    log = (tmp_path / "log" / "tagging-worker.log").read_text(errors="replace")
    assert tagged == {"C1": ["沉睡"], "C2": [], "C5": ["沉睡"]}, log[-3000:]
    assert audited.events and audited.events[0].actor == "svc-tagging-worker"
    assert json.loads(audited.events[-1].details_json)["rules"] == 1
