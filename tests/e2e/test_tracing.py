"""One request makes one trace across the gateway and the profile service, logs included."""

import json
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider

from scripts.stack import Stack
from services.common import logging as crm_logging
from tests.conftest import customer_data


def spans(path: Path, trace_id: str) -> list[dict[str, Any]]:
    """The spans of a trace once both services' server spans have been exported."""

    def read() -> list[dict[str, Any]]:
        if not path.exists():
            return []
        return [
            s
            for s in map(json.loads, path.read_text().splitlines())
            if s["context"]["trace_id"] == "0x" + trace_id
        ]

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        servers = {
            s["resource"]["attributes"]["service.name"] for s in read() if s["kind"] == "SpanKind.SERVER"
        }
        if servers >= {"gateway", "profile"}:
            time.sleep(0.5)  # the batches holding the remaining client and SQL spans
            break
        time.sleep(0.2)
    return read()


def test_a_request_is_one_trace_from_gateway_to_database(tmp_path: Path) -> None:
    spans_file = tmp_path / "spans.jsonl"
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with (
        Stack(data_dir=tmp_path, env={"CRM_TRACE_FILE": str(spans_file)}) as stack,
        httpx.Client(base_url=stack.gateway_url) as api,
    ):
        reply = api.post(
            "/api/v1/customers",
            json=customer_data(),
            headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
        )
        assert reply.status_code == 201
        customer_id = reply.json()["id"]
        history = api.get(f"/api/v1/customers/{customer_id}/history").json()["items"]
        found = spans(spans_file, trace_id)
    assert {s["resource"]["attributes"]["service.name"] for s in found} == {"gateway", "profile"}
    by_id = {s["context"]["span_id"]: s for s in found}
    server = [
        s
        for s in found
        if s["kind"] == "SpanKind.SERVER" and s["resource"]["attributes"]["service.name"] == "profile"
    ]
    assert len(server) == 1
    assert server[0]["attributes"]["crm.customer.id"] == customer_id
    assert server[0]["attributes"]["crm.caller.id"] == "dev-admin"
    parent = by_id[server[0]["parent_id"]]
    assert parent["kind"] == "SpanKind.CLIENT"
    assert parent["resource"]["attributes"]["service.name"] == "gateway"
    roots = [s for s in found if s["parent_id"] not in by_id]
    assert len(roots) == 1 and roots[0]["parent_id"] == "0x00f067aa0ba902b7"  # the caller's span
    assert any("db.system" in s["attributes"] for s in found), "SQL statements are in the trace"
    assert history[0]["trace_id"] == trace_id  # the recorded change names its request's trace


def test_log_lines_carry_the_trace_and_span_ids(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    crm_logging.setup("profile")
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        logging.getLogger("crm.test").warning("customer saved")
        ctx = span.get_span_context()
    root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["message"] == "customer saved" and line["service"] == "profile"
    assert line["trace_id"] == f"{ctx.trace_id:032x}" and line["span_id"] == f"{ctx.span_id:016x}"
