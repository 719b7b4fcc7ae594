"""Per-client request budgets: Redis in production (shared by every gateway replica), memory
in the embedded mode. Fixed one-minute windows keep the accounting exact and cheap.

Budgets are announced on responses with the RateLimit-Policy and RateLimit fields of
draft-ietf-httpapi-ratelimit-headers-11 (structured-field lists of a quoted policy name with
parameters: q quota, w window seconds; r quota left, t seconds until the window ends)."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis

WINDOW_SECONDS = 60
# The policy name under which each partner client's own budget is announced.
CLIENT_POLICY = "client"


@dataclass(frozen=True)
class Decision:
    """Whether a request may pass, and what to tell the client about its budget."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int


class RateLimiter(Protocol):
    """Counts a client's requests in the current window."""

    def hit(self, client_id: str, limit: int) -> Decision:
        """Count one request; allowed while the window's count stays within limit."""


def fields(policy: str, decision: Decision) -> list[tuple[str, str]]:
    """RateLimit-Policy and RateLimit response fields announcing a budget after a request."""
    return [
        ("RateLimit-Policy", f'"{policy}";q={decision.limit};w={WINDOW_SECONDS}'),
        ("RateLimit", f'"{policy}";r={decision.remaining};t={decision.reset_seconds}'),
    ]


def _decision(count: int, limit: int, now: float) -> Decision:
    reset = WINDOW_SECONDS - int(now) % WINDOW_SECONDS
    return Decision(count <= limit, limit, max(limit - count, 0), reset)


class MemoryRateLimiter:
    """One process's counters (the embedded mode runs one gateway)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, client_id: str, limit: int) -> Decision:
        """Count one request in this process."""
        now = self._clock()
        window = int(now) // WINDOW_SECONDS
        with self._lock:
            key = (client_id, window)
            self._counts[key] = count = self._counts.get(key, 0) + 1
            for stale in [k for k in self._counts if k[1] < window]:
                del self._counts[stale]
        return _decision(count, limit, now)


class RedisRateLimiter:
    """Counters in Redis, so every gateway replica draws on the same budget."""

    def __init__(self, url: str, clock: Callable[[], float] = time.time) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=0.5)
        self._clock = clock

    def hit(self, client_id: str, limit: int) -> Decision:
        """Count one request: INCR and EXPIRE in one transaction."""
        now = self._clock()
        key = f"crm:gateway:rate:{client_id}:{int(now) // WINDOW_SECONDS}"
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS * 2)
            count, _ = pipe.execute()
        return _decision(int(count), limit, now)
