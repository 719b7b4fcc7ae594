"""Client request budgets, in memory and in the real Redis shared by gateway replicas."""

import uuid
from collections.abc import Iterator

import pytest

from services.gateway.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from tests.conftest import need_server


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
    need_server("Redis", "127.0.0.1", 6379)
    yield RedisRateLimiter("redis://127.0.0.1:6379/15", clock), clock


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
    need_server("Redis", "127.0.0.1", 6379)
    clock = Clock()
    one, two = (RedisRateLimiter("redis://127.0.0.1:6379/15", clock) for _ in range(2))
    client = f"client-{uuid.uuid4().hex}"
    assert one.hit(client, 2).allowed and two.hit(client, 2).allowed
    assert not one.hit(client, 2).allowed
