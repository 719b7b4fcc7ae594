"""The caller's identity as it travels in gRPC metadata, and the one in force for a call.

Until the auth service signs it, the gateway sends a development identity; services read it
from the same keys so that ownership checks and history already name the real caller.
"""

from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import get_args

from services.common.errors import Unauthenticated
from services.common.vocabulary import RecordScope

_PREFIX = "x-crm-caller-"
SCOPES = get_args(RecordScope)


@dataclass(frozen=True)
class Caller:
    """Who is calling: a user or an API client, with roles and a record scope."""

    id: str
    kind: str = "user"
    roles: tuple[str, ...] = ()
    # own | team | org | all: which customers' records the caller may reach.
    scope: str = "own"
    org_unit: str = ""
    teammates: tuple[str, ...] = field(default=())
    # Field groups (contact, financial, ...) the caller may neither see nor search on.
    hidden_fields: tuple[str, ...] = field(default=())
    # Actions on resources, e.g. customer:read; "*" grants everything.
    permissions: tuple[str, ...] = field(default=())
    # Field groups the caller sees only partly (e.g. phones as 138****5678).
    masked_fields: tuple[str, ...] = field(default=())
    # Where the request came from (the client's address as the gateway saw it), for the audit log.
    source: str = ""

    def can(self, permission: str) -> bool:
        """Whether the caller holds a permission: itself, its resource's `tag:*`, or `*`."""
        resource = permission.partition(":")[0]
        return any(p in ("*", permission, f"{resource}:*") for p in self.permissions)

    def to_metadata(self) -> list[tuple[str, str]]:
        """The metadata pairs that carry this identity on a gRPC call."""
        return [
            (_PREFIX + "id", self.id),
            (_PREFIX + "kind", self.kind),
            (_PREFIX + "roles", ",".join(self.roles)),
            (_PREFIX + "scope", self.scope),
            (_PREFIX + "org-unit", self.org_unit),
            (_PREFIX + "teammates", ",".join(self.teammates)),
            (_PREFIX + "hidden-fields", ",".join(self.hidden_fields)),
            (_PREFIX + "permissions", ",".join(self.permissions)),
            (_PREFIX + "masked-fields", ",".join(self.masked_fields)),
        ]

    def may_reach(self, owner_id: str | None) -> bool:
        """Whether a record owned by owner_id is within this caller's scope."""
        if self.scope in ("all", "org"):
            return True
        if self.scope == "team":
            return owner_id == self.id or owner_id in self.teammates
        return owner_id == self.id


def from_metadata(metadata: tuple[tuple[str, str | bytes], ...] | None) -> Caller:
    """Read the caller from incoming metadata; Unauthenticated when it is missing or bad."""
    values = {k[len(_PREFIX) :]: v for k, v in (metadata or ()) if k.startswith(_PREFIX)}
    caller_id = values.get("id")
    scope = values.get("scope", "own")
    if not isinstance(caller_id, str) or not caller_id:
        raise Unauthenticated("the call carries no caller identity")
    if scope not in SCOPES:
        raise Unauthenticated(f"unknown record scope {scope!r}")

    def _list(key: str) -> tuple[str, ...]:
        raw = values.get(key, "")
        return tuple(x for x in str(raw).split(",") if x)

    return Caller(
        id=caller_id,
        kind=str(values.get("kind", "user")),
        roles=_list("roles"),
        scope=str(scope),
        org_unit=str(values.get("org-unit", "")),
        teammates=_list("teammates"),
        hidden_fields=_list("hidden-fields"),
        permissions=_list("permissions"),
        masked_fields=_list("masked-fields"),
    )


_current: ContextVar[Caller | None] = ContextVar("crm_caller", default=None)


def current() -> Caller:
    """The caller of the call being served."""
    caller = _current.get()
    if caller is None:
        raise Unauthenticated("no caller identity in this context")
    return caller


def bind(caller: Caller | None) -> object:
    """Make caller the current one; returns a token for reset()."""
    return _current.set(caller)


def reset(token: object) -> None:
    """Undo a bind()."""
    _current.reset(token)  # type: ignore[arg-type]


CLIENT_ADDRESS = "x-crm-client-ip"


def with_source(caller: Caller, metadata: tuple[tuple[str, str | bytes], ...] | None) -> Caller:
    """The caller, marked with the client address the gateway passed along (if any)."""
    address = next((str(v) for k, v in metadata or () if k == CLIENT_ADDRESS), "")
    return replace(caller, source=address[:64]) if address else caller
