"""Field groups a caller may not see, removed from every shape the archive returns."""

from typing import Any

from services.common.errors import PermissionDenied
from services.common.identity import Caller

# Group -> top-level customer fields it covers.
GROUPS: dict[str, tuple[str, ...]] = {
    "financial": ("deal_amount_12m", "credit_limit", "outstanding_amount"),
    "purchase": ("last_order_at",),
}
# Contact details inside each contact (names stay visible to tell people apart).
CONTACT_DETAILS = ("phones", "emails", "wechat")


def _hidden_fields(caller: Caller) -> set[str]:
    return {field for group in caller.hidden_fields for field in GROUPS.get(group, ())}


def customer(data: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """A customer dict without what the caller may not see."""
    if not caller.hidden_fields:
        return data
    shown = {k: (None if k in _hidden_fields(caller) else v) for k, v in data.items()}
    if "contact" in caller.hidden_fields:
        shown["contacts"] = [
            {
                k: ([] if k in ("phones", "emails") else None) if k in CONTACT_DETAILS else v
                for k, v in c.items()
            }
            for c in data.get("contacts", [])
        ]
    return shown


def changes(items: list[dict[str, Any]], caller: Caller) -> list[dict[str, Any]]:
    """History entries without old or new values of hidden fields."""
    if not caller.hidden_fields:
        return items
    hidden = _hidden_fields(caller)
    if "contact" in caller.hidden_fields:
        hidden.add("contacts")
    if "purchase" in caller.hidden_fields:
        hidden |= {"orders"}
    kept = []
    for item in items:
        root = item["field"].split("[", 1)[0]
        if root in hidden:
            kept.append({"field": item["field"], "old": None, "new": None, "redacted": True})
        else:
            kept.append(item)
    return kept


def require_group(caller: Caller, group: str) -> None:
    """PermissionDenied when the caller may not see a whole group (e.g. purchase history)."""
    if group in caller.hidden_fields:
        raise PermissionDenied(f"your role may not see {group} data")
