"""Celery tasks of the tagging service and the beat schedule of time-based evaluation.

Run a worker (with beat in the embedded mode) with
`celery -A services.tagging.tasks worker --beat --concurrency 1`; production runs beat as its own
single-replica Deployment. Tasks take ids, open their own unit of work and are idempotent:
a redelivered task finds nothing left to change.
"""

import logging
from functools import cache
from typing import Any

from services.common import authn, jobs
from services.common.audit import AuditRecorder
from services.common.db import Database
from services.common.identity import Caller
from services.tagging import segments, service
from services.tagging.models import Segment
from services.tagging.settings import TaggingSettings

log = logging.getLogger(__name__)
SERVICE = "tagging"
WORKER = Caller(id="svc-tagging-worker", kind="service", scope="all")

settings = TaggingSettings()
app = jobs.create_app(SERVICE, settings)
app.conf.beat_schedule = {
    "evaluate-rules-and-segments": {
        "task": "tagging.evaluate",
        "schedule": settings.schedule_seconds,
    }
}


@cache
def _db() -> Database:
    """This worker process's database (opened after the fork)."""
    return Database(settings.resolved_database_url(), service=SERVICE)


@cache
def _audit() -> AuditRecorder:
    credentials = authn.ServiceCredentials(settings, service=SERVICE, scopes=("audit:write",))
    return AuditRecorder(
        settings.auth_addr,
        metadata=credentials.metadata,
        deadline_seconds=settings.rpc_deadline_seconds,
        source="tagging-worker",
        settings=settings,
    )


@app.task(name="tagging.evaluate")
def evaluate() -> dict[str, Any]:
    """Apply every enabled rule and refresh every segment: time-based conditions move with time."""
    with _db().session_scope() as session:
        rules, segs, tags, moved = segments.evaluate_all(session, at=service.now())
        result = {"rules": rules, "segments": segs, "tag_changes": tags, "membership_changes": moved}
        _audit().record(caller=WORKER, action="tagging.evaluate", target="rules,segments", details=result)
    log.info("scheduled evaluation done", extra=result)
    return result


@app.task(name="tagging.refresh_segment")
def refresh_segment(segment_id: str) -> int:
    """Re-materialize one segment's membership; returns how many customers entered or left."""
    with _db().session_scope() as session:
        segment = session.get(Segment, segment_id)
        if segment is None:
            return 0
        moved = segments.refresh(session, segment=segment, at=service.now())
        _audit().record(
            caller=WORKER,
            action="segment.refresh",
            target=f"segment:{segment_id}",
            details={"changed": moved},
        )
    return moved
