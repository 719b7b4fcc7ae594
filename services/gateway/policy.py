"""The development identity's roles: which permissions they hold, which field groups they miss.

Real callers carry their permissions and hidden field groups in their access tokens (roles are
data of the auth service, seeded with this same table); this one only serves X-Dev-* callers.
"""

# Tags, tag rules and segments (auth migration 0007 grants the same to the built-in roles).
_TAGGING_ALL = (
    "tag:read",
    "tag:write",
    "tag:assign",
    "tag_rule:write",
    "segment:read",
    "segment:write",
    "segment:export",
)
_TAGGING_USE = ("tag:read", "tag:assign", "segment:read")
# The analytics views (auth migration 0011 grants the same to the built-in roles).
_ANALYTICS = ("analytics:read",)

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
            "consent:read",
            "consent:write",
            *_TAGGING_ALL,
            *_ANALYTICS,
        }
    ),
    "sales": frozenset(
        {
            "customer:read",
            "customer:write",
            "customer:history",
            "related:read",
            "related:write",
            "consent:read",
            "consent:write",
            *_TAGGING_USE,
            *_ANALYTICS,
        }
    ),
    "service": frozenset(
        {
            "customer:read",
            "related:read",
            "related:write",
            "consent:read",
            "consent:write",
            *_TAGGING_USE,
            *_ANALYTICS,
        }
    ),
    "marketing": frozenset({"customer:read", "related:read", "consent:read", *_TAGGING_ALL, *_ANALYTICS}),
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


def permissions(roles: tuple[str, ...]) -> tuple[str, ...]:
    """Every permission the roles grant together."""
    return tuple(sorted({p for role in roles for p in _ROLE_PERMISSIONS.get(role, frozenset())}))
