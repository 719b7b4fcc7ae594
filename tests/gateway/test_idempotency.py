"""Idempotency-Key on creating POSTs: the platform's processes over HTTP, with real tokens, keys in
the gateway's memory and in the real Redis; and both stores on their own."""

import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
import redis

from scripts.stack import Stack
from services.common.identity import Caller
from services.gateway.idempotency import (
    IN_FLIGHT_SECONDS,
    REPLAY_SECONDS,
    Entry,
    IdempotencyStore,
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
    _identify,
    creating_routes,
    parse_key,
)
from tests.conftest import REDIS_HOST, REDIS_PORT, customer_data, need_server

REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/14"
PREFIX = "crm:gateway:idempotency:"

# Every POST under /api/v1 that answers 201: each takes an Idempotency-Key (the OpenAPI document
# declares the header on exactly these).
CREATING = {
    ("/api/v1/api-clients", "createApiClient"),
    ("/api/v1/custom-fields", "createCustomField"),
    ("/api/v1/customers", "createCustomer"),
    ("/api/v1/customers/{customer_id}/consents", "giveConsent"),
    ("/api/v1/customers/{customer_id}/contacts", "createContact"),
    ("/api/v1/customers/{customer_id}/contracts", "createContract"),
    ("/api/v1/customers/{customer_id}/interactions", "createInteraction"),
    ("/api/v1/customers/{customer_id}/orders", "createOrder"),
    ("/api/v1/customers/{customer_id}/service-records", "createServiceRecord"),
    ("/api/v1/org-units", "createOrgUnit"),
    ("/api/v1/roles", "createRole"),
    ("/api/v1/segments", "createSegment"),
    ("/api/v1/tag-rules", "createTagRule"),
    ("/api/v1/tags", "createTag"),
    ("/api/v1/users", "createUser"),
}


def test_every_creating_route_takes_a_key() -> None:
    from services.gateway.main import create_app
    from services.gateway.settings import GatewaySettings

    app = create_app(GatewaySettings())
    found = {(r.path, r.operation_id) for _, r in creating_routes(app) if r is not None}
    assert found == CREATING
    document = app.openapi()
    declared = {
        (path, operation["operationId"])
        for path, operations in document["paths"].items()
        for operation in operations.values()
        if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
    }
    assert declared == CREATING
    created = document["paths"]["/api/v1/customers"]["post"]["responses"]["201"]
    assert {"Idempotent-Replayed", "RateLimit", "RateLimit-Policy"} <= set(created["headers"])


# -- over HTTP -----------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["memory", "redis"])
def platform(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The platform with real identities; the gateway keeps keys in memory, then in Redis."""
    data_dir = Path(tmp_path_factory.mktemp("idempotency"))
    gateway_env = {}
    if request.param == "redis":
        need_server("Redis", REDIS_HOST, REDIS_PORT)
        gateway_env["CRM_REDIS_URL"] = REDIS_URL
    stack = Stack(data_dir=data_dir, dev_identity=False, service_env={"gateway": gateway_env})
    stack.migrate()
    stack.command("auth", "seed-demo", "--output", str(data_dir / "users.json"))
    users = {u["role"]: u for u in json.loads((data_dir / "users.json").read_text())}
    with stack, httpx.Client(base_url=stack.gateway_url, timeout=20) as api:
        tokens = {}
        for role in ("admin", "manager"):
            user = users[role]
            reply = api.post(
                "/api/v1/auth/login",
                json={
                    "employee_id": user["employee_id"],
                    "password": user["password"],
                    "totp_code": pyotp.TOTP(user["totp_secret"]).now(),
                },
            )
            assert reply.status_code == 200, reply.text
            tokens[role] = {"Authorization": f"Bearer {reply.json()['tokens']['access_token']}"}
        yield {
            "api": api,
            "stack": stack,
            "store": request.param,
            "tokens": tokens,
            "ids": {role: users[role]["employee_id"] for role in tokens},
        }


def _post(
    platform: dict[str, Any], path: str, body: Any, key: str | bytes | None, role: str = "admin"
) -> httpx.Response:
    headers: dict[str, str | bytes] = dict(platform["tokens"][role])
    if key is not None:
        headers["Idempotency-Key"] = key
    return platform["api"].post(path, json=body, headers=headers)


def _named(platform: dict[str, Any], name: str) -> list[str]:
    reply = platform["api"].get("/api/v1/customers", params={"q": name}, headers=platform["tokens"]["admin"])
    assert reply.status_code == 200, reply.text
    return [c["id"] for c in reply.json()["items"]]


def _unique_name() -> str:
    return f"幂等测试{uuid.uuid4().hex[:10]}有限公司"


def test_a_retry_replays_the_first_answer_and_creates_nothing(platform: dict[str, Any]) -> None:
    name, key = _unique_name(), str(uuid.uuid4())
    body = customer_data(name=name)
    first = _post(platform, "/api/v1/customers", body, key)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = _post(platform, "/api/v1/customers", body, key)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    for header in ("location", "etag", "content-type"):
        assert again.headers[header] == first.headers[header]
    assert again.headers["x-request-id"] != first.headers["x-request-id"]  # a request of its own
    assert _named(platform, name) == [first.json()["id"]]
    # Without a key every POST creates.
    assert _post(platform, "/api/v1/customers", body, None).status_code == 201
    assert len(_named(platform, name)) == 2


def test_related_records_are_replayed_too(platform: dict[str, Any]) -> None:
    customer = _post(platform, "/api/v1/customers", customer_data(name=_unique_name()), None).json()
    path, key = f"/api/v1/customers/{customer['id']}/interactions", str(uuid.uuid4())
    body = {"channel": "phone", "occurred_at": "2024-05-10T15:00:00+08:00", "summary": "电话回访"}
    first, again = (_post(platform, path, body, key) for _ in range(2))
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    listed = platform["api"].get(path, headers=platform["tokens"]["admin"]).json()["items"]
    assert [i["id"] for i in listed] == [first.json()["id"]]
    # The same key on another customer's interactions is another request.
    other = _post(platform, "/api/v1/customers", customer_data(name=_unique_name()), None).json()
    elsewhere = _post(platform, f"/api/v1/customers/{other['id']}/interactions", body, key)
    assert elsewhere.status_code == 201 and "idempotent-replayed" not in elsewhere.headers


def test_the_same_key_with_another_body_is_refused(platform: dict[str, Any]) -> None:
    name, key = _unique_name(), str(uuid.uuid4())
    assert _post(platform, "/api/v1/customers", customer_data(name=name), key).status_code == 201
    reused = _post(platform, "/api/v1/customers", customer_data(name=name, scale="large"), key)
    assert reused.status_code == 422 and reused.headers["content-type"] == "application/problem+json"
    problem = reused.json()
    assert "different request body" in problem["detail"] and problem["request_id"]
    assert problem["errors"][0]["field"] == "header.idempotency-key"
    assert len(_named(platform, name)) == 1


def test_concurrent_duplicates_create_one_customer(platform: dict[str, Any]) -> None:
    name, key = _unique_name(), str(uuid.uuid4())
    body = customer_data(name=name)
    start = threading.Barrier(6)

    def send(_: int) -> httpx.Response:
        with httpx.Client(base_url=platform["stack"].gateway_url, timeout=20) as api:
            start.wait()
            return api.post(
                "/api/v1/customers",
                json=body,
                headers={**platform["tokens"]["admin"], "Idempotency-Key": key},
            )

    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(send, range(6)))
    created = [r for r in replies if r.status_code == 201 and "idempotent-replayed" not in r.headers]
    assert len(created) == 1, [(r.status_code, r.text[:100]) for r in replies]
    for reply in replies:
        if reply.status_code == 409:  # still in flight: retry shortly
            assert reply.headers["retry-after"] == "1" and "still being processed" in reply.json()["detail"]
        else:
            assert reply.status_code == 201 and reply.json()["id"] == created[0].json()["id"]
    assert _named(platform, name) == [created[0].json()["id"]]
    late = _post(platform, "/api/v1/customers", body, key)
    assert late.headers["idempotent-replayed"] == "true" and late.json() == created[0].json()


def test_keys_belong_to_their_caller(platform: dict[str, Any]) -> None:
    name, key = _unique_name(), str(uuid.uuid4())
    body = customer_data(name=name)
    mine = _post(platform, "/api/v1/customers", body, key, "admin")
    theirs = _post(platform, "/api/v1/customers", body, key, "manager")
    assert mine.status_code == theirs.status_code == 201, theirs.text
    assert "idempotent-replayed" not in theirs.headers and theirs.json()["id"] != mine.json()["id"]
    assert theirs.json()["created_by"] == platform["ids"]["manager"]
    assert len(_named(platform, name)) == 2


def test_a_replay_needs_a_valid_token(platform: dict[str, Any]) -> None:
    name, key = _unique_name(), str(uuid.uuid4())
    body = customer_data(name=name)
    assert _post(platform, "/api/v1/customers", body, key).status_code == 201
    token = platform["tokens"]["admin"]["Authorization"]
    for headers in ({}, {"Authorization": token[:-4] + "AAAA"}, {"Authorization": "Bearer not.a.token"}):
        refused = platform["api"].post(
            "/api/v1/customers", json=body, headers={**headers, "Idempotency-Key": key}
        )
        assert refused.status_code == 401 and "idempotent-replayed" not in refused.headers
        assert name not in refused.text
    assert len(_named(platform, name)) == 1


def test_malformed_keys_are_refused(platform: dict[str, Any]) -> None:
    name = _unique_name()
    body = customer_data(name=name)
    for key in ("", "x" * 256, "键".encode(), '"unterminated\\"', '"bad\\escape"'):
        refused = _post(platform, "/api/v1/customers", body, key)
        assert refused.status_code == 422, (key, refused.text)
        assert refused.json()["errors"][0]["field"] == "header.idempotency-key"
    two = platform["api"].post(
        "/api/v1/customers",
        json=body,
        headers=httpx.Headers(
            [*platform["tokens"]["admin"].items(), ("Idempotency-Key", "a"), ("Idempotency-Key", "b")]
        ),
    )
    assert two.status_code == 422 and "one Idempotency-Key" in two.json()["errors"][0]["message"]
    assert _named(platform, name) == []
    # The draft's structured-field string and the bare key are one key.
    key = str(uuid.uuid4())
    assert _post(platform, "/api/v1/customers", body, f'"{key}"').status_code == 201
    assert _post(platform, "/api/v1/customers", body, key).headers["idempotent-replayed"] == "true"
    assert len(_named(platform, name)) == 1


def test_refusals_are_not_kept(platform: dict[str, Any]) -> None:
    """A request refused before anything changed may be corrected and sent with the same key."""
    name, key = _unique_name(), str(uuid.uuid4())
    invalid = _post(platform, "/api/v1/customers", customer_data(name=name, industry_code="9999"), key)
    assert invalid.status_code == 422 and "idempotent-replayed" not in invalid.headers
    fixed = _post(platform, "/api/v1/customers", customer_data(name=name), key)
    assert fixed.status_code == 201 and "idempotent-replayed" not in fixed.headers
    # An outcome of the operation itself is kept: a duplicate contract number's 409 comes back.
    customer = fixed.json()
    contract = {
        "number": f"HT-{customer['id']}",
        "title": "年度设备采购合同",
        "amount": "1000.00",
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
        "status": "active",
    }
    path = f"/api/v1/customers/{customer['id']}/contracts"
    assert _post(platform, path, contract, None).status_code == 201
    key = str(uuid.uuid4())
    duplicate, again = (_post(platform, path, contract, key) for _ in range(2))
    assert duplicate.status_code == again.status_code == 409
    assert (
        again.headers["idempotent-replayed"] == "true"
        and again.json()["detail"] == duplicate.json()["detail"]
    )


def test_replays_are_audited(platform: dict[str, Any]) -> None:
    key = str(uuid.uuid4())
    body = customer_data(name=_unique_name())
    made = _post(platform, "/api/v1/customers", body, key)
    assert _post(platform, "/api/v1/customers", body, key).headers["idempotent-replayed"] == "true"

    def replays() -> list[dict[str, Any]]:
        reply = platform["api"].get(
            "/api/v1/audit/events", params={"action": "gateway.replay"}, headers=platform["tokens"]["admin"]
        )
        return [e for e in reply.json()["items"] if e["actor"] == platform["ids"]["admin"]]

    deadline = time.monotonic() + 10
    while not replays() and time.monotonic() < deadline:
        time.sleep(0.1)
    event = replays()[0]
    assert event["target"] == "POST /api/v1/customers" and event["outcome"] == "success"
    assert made.json()["name"] not in json.dumps(event, ensure_ascii=False)


def test_redis_holds_sealed_answers_with_their_lifetimes(platform: dict[str, Any]) -> None:
    if platform["store"] != "redis":
        pytest.skip("the gateway keeps keys in memory")
    client = redis.Redis.from_url(REDIS_URL)
    name, key = _unique_name(), str(uuid.uuid4())
    body = customer_data(name=name)
    content = json.dumps(body).encode()
    headers = {**platform["tokens"]["admin"], "Idempotency-Key": key, "Content-Type": "application/json"}
    made = platform["api"].post("/api/v1/customers", content=content, headers=headers)
    assert made.status_code == 201
    caller = Caller(id=platform["ids"]["admin"], kind="user")
    stored = PREFIX + _identify(caller, "POST", "/api/v1/customers", key, content).store_key
    value = client.get(stored)
    assert value is not None and name.encode() not in value and b"13812345678" not in value
    assert REPLAY_SECONDS - 60 < client.ttl(stored) <= REPLAY_SECONDS
    # A claim held by another replica (or a request still running): 409 until it ends.
    key = str(uuid.uuid4())
    ids = _identify(caller, "POST", "/api/v1/customers", key, content)
    client.set(PREFIX + ids.store_key, f"elsewhere\n{ids.fingerprint}\n", ex=IN_FLIGHT_SECONDS)
    busy = platform["api"].post(
        "/api/v1/customers", content=content, headers={**headers, "Idempotency-Key": key}
    )
    assert busy.status_code == 409 and busy.headers["retry-after"] == "1"
    client.delete(PREFIX + ids.store_key)
    assert (
        platform["api"]
        .post("/api/v1/customers", content=content, headers={**headers, "Idempotency-Key": key})
        .status_code
        == 201
    )


# -- the stores on their own ---------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> IdempotencyStore:
    if request.param == "memory":
        return MemoryIdempotencyStore()
    need_server("Redis", REDIS_HOST, REDIS_PORT)
    return RedisIdempotencyStore(REDIS_URL)


def test_a_key_is_claimed_once_then_answers(store: IdempotencyStore) -> None:
    key = uuid.uuid4().hex
    assert store.claim(key, "fp", "one") is None
    assert store.claim(key, "fp", "two") == Entry("fp")  # in flight
    store.complete(key, "two", "fp", b"not theirs")  # only the claim's owner completes it
    store.release(key, "two")
    assert store.claim(key, "other", "three") == Entry("fp")
    store.complete(key, "one", "fp", b"\x00sealed\nanswer")
    assert store.claim(key, "fp", "four") == Entry("fp", b"\x00sealed\nanswer")
    store.release(key, "one")  # a kept answer is not released
    assert store.claim(key, "fp", "five") == Entry("fp", b"\x00sealed\nanswer")


def test_a_released_claim_frees_the_key(store: IdempotencyStore) -> None:
    key = uuid.uuid4().hex
    assert store.claim(key, "fp", "one") is None
    store.release(key, "one")
    assert store.claim(key, "other", "two") is None


def test_memory_claims_lapse_and_answers_expire() -> None:
    clock = Clock()
    store = MemoryIdempotencyStore(clock)
    assert store.claim("k", "fp", "one") is None
    clock.now += IN_FLIGHT_SECONDS  # the gateway holding it died
    assert store.claim("k", "fp", "two") is None
    store.complete("k", "two", "fp", b"answer")
    clock.now += REPLAY_SECONDS - 1
    assert store.claim("k", "fp", "three") == Entry("fp", b"answer")
    clock.now += 1
    assert store.claim("k", "fp", "three") is None


def test_redis_replicas_share_claims() -> None:
    need_server("Redis", REDIS_HOST, REDIS_PORT)
    one, two = RedisIdempotencyStore(REDIS_URL), RedisIdempotencyStore(REDIS_URL)
    key = uuid.uuid4().hex
    assert one.claim(key, "fp", "a") is None
    assert two.claim(key, "fp", "b") == Entry("fp")
    assert 0 < redis.Redis.from_url(REDIS_URL).ttl(PREFIX + key) <= IN_FLIGHT_SECONDS
    one.complete(key, "a", "fp", b"answer")
    assert two.claim(key, "fp", "b") == Entry("fp", b"answer")


@pytest.mark.parametrize(
    ("given", "key"),
    [
        (["8e03978e-40d5-43e8-bc93-6894a57f9324"], "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        (['"8e03978e-40d5-43e8-bc93-6894a57f9324"'], "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        (['"a \\"quoted\\" \\\\ key"'], 'a "quoted" \\ key'),
        (["  order 42  "], "order 42"),
        (["x" * 255], "x" * 255),
    ],
)
def test_keys_bare_or_quoted(given: list[str], key: str) -> None:
    assert parse_key(given) == key


@pytest.mark.parametrize(
    "given", [[""], ["  "], ['""'], ["x" * 256], ["tab\there"], ["é"], ['"a"b"'], ['"\\n"'], ["a", "a"]]
)
def test_malformed_keys(given: list[str]) -> None:
    with pytest.raises(ValueError):
        parse_key(given)
