"""The OpenAPI document is a contract a generated client can trust: Schemathesis generates
requests from it (examples, coverage and fuzzing phases, and chained calls that feed one answer
into the next) for an administrator and a partner client, and every answer must be what the
document says: no server error, documented statuses,
content types, headers and bodies, required headers enforced, undocumented methods refused with
Allow. The few failures a document cannot prevent are in contract_allowlist.toml, each with its
reason."""

import json
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS as registry
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi import checks  # noqa: F401  (registers the OpenAPI checks)

from scripts.stack import Stack
from services.gateway.main import create_app
from services.gateway.settings import GatewaySettings

HERE = Path(__file__).parent
ALLOWED = tomllib.loads((HERE / "contract_allowlist.toml").read_text())["allowed"]
# The document the running gateway serves, built from the same code.
DOCUMENT = create_app(GatewaySettings()).openapi()
SETTINGS = (HERE / "schemathesis.toml").read_text()
# Auth endpoints are left out: their budgets and delays are tested on their own.
schema = schemathesis.openapi.from_dict(DOCUMENT, config=SchemathesisConfig.from_str(SETTINGS)).exclude(
    path_regex="^/api/v1/(auth|oauth)/"
)
# Each operation's documented examples and a generated request, without the coverage phase's
# hundreds of boundary cases (those run for the administrator and the partner).
brief = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=SchemathesisConfig.from_str(SETTINGS + "\n[phases.coverage]\nenabled = false\n"),
).exclude(path_regex="^/api/v1/(auth|oauth)/")
# Callers with different views of the same API: an administrator (a development identity)
# reaches every operation, and a partner client the contract is published for, with its field
# groups hidden; each built-in role sees its own part (403s where it may not, hidden fields).
ROLES = {
    "admin": {"X-Dev-Caller": "A0001", "X-Dev-Roles": "admin", "X-Dev-Scope": "all"},
    "manager": {"X-Dev-Caller": "M0001", "X-Dev-Roles": "manager", "X-Dev-Scope": "team"},
    "sales": {"X-Dev-Caller": "S0001", "X-Dev-Roles": "sales", "X-Dev-Scope": "own"},
    "service": {"X-Dev-Caller": "V0001", "X-Dev-Roles": "service", "X-Dev-Scope": "all"},
    "marketing": {"X-Dev-Caller": "K0001", "X-Dev-Roles": "marketing", "X-Dev-Scope": "all"},
}
# Examples per operation and caller, and chained sequences per caller: small in `make test`,
# larger in `make bench-contract` (CRM_CONTRACT_SCALE multiplies them).
SCALE = int(os.environ.get("CRM_CONTRACT_SCALE", "1"))
# The callers who reach every operation get generated requests; the roles, the documented examples.
THOROUGH = ["admin", "partner"]
BRIEF = [role for role in ROLES if role != "admin"]


@pytest.fixture(scope="module")
def contract_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Stack, dict[str, dict[str, str]]]]:
    with Stack(data_dir=Path(tmp_path_factory.mktemp("contract"))) as stack:
        callers = dict(ROLES)
        with httpx.Client(base_url=stack.gateway_url, timeout=10) as api:
            client = api.post(
                "/api/v1/api-clients",
                headers=ROLES["admin"],
                json={
                    "name": "契约测试",
                    "scopes": ["customer:read", "customer:write"],
                    "record_scope": "own",
                    # The run sends more than the default 600 requests a minute.
                    "rate_limit_per_minute": 100_000,
                },
            ).json()
            token = api.post(
                "/api/v1/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": client["client"]["client_id"],
                    "client_secret": client["client_secret"],
                },
            ).json()["access_token"]
        callers["partner"] = {"Authorization": f"Bearer {token}"}
        yield stack, callers


def _problem_text(response: Any) -> str:
    try:
        body = json.loads(response.content)
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    return " ".join(
        [str(body.get("detail") or ""), *(str(e.get("message")) for e in body.get("errors") or [])]
    )


def _allowed(failure: Any, response: Any) -> bool:
    text = _problem_text(response)
    return any(failure.code == a["code"] and a["answer"] in text for a in ALLOWED)


# What the document promises about every answer: every check Schemathesis has (its `-c all`).
CHECKS = registry.get_all()


def _check(case: schemathesis.Case, headers: dict[str, str], stack: Stack) -> None:
    response = case.call(base_url=stack.gateway_url, headers=headers)
    try:
        case.validate_response(response, headers=headers, checks=CHECKS)
    except FailureGroup as group:
        left = [f for f in group.exceptions if not _allowed(f, response)]
        if left:
            failed = FailureGroup(left)
            codes = sorted({f.code for f in left})
            answer = f"{response.status_code} {response.content[:300]!r}"
            failed.add_note(f"{codes} {case.method} {case.formatted_path} -> {answer}")
            failed.add_note(f"sent: {case.as_curl_command()[:600]}")
            raise failed from None


# Derandomized, so a run in `make test` is repeatable; the by-hand run in docs/api.md explores further.
@pytest.mark.parametrize("caller", THOROUGH)
@schema.parametrize()
@settings(
    max_examples=3 * SCALE, derandomize=SCALE == 1, deadline=None, suppress_health_check=list(HealthCheck)
)
def test_the_api_keeps_its_documented_contract(
    case: schemathesis.Case, caller: str, contract_stack: tuple[Stack, dict[str, dict[str, str]]]
) -> None:
    stack, callers = contract_stack
    _check(case, callers[caller], stack)


@pytest.mark.parametrize("caller", BRIEF)
@brief.parametrize()
@settings(max_examples=SCALE, derandomize=SCALE == 1, deadline=None, suppress_health_check=list(HealthCheck))
def test_each_role_sees_the_documented_contract(
    case: schemathesis.Case, caller: str, contract_stack: tuple[Stack, dict[str, dict[str, str]]]
) -> None:
    stack, callers = contract_stack
    _check(case, callers[caller], stack)


def _state_machine(base_url: str, headers: dict[str, str]) -> Any:
    """Sequences of calls that feed one answer into the next (a created customer's ID into its
    reads, changes, related records, tags and erasure), chained by the links Schemathesis infers
    from the document; every answer is checked as in the stateless test."""

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": base_url, "headers": headers}

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            try:
                case.validate_response(response, headers=headers, checks=CHECKS)
            except FailureGroup as group:
                left = [f for f in group.exceptions if not _allowed(f, response)]
                if left:
                    failed = FailureGroup(left)
                    answer = f"{response.status_code} {response.content[:300]!r}"
                    failed.add_note(f"{case.method} {case.formatted_path} -> {answer}")
                    failed.add_note(f"sent: {case.as_curl_command()[:600]}")
                    raise failed from None

    return Workflow


@pytest.mark.parametrize("caller", THOROUGH)
def test_chained_calls_keep_the_contract(
    caller: str, contract_stack: tuple[Stack, dict[str, dict[str, str]]]
) -> None:
    stack, callers = contract_stack
    _state_machine(stack.gateway_url, callers[caller]).run(
        settings=settings(
            max_examples=15 * SCALE,
            stateful_step_count=6,
            derandomize=SCALE == 1,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )


def test_every_error_is_documented_as_a_registered_problem() -> None:
    from services.gateway.problems import TYPES

    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (method, path, status)
    assert all(p.uri == f"/problems/{name}" for name, p in TYPES.items())
    assert len({(p.status, p.name) for p in TYPES.values()}) == len(TYPES)
