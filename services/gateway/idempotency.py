"""Idempotency-Key on every POST that creates something (draft-ietf-httpapi-idempotency-key-header,
with Stripe's semantics): the first request runs and its answer is kept for a day under the
caller, the method, the path and the key, with a fingerprint of the body; a retry with the same
body gets that answer again (`Idempotent-Replayed: true`), a different body 422, a retry while
the first still runs 409. Answers that say "try again" (5xx, 429) or that refused the request
before anything changed (400, 401, 403, 413, 422) are not kept, so the key can be used again.

Keys live in Redis when CRM_REDIS_URL is set (every gateway replica sees the same claims) and in
memory otherwise (the embedded mode runs one gateway). A kept answer is sealed (AES-256-GCM)
under a key derived from the Idempotency-Key and the request body, neither of which is stored:
the store holds no readable personal data, and only whoever sends the same request can open it.
"""

import asyncio
import base64
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import Request
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.errors import DomainError
from services.common.identity import Caller
from services.gateway import deps, errors, openapi

log = logging.getLogger(__name__)

# How long an answer is replayed.
REPLAY_SECONDS = 24 * 3600
# How long a claim outlives a gateway that died holding it; a request's own calls end far sooner.
IN_FLIGHT_SECONDS = 60
HEADER = "idempotency-key"
# How problem documents name the header in their `errors` list (as for any header parameter).
FIELD = "header.idempotency-key"
REPLAYED = (b"idempotent-replayed", b"true")
# 1-255 printable ASCII characters, bare (as Stripe takes it) or as the draft's quoted sf-string.
_KEY = re.compile(r"[\x20-\x7e]{1,255}")
# Answers kept: the outcome of an operation that ran. Not kept: 5xx and 429 (try again later),
# and refusals before anything changed (the corrected request may reuse the key).
_NOT_KEPT = {400, 401, 403, 408, 413, 422, 429}


@dataclass(frozen=True)
class Entry:
    """What a key holds: the first request's body fingerprint and, once it ended, its sealed answer."""

    fingerprint: str
    answer: bytes | None = None


class IdempotencyStore(Protocol):
    """Claims on idempotency keys and the answers kept under them."""

    def claim(self, key: str, fingerprint: str, owner: str) -> Entry | None:
        """Claim key for a request in flight (owner names it): None when claimed, else what the
        key already holds."""

    def complete(self, key: str, owner: str, fingerprint: str, answer: bytes) -> None:
        """Keep the answer for REPLAY_SECONDS, if owner still holds the claim."""

    def release(self, key: str, owner: str) -> None:
        """Drop owner's claim while in flight, so the request may be sent again."""


class MemoryIdempotencyStore:
    """One process's keys (the embedded mode runs one gateway)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[str, Entry, float]] = {}
        self._lock = threading.Lock()
        self._swept = clock()

    def claim(self, key: str, fingerprint: str, owner: str) -> Entry | None:
        """Claim key unless a live entry holds it."""
        now = self._clock()
        with self._lock:
            self._sweep(now)
            held = self._entries.get(key)
            if held is not None and held[2] > now:
                return held[1]
            self._entries[key] = (owner, Entry(fingerprint), now + IN_FLIGHT_SECONDS)
            return None

    def complete(self, key: str, owner: str, fingerprint: str, answer: bytes) -> None:
        """Keep the answer under owner's claim."""
        with self._lock:
            held = self._entries.get(key)
            if held is not None and held[0] == owner:
                self._entries[key] = (owner, Entry(fingerprint, answer), self._clock() + REPLAY_SECONDS)

    def release(self, key: str, owner: str) -> None:
        """Forget owner's claim."""
        with self._lock:
            held = self._entries.get(key)
            if held is not None and held[0] == owner and held[1].answer is None:
                del self._entries[key]

    def _sweep(self, now: float) -> None:
        if now - self._swept < 60:
            return
        self._swept = now
        for key in [k for k, (_, _, expires) in self._entries.items() if expires <= now]:
            del self._entries[key]


# Values are "<owner>\n<fingerprint>\n<base64 answer, empty while in flight>"; the scripts change
# a key only while the claim that wrote it still holds it, and release only a claim in flight.
_COMPLETE = """
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. '\\n' then
  return redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
return false
"""
_RELEASE = """
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. '\\n'
    and string.sub(held, -1) == '\\n' then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisIdempotencyStore:
    """Keys in Redis, shared by every gateway replica: a claim is one SET NX with a TTL."""

    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=0.5)
        self._complete = self._redis.register_script(_COMPLETE)
        self._release = self._redis.register_script(_RELEASE)

    def claim(self, key: str, fingerprint: str, owner: str) -> Entry | None:
        """SET NX EX; when the key is taken, what it holds."""
        name = f"crm:gateway:idempotency:{key}"
        for _ in range(3):  # a key that expires between the SET and the GET is claimed again
            if self._redis.set(name, f"{owner}\n{fingerprint}\n", nx=True, ex=IN_FLIGHT_SECONDS):
                return None
            held = self._redis.get(name)
            if held is not None:
                _, found, answer = bytes(held).split(b"\n", 2)
                return Entry(found.decode(), base64.b64decode(answer) if answer else None)
        raise redis.RedisError("the idempotency key changed hands three times")

    def complete(self, key: str, owner: str, fingerprint: str, answer: bytes) -> None:
        """Replace owner's claim with the answer, kept for REPLAY_SECONDS."""
        value = f"{owner}\n{fingerprint}\n{base64.b64encode(answer).decode()}"
        self._complete(keys=[f"crm:gateway:idempotency:{key}"], args=[owner, value, REPLAY_SECONDS])

    def release(self, key: str, owner: str) -> None:
        """Delete owner's claim."""
        self._release(keys=[f"crm:gateway:idempotency:{key}"], args=[owner])


def idempotency_store(redis_url: str) -> IdempotencyStore:
    """Redis when a URL is configured (replicas share keys), memory otherwise."""
    return RedisIdempotencyStore(redis_url) if redis_url else MemoryIdempotencyStore()


@dataclass(frozen=True)
class _Request:
    """The parts of a request that idempotency is decided on."""

    store_key: str
    fingerprint: str
    seal_key: bytes


def _digest(*parts: bytes) -> bytes:
    return hashlib.sha256(b"\0".join(parts)).digest()


def _identify(caller: Caller, method: str, path: str, key: str, body: bytes) -> _Request:
    scope = [caller.kind.encode(), caller.id.encode(), method.encode(), path.encode(), key.encode()]
    return _Request(
        store_key=_digest(b"crm-idempotency-key", *scope).hex(),
        fingerprint=_digest(b"crm-idempotency-body", body).hex(),
        seal_key=_digest(b"crm-idempotency-seal", *scope, body),
    )


def _seal(key: bytes, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    answer = {
        "status": status,
        "headers": [[n.decode("latin-1"), v.decode("latin-1")] for n, v in headers],
        "body": base64.b64encode(body).decode(),
    }
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, json.dumps(answer).encode(), None)


def _open(key: bytes, sealed: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    answer = json.loads(AESGCM(key).decrypt(sealed[:12], sealed[12:], None))
    headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in answer["headers"]]
    return int(answer["status"]), headers, base64.b64decode(answer["body"])


def _unquote(value: str) -> str:
    """The content of a structured-field string: quoted, with \\" and \\\\ escaped."""
    content, chars = [], iter(value[1:-1])
    for char in chars:
        if char == "\\":
            char = next(chars, "")
            if char not in ('"', "\\"):
                raise ValueError('a quoted Idempotency-Key may escape only " and \\')
        elif char == '"':
            raise ValueError('a quoted Idempotency-Key escapes " inside as \\"')
        content.append(char)
    return "".join(content)


def parse_key(values: list[str]) -> str:
    """The key a request carries; ValueError saying what is wrong with it."""
    if len(values) > 1:
        raise ValueError("send one Idempotency-Key header, not several")
    value = values[0].strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = _unquote(value)
    if not _KEY.fullmatch(value):
        raise ValueError("an Idempotency-Key is 1-255 printable ASCII characters, e.g. a UUID")
    return value


def creating_routes(app: Any) -> list[tuple[re.Pattern[str], APIRoute | None]]:
    """Every POST route in routing order: the route when it creates something (answers 201 under
    /api/v1), None for the others, which take no Idempotency-Key."""
    found: list[tuple[re.Pattern[str], APIRoute | None]] = []
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path
        if not path or "POST" not in (context.methods or ()):
            continue
        creates = isinstance(route, APIRoute) and openapi.creates(route)
        found.append((compile_path(path)[0], route if creates else None))
    return found


def _permission(dependant: Any) -> str | None:
    """The permission a route's dependencies check (permissions.require), if any."""
    for dependency in dependant.dependencies:
        permission = getattr(dependency.call, "permission", None) or _permission(dependency)
        if permission:
            return str(permission)
    return None


class IdempotencyMiddleware:
    """Honours Idempotency-Key on the routes that create something; every other request passes."""

    def __init__(self, app: ASGIApp, store: IdempotencyStore) -> None:
        self.app = app
        self.store = store
        self._routes: list[tuple[re.Pattern[str], APIRoute | None]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        values = [v.decode("latin-1") for n, v in scope["headers"] if n.lower() == HEADER.encode()]
        route = self._route(scope) if values else None
        if route is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            caller = await deps.current_caller(request)
        except HTTPException:
            # No replay without a valid identity: the route refuses the request as it would anyway.
            await self.app(scope, receive, send)
            return
        permission = _permission(route.dependant)
        if permission and not caller.can(permission):
            await self.app(scope, receive, send)  # the route refuses it (403) and audits that
            return
        scope["route"] = route  # metrics name the route even when the answer comes from here
        try:
            key = parse_key(values)
        except ValueError as exc:
            await self._problem(request, send, 422, str(exc), "validation-error", field=str(exc))
            return
        try:
            body = await self._body(receive)
        except HTTPException as exc:  # the body limit (middleware.py)
            await self._problem(request, send, exc.status_code, str(exc.detail), "body-too-large")
            return
        if body is None:
            return  # the client went away
        ids = _identify(caller, scope["method"], scope["path"], key, body)
        owner = os.urandom(16).hex()
        try:
            held = await asyncio.to_thread(self.store.claim, ids.store_key, ids.fingerprint, owner)
        except redis.RedisError:
            log.exception("the idempotency store is unreachable")
            await self._problem(
                request, send, 503, "idempotency keys cannot be checked right now", "service-unavailable"
            )
            return
        if held is None:
            await self._first(scope, body, receive, send, ids, owner)
        elif held.fingerprint != ids.fingerprint:
            await self._problem(
                request,
                send,
                422,
                "this Idempotency-Key came with a different request body: use a new key for a new request",
                "validation-error",
                field="already used with a different request body",
            )
        elif held.answer is None:
            await self._problem(
                request,
                send,
                409,
                "a request with this Idempotency-Key is still being processed: retry shortly",
                "conflict",
                headers={"Retry-After": "1"},
            )
        else:
            await self._replay(request, send, caller, ids, held.answer)

    def _route(self, scope: Scope) -> APIRoute | None:
        if self._routes is None:
            self._routes = creating_routes(scope["app"])
        for pattern, route in self._routes:
            if pattern.match(scope["path"]):
                return route
        return None

    @staticmethod
    async def _body(receive: Receive) -> bytes | None:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if not message.get("more_body"):
                return bytes(body)

    async def _first(
        self, scope: Scope, body: bytes, receive: Receive, send: Send, ids: _Request, owner: str
    ) -> None:
        """Run the request; keep its answer (or give up the claim) before the client sees it."""
        replayed = False

        async def once() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        start: Message | None = None
        chunks: list[bytes] = []
        settled = False

        async def hold(message: Message) -> None:
            nonlocal start, settled
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            content = b"".join(chunks)
            await self._settle(ids, owner, start["status"], list(start.get("headers", [])), content)
            settled = True
            await send(start)
            await send({"type": "http.response.body", "body": content})

        try:
            await self.app(scope, once, hold)
        finally:
            if not settled:
                await self._give_up(ids, owner)

    async def _settle(
        self, ids: _Request, owner: str, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        if status >= 500 or status in _NOT_KEPT:
            await self._give_up(ids, owner)
            return
        sealed = _seal(ids.seal_key, status, headers, body)
        try:
            await asyncio.to_thread(self.store.complete, ids.store_key, owner, ids.fingerprint, sealed)
        except redis.RedisError:
            # The work is done and the client gets its answer; a retry within IN_FLIGHT_SECONDS
            # sees 409, a later one runs again.
            log.exception("an idempotent answer could not be kept")

    async def _give_up(self, ids: _Request, owner: str) -> None:
        try:
            await asyncio.to_thread(self.store.release, ids.store_key, owner)
        except redis.RedisError:
            log.exception("an idempotency claim could not be released; it lapses by itself")

    async def _replay(
        self, request: Request, send: Send, caller: Caller, ids: _Request, sealed: bytes
    ) -> None:
        try:
            status, headers, body = _open(ids.seal_key, sealed)
        except (InvalidTag, ValueError, KeyError):
            log.error("a kept idempotent answer does not open")
            await self._problem(request, send, 500, "the kept answer is unreadable", "internal-error")
            return
        try:
            await asyncio.to_thread(
                request.app.state.audit.record,
                caller=caller,
                action="gateway.replay",
                target=f"{request.method} {request.url.path}"[:200],
                details={"status": status},
                source=deps.client_address(request),
            )
        except DomainError as exc:  # the audit log is unavailable
            await self._problem(request, send, 503, exc.message, "service-unavailable")
            return
        await send({"type": "http.response.start", "status": status, "headers": [*headers, REPLAYED]})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _problem(
        request: Request,
        send: Send,
        status: int,
        detail: str,
        kind: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """A problem document; `field` is the message listed for the Idempotency-Key header."""
        listed = [{"field": FIELD, "message": field}] if field else None
        response = errors.problem(request, status, detail, kind=kind, errors=listed, headers=headers)
        await response(request.scope, request.receive, send)
