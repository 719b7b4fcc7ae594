"""API clients of partner systems: OAuth2 client credentials, scopes, IP allow-lists."""

import ipaddress
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.auth import keys, passwords
from services.auth.models import ApiClient
from services.auth.service import Tokens, bump_version, current_version
from services.auth.settings import AUDIENCE, AuthSettings
from services.common import field_rules, vocabulary
from services.common.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from services.common.identity import SCOPES, Caller

DEFAULT_RATE_LIMIT = 600
BAD_CLIENT = "invalid client credentials"
_SCOPE = re.compile(vocabulary.SCOPE)
_PLAIN_TEXT = re.compile(vocabulary.PLAIN_TEXT)
# partner: an outside system; service: a platform service's own client (tokens of kind "service").
CLIENT_KINDS = ("partner", "service")
MAX_SECRET_LENGTH = 256


def hidden_groups(kind: str, scopes: list[str]) -> list[str]:
    """Field groups a partner's token hides: all but those a `fields:<group>` scope grants.
    The platform's own services see every group (search indexes phones, tagging amounts)."""
    if kind == "service":
        return []
    return [group for group in field_rules.GROUPS if f"fields:{group}" not in scopes]


def token_kind(client: ApiClient) -> str:
    """The "kind" claim of the client's tokens."""
    return "service" if client.kind == "service" else "client"


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def _networks(cidrs: list[str]) -> tuple[list[str], list[FieldViolation]]:
    found, problems = [], []
    for i, cidr in enumerate(cidrs):
        try:
            found.append(str(ipaddress.ip_network(cidr.strip(), strict=False)))
        except ValueError:
            problems.append(FieldViolation(f"ip_allowlist.{i}", f"{cidr!r} is not an IP address or CIDR"))
    return found, problems


def create(
    *,
    session: Session,
    settings: AuthSettings,
    caller: Caller,
    name: str,
    scopes: list[str],
    rate_limit_per_minute: int = 0,
    ip_allowlist: list[str] | None = None,
    record_scope: str = "",
    kind: str = "",
    now: datetime,
) -> tuple[ApiClient, str]:
    """Register a partner system (or a platform service); returns it and its secret, shown once."""
    name = name.strip()
    problems = []
    if not name or len(name) > 100:
        problems.append(FieldViolation("name", "give a name of 1 to 100 characters"))
    elif not _PLAIN_TEXT.match(name):
        problems.append(FieldViolation("name", "must not contain control characters"))
    if not scopes:
        problems.append(FieldViolation("scopes", "grant at least one scope, e.g. customer:read"))
    problems += [
        FieldViolation(f"scopes.{i}", "write a scope as resource:action, e.g. customer:read")
        for i, scope in enumerate(scopes)
        if not _SCOPE.match(scope)
    ]
    if rate_limit_per_minute < 0:
        problems.append(FieldViolation("rate_limit_per_minute", "must not be negative"))
    networks, bad = _networks(ip_allowlist or [])
    problems += bad
    record_scope = record_scope or "own"
    if record_scope not in SCOPES:
        problems.append(FieldViolation("record_scope", f"must be one of {', '.join(SCOPES)}"))
    kind = kind or "partner"
    if kind not in CLIENT_KINDS:
        problems.append(FieldViolation("kind", f"must be one of {', '.join(CLIENT_KINDS)}"))
    if problems:
        raise InvalidArgument("the API client is invalid", problems)
    secret = _new_secret()
    client = ApiClient(
        client_id=f"cli_{secrets.token_hex(8)}",
        name=name,
        secret_hash=passwords.hash_secret(secret, settings=settings),
        scopes=sorted(set(scopes)),
        rate_limit_per_minute=rate_limit_per_minute or DEFAULT_RATE_LIMIT,
        ip_allowlist=networks,
        record_scope=record_scope,
        status="active",
        kind=kind,
        created_at=now,
        created_by=caller.id,
        updated_at=now,
    )
    session.add(client)
    session.flush()
    return client, secret


def list_clients(*, session: Session) -> list[ApiClient]:
    """Every API client by creation time."""
    return list(session.scalars(select(ApiClient).order_by(ApiClient.created_at, ApiClient.client_id)))


def get_or_raise(*, session: Session, client_id: str) -> ApiClient:
    """The API client, or NotFound."""
    client = session.get(ApiClient, client_id, with_for_update=True)
    if client is None:
        raise NotFound(f"no API client {client_id!r}")
    return client


def rotate_secret(
    *, session: Session, settings: AuthSettings, client_id: str, grace_seconds: int = 0, now: datetime
) -> tuple[ApiClient, str]:
    """A new secret; the old one keeps working for the grace period."""
    client = get_or_raise(session=session, client_id=client_id)
    if client.status != "active":
        raise FailedPrecondition("the API client is disabled")
    if grace_seconds < 0:
        raise InvalidArgument("grace must not be negative", [FieldViolation("grace_seconds", "must be ≥ 0")])
    secret = _new_secret()
    client.previous_secret_hash = client.secret_hash
    client.previous_secret_expires_at = now + timedelta(
        seconds=grace_seconds or settings.client_secret_grace_seconds
    )
    client.secret_hash = passwords.hash_secret(secret, settings=settings)
    client.updated_at = now
    session.flush()
    return client, secret


def disable(*, session: Session, client_id: str, now: datetime) -> ApiClient:
    """Stop the client from getting tokens; those already issued are revoked within seconds."""
    client = get_or_raise(session=session, client_id=client_id)
    if client.status != "disabled":
        bump_version(session=session, kind=token_kind(client), subject=client.client_id, now=now)
    client.status = "disabled"
    client.updated_at = now
    session.flush()
    return client


def _secret_matches(client: ApiClient | None, secret: str, settings: AuthSettings, now: datetime) -> bool:
    if passwords.verify(client.secret_hash if client else None, secret, settings=settings):
        if client is not None and passwords.needs_rehash(client.secret_hash, settings=settings):
            client.secret_hash = passwords.hash_secret(secret, settings=settings)
        return True
    if client is None or client.previous_secret_hash is None:
        return False
    in_grace = client.previous_secret_expires_at is not None and client.previous_secret_expires_at > now
    return in_grace and passwords.verify(client.previous_secret_hash, secret, settings=settings)


def issue_token(
    *,
    session: Session,
    settings: AuthSettings,
    client_id: str,
    client_secret: str,
    scopes: list[str],
    client_ip: str,
    now: datetime,
) -> tuple[Tokens, list[str]]:
    """An access token for a partner system (client credentials grant) and its scopes."""
    if len(client_id) > 64 or len(client_secret) > MAX_SECRET_LENGTH:
        raise InvalidArgument(
            "the client credentials are malformed",
            [
                FieldViolation(
                    "client_secret", f"client ids have at most 64 characters, secrets {MAX_SECRET_LENGTH}"
                )
            ],
        )
    client = session.get(ApiClient, client_id) if client_id else None
    # Unknown clients cost a hash too, so timing does not tell which ids exist.
    if not _secret_matches(client, client_secret, settings, now) or client is None:
        raise Unauthenticated(BAD_CLIENT)
    if client.status != "active":
        raise Unauthenticated(BAD_CLIENT)
    if client.ip_allowlist:
        try:
            address = ipaddress.ip_address(client_ip.strip())
        except ValueError:
            raise PermissionDenied("the client's address is unknown; it has an IP allow-list") from None
        if not any(address in ipaddress.ip_network(cidr) for cidr in client.ip_allowlist):
            raise PermissionDenied(f"calls from {address} are not allowed for this client")
    granted = sorted(set(scopes)) if scopes else list(client.scopes)
    refused = [scope for scope in granted if scope not in client.scopes]
    if refused:
        raise InvalidArgument(
            "a requested scope is not granted to this client",
            [FieldViolation("scopes", f"{scope} is not granted to this client") for scope in refused],
        )
    claims = keys.base_claims(
        settings=settings,
        subject=client.client_id,
        audience=AUDIENCE,
        ttl_seconds=settings.access_token_ttl_seconds,
        now=now,
    )
    kind = token_kind(client)
    claims.update(
        kind=kind,
        sv=current_version(session=session, kind=kind, subject=client.client_id),
        roles=[],
        permissions=granted,
        scopes=granted,
        scope=client.record_scope,
        org_unit="",
        teammates=[],
        hidden_fields=hidden_groups(kind, granted),
        masked_fields=[],
        rate_limit=client.rate_limit_per_minute,
    )
    token = keys.sign(session=session, claims=claims, now=now)
    return Tokens(access_token=token, expires_in=settings.access_token_ttl_seconds), granted
