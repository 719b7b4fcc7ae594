"""Client request budgets, in memory and in the real Redis shared by gateway replicas; how they
are announced over HTTP (RateLimit-Policy, RateLimit, Retry-After)."""

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from scripts.stack import Stack
from services.gateway.ratelimit import (
    CLIENT_POLICY,
    Decision,
    MemoryRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    fields,
)
from tests.conftest import REDIS_HOST, REDIS_PORT, customer_data, need_server

REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/15"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_080.0  # 20 s before a window ends

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
def limiter_and_clock(request: pytest.FixtureRequest) -> Iterator[tuple[RateLimiter, Clock]]:
    clock = Clock()
    if request.param == "memory":
        yield MemoryRateLimiter(clock), clock
        return
    need_server("Redis", REDIS_HOST, REDIS_PORT)
    yield RedisRateLimiter(REDIS_URL, clock), clock


def test_a_client_gets_its_budget_per_minute(limiter_and_clock: tuple[RateLimiter, Clock]) -> None:
    limiter, clock = limiter_and_clock
    client = f"client-{uuid.uuid4().hex}"
    decisions = [limiter.hit(client, 3) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[-1].reset_seconds == 20
    assert limiter.hit(f"other-{uuid.uuid4().hex}", 3).allowed  # budgets are per client
    clock.now += 20  # the next window starts afresh
    assert limiter.hit(client, 3).allowed


def test_replicas_share_one_budget_in_redis() -> None:
    need_server("Redis", REDIS_HOST, REDIS_PORT)
    clock = Clock()
    one, two = (RedisRateLimiter(REDIS_URL, clock) for _ in range(2))
    client = f"client-{uuid.uuid4().hex}"
    assert one.hit(client, 2).allowed and two.hit(client, 2).allowed
    assert not one.hit(client, 2).allowed


def test_budgets_are_announced_as_the_draft_says() -> None:
    """draft-ietf-httpapi-ratelimit-headers-11: a quoted policy name; q quota and w window, r quota
    left and t seconds until it is restored."""
    announced = fields(CLIENT_POLICY, Decision(allowed=True, limit=600, remaining=599, reset_seconds=37))
    assert announced == [("RateLimit-Policy", '"client";q=600;w=60'), ("RateLimit", '"client";r=599;t=37')]


# -- over HTTP -----------------------------------------------------------------------------------

_ANNOUNCED = re.compile(r'"client";r=(\d+);t=(\d+)')


@pytest.fixture(scope="module")
def partner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The platform with real identities and a partner client allowed 5 requests a minute."""
    data_dir = Path(tmp_path_factory.mktemp("ratelimit"))
    stack = Stack(data_dir=data_dir, dev_identity=False)
    stack.migrate()
    stack.command("auth", "seed-demo", "--output", str(data_dir / "users.json"))
    admin_user = next(u for u in json.loads((data_dir / "users.json").read_text()) if u["role"] == "admin")
    with stack, httpx.Client(base_url=stack.gateway_url, timeout=20) as api:
        login = api.post(
            "/api/v1/auth/login",
            json={
                "employee_id": admin_user["employee_id"],
                "password": admin_user["password"],
                "totp_code": pyotp.TOTP(admin_user["totp_secret"]).now(),
            },
        )
        admin = {"Authorization": f"Bearer {login.json()['tokens']['access_token']}"}
        made = api.post(
            "/api/v1/api-clients",
            headers=admin,
            json={
                "name": "商城订单同步",
                "scopes": ["customer:read", "customer:write"],
                "record_scope": "all",
                "rate_limit_per_minute": 5,
            },
        ).json()
        issued = api.post(
            "/api/v1/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": made["client"]["client_id"],
                "client_secret": made["client_secret"],
            },
        )
        assert issued.status_code == 200, issued.text
        yield {
            "api": api,
            "stack": stack,
            "admin": admin,
            "partner": {"Authorization": f"Bearer {issued.json()['access_token']}"},
        }


def _left(reply: httpx.Response) -> tuple[int, int]:
    assert reply.headers["ratelimit-policy"] == '"client";q=5;w=60', reply.headers
    found = _ANNOUNCED.fullmatch(reply.headers["ratelimit"])
    assert found, reply.headers["ratelimit"]
    return int(found[1]), int(found[2])


def test_every_answer_to_a_partner_announces_its_budget(partner: dict[str, Any]) -> None:
    api, headers = partner["api"], partner["partner"]
    if 60 - time.time() % 60 < 15:  # the whole budget is spent within one window
        time.sleep(60 - time.time() % 60 + 0.5)
    body = customer_data(name="限流测试商城有限公司")
    key = {"Idempotency-Key": "order-20260523-0001"}
    created = api.post("/api/v1/customers", json=body, headers={**headers, **key})
    assert created.status_code == 201, created.text
    replayed = api.post("/api/v1/customers", json=body, headers={**headers, **key})
    assert replayed.headers["idempotent-replayed"] == "true"  # a replay is a request too
    listed = api.get("/api/v1/customers", headers=headers)
    missing = api.get("/api/v1/customers/C20990101999", headers=headers)
    last = api.get("/api/v1/customers", headers=headers)
    assert [r.status_code for r in (created, replayed, listed, missing, last)] == [201, 201, 200, 404, 200]
    left = [_left(r) for r in (created, replayed, listed, missing, last)]
    assert [r for r, _ in left] == [4, 3, 2, 1, 0]
    assert all(0 < t <= 60 for _, t in left)
    refused = api.get("/api/v1/customers", headers=headers)
    assert refused.status_code == 429 and refused.headers["content-type"] == "application/problem+json"
    remaining, reset = _left(refused)
    assert remaining == 0 and int(refused.headers["retry-after"]) == reset  # both name the window's end
    for old in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"):
        assert old not in refused.headers  # superseded by the draft's two fields


def test_only_counted_requests_announce_a_budget(partner: dict[str, Any]) -> None:
    api = partner["api"]
    employee = api.get("/api/v1/customers", headers=partner["admin"])
    forged = api.get(
        "/api/v1/customers", headers={"Authorization": partner["partner"]["Authorization"] + "x"}
    )
    assert (employee.status_code, forged.status_code) == (200, 401)
    for reply in (employee, forged):
        assert "ratelimit" not in reply.headers and "ratelimit-policy" not in reply.headers


def test_a_service_down_answers_503_with_retry_after(partner: dict[str, Any]) -> None:
    api, stack = partner["api"], partner["stack"]
    stack.stop_service("profile")
    try:
        down = api.get("/api/v1/customers", headers=partner["admin"])
        assert down.status_code == 503 and int(down.headers["retry-after"]) >= 1
        unready = api.get("/readyz")
        assert unready.status_code == 503 and int(unready.headers["retry-after"]) >= 1
    finally:
        stack.start_service("profile")
    # The gateway's channel reconnects with backoff, so recovery takes a moment.
    deadline = time.monotonic() + 15
    while (status := api.get("/api/v1/customers", headers=partner["admin"]).status_code) == 503:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200
