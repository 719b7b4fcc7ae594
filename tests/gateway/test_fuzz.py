"""Generated requests from the OpenAPI document: no input makes the gateway fail with a 5xx."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from scripts.stack import Stack
from services.gateway.main import create_app
from services.gateway.settings import GatewaySettings

# The document the running gateway serves, built from the same code.
schema = schemathesis.openapi.from_dict(create_app(GatewaySettings()).openapi())


@pytest.fixture(scope="module")
def fuzzed_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(data_dir=Path(tmp_path_factory.mktemp("fuzz"))) as stack:
        yield stack


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_breaks_the_gateway(case: schemathesis.Case, fuzzed_stack: Stack) -> None:
    response = case.call(base_url=fuzzed_stack.gateway_url)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
    if response.status_code >= 400:
        content_type = response.headers["content-type"]
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        assert content_type == "application/problem+json", response.text[:200]
