"""Which roles hold which permissions and may see which field groups.

Roles and permissions become data of the auth service; until then this table is the policy,
and services check the caller's scope again on their side.
"""

from services.common.identity import Caller

_ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"*"}),
    "manager": frozenset(
        {
            "customer:read",
            "customer:write",
            "customer:delete",
            "customer:history",
            "related:read",
            "related:write",
        }
    ),
    "sales": frozenset(
        {"customer:read", "customer:write", "customer:history", "related:read", "related:write"}
    ),
    "service": frozenset({"customer:read", "related:read", "related:write"}),
    "marketing": frozenset({"customer:read", "related:read"}),
}


# Field groups a role may not see; a group is hidden when every role of the caller hides it.
_ROLE_HIDDEN_FIELDS: dict[str, frozenset[str]] = {
    "service": frozenset({"financial"}),
    "marketing": frozenset({"financial"}),
}


def hidden_fields(roles: tuple[str, ...]) -> tuple[str, ...]:
    """The field groups none of the roles may see."""
    sets = [_ROLE_HIDDEN_FIELDS.get(role, frozenset()) for role in roles]
    return tuple(sorted(frozenset.intersection(*sets))) if sets else ()


def allowed(caller: Caller, permission: str) -> bool:
    """Whether any of the caller's roles grants the permission."""
    for role in caller.roles:
        granted = _ROLE_PERMISSIONS.get(role, frozenset())
        if "*" in granted or permission in granted:
            return True
    return False
