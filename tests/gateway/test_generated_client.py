"""A partner's journey through a Python client generated from the gateway's own /openapi.json.

openapi-python-client (the generator a partner developer would reach for) builds the client in
the test session from the document the running gateway serves; the journey then uses nothing
but that client: a client-credentials token, a lead created (and retried safely), found by
search, read in its 360° view, a list paged to the end, and errors read as problem documents.
"""

import importlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from scripts.stack import Stack

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
ADMIN = {"X-Dev-Caller": "A0001", "X-Dev-Roles": "admin", "X-Dev-Scope": "all"}
PACKAGE = "crm_partner_client"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(data_dir=tmp_path_factory.mktemp("partner")) as running:
        yield running


@pytest.fixture(scope="module")
def generated(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client package, generated from the document the gateway serves."""
    work = tmp_path_factory.mktemp("client")
    document = work / "openapi.json"
    document.write_bytes(httpx.get(f"{stack.gateway_url}/openapi.json", timeout=10).content)
    run = subprocess.run(
        [str(GENERATOR), "generate", "--path", str(document), "--output-path", str(work / PACKAGE)]
        + ["--meta", "none"],
        capture_output=True,
        text=True,
        timeout=120,
        # Its post-generation hook formats the code with ruff, found next to the interpreter.
        env={"PATH": f"{GENERATOR.parent}:/usr/bin:/bin"},
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    # A warning means an operation or a schema the generator could not read was left out.
    assert "Warning" not in report, report
    sys.path.insert(0, str(work))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(work))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def partner_token(stack: Stack, scopes: list[str]) -> str:
    """An API client registered by an administrator, and its token (client credentials grant)."""
    models, admin_api, auth_api = module("models"), module("api.admin"), module("api.auth")
    client_mod = module("client")
    admin = client_mod.Client(base_url=stack.gateway_url, headers=ADMIN)
    created = module("api.admin.create_api_client").sync_detailed(
        client=admin,
        body=models.ApiClientCreate(name=f"伙伴系统 {uuid.uuid4().hex[:6]}", scopes=scopes),
    )
    assert created.status_code == 201, created.content
    assert isinstance(created.parsed, models.ApiClientSecret)
    assert admin_api and auth_api
    token = module("api.auth.oauth_token").sync_detailed(
        client=client_mod.Client(base_url=stack.gateway_url),
        body=models.BodyOauthToken(
            grant_type="client_credentials",
            client_id=created.parsed.client.client_id,
            client_secret=created.parsed.client_secret,
        ),
    )
    assert token.status_code == 200, token.content
    assert isinstance(token.parsed, models.OAuthToken)
    return str(token.parsed.access_token)


def lead(models: Any, name: str, phone: str) -> Any:
    return models.CustomerCreate.from_dict(
        {
            "name": name,
            "industry_code": "3411",
            "region_code": "310115",
            "stage": "lead",
            "source_channel": "api",
            "contacts": [{"name": "林晓", "phones": [phone], "is_primary": True}],
        }
    )


def test_a_partner_journey_through_the_generated_client(generated: ModuleType, stack: Stack) -> None:
    models = module("models")
    client_mod = module("client")
    token = partner_token(stack, ["customer:read", "customer:write", "related:read", "related:write"])
    partner = client_mod.AuthenticatedClient(base_url=stack.gateway_url, token=token)
    create = module("api.customers.create_customer")

    # A lead, created once even when the partner retries with the same Idempotency-Key.
    key = str(uuid.uuid4())
    first = create.sync_detailed(
        client=partner, body=lead(models, "上海澄川精密机械有限公司", "13911112222"), idempotency_key=key
    )
    assert first.status_code == 201, first.content
    assert isinstance(first.parsed, models.CustomerRead) and first.parsed.stage == "lead"
    retry = create.sync_detailed(
        client=partner, body=lead(models, "上海澄川精密机械有限公司", "13911112222"), idempotency_key=key
    )
    assert retry.status_code == 201 and retry.parsed.id == first.parsed.id
    customer_id = first.parsed.id
    others = [
        create.sync_detailed(client=partner, body=lead(models, name, phone)).parsed.id
        for name, phone in (("杭州澄川包装有限公司", "13911113333"), ("苏州远帆光电有限公司", "13911114444"))
    ]

    # Found by search, typed in pinyin, once the index has it.
    search = module("api.search.search_customers")
    deadline = time.monotonic() + 15
    while True:
        found = search.sync_detailed(client=partner, body=models.SearchRequest(query="shanghai chengchuan"))
        assert found.status_code == 200, found.content
        ids = [hit.id for hit in found.parsed.items]
        if ids or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert ids == [customer_id]

    # The 360° view, with an interaction the partner recorded.
    recorded = module("api.related_records.create_interaction").sync_detailed(
        customer_id,
        client=partner,
        body=models.InteractionCreate(
            channel=models.InteractionCreateChannel("web"),
            occurred_at=datetime.now(UTC).replace(microsecond=0),
            summary="官网留言：询价数控机床",
        ),
    )
    assert recorded.status_code == 201, recorded.content
    view = module("api.customers.get_customer_view").sync_detailed(customer_id, client=partner)
    assert view.status_code == 200, view.content
    assert view.parsed.customer.name == "上海澄川精密机械有限公司"
    assert [i.summary for i in view.parsed.recent_interactions] == ["官网留言：询价数控机床"]
    assert view.parsed.interaction_count == 1

    # A list paged to its end, each customer once.
    listing = module("api.customers.list_customers")
    seen: list[str] = []
    page_token: Any = module("types").UNSET
    for _ in range(5):
        page = listing.sync_detailed(client=partner, page_size=2, page_token=page_token)
        assert page.status_code == 200, page.content
        seen += [c.id for c in page.parsed.items]
        if not page.parsed.next_page_token:
            break
        page_token = page.parsed.next_page_token
    assert sorted(seen) == sorted([customer_id, *others])

    # Errors arrive as problem documents the client parses, fields named.
    bad = create.sync_detailed(client=partner, body=lead(models, "上海澄川精密机械有限公司", "12345"))
    assert bad.status_code == 422 and isinstance(bad.parsed, models.Problem)
    assert bad.parsed.type_ == "/problems/validation-error" and bad.parsed.errors
    missing = module("api.customers.get_customer").sync_detailed("C20200101999", client=partner)
    assert missing.status_code == 404 and isinstance(missing.parsed, models.Problem)


def test_a_partner_without_a_scope_gets_a_problem_not_data(generated: ModuleType, stack: Stack) -> None:
    models = module("models")
    token = partner_token(stack, ["customer:read"])
    reader = module("client").AuthenticatedClient(base_url=stack.gateway_url, token=token)
    refused = module("api.customers.create_customer").sync_detailed(
        client=reader, body=lead(models, "南京青岚软件有限公司", "13911115555")
    )
    assert refused.status_code == 403 and isinstance(refused.parsed, models.Problem)
    assert refused.parsed.type_ == "/problems/forbidden"
    listed = module("api.customers.list_customers").sync_detailed(client=reader)
    assert listed.status_code == 200 and listed.parsed.items == []
