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
# The customer's own identifying details, in the contact group too.
IDENTITY_DETAILS = ("id_number",)


def _hidden_fields(caller: Caller) -> set[str]:
    return {field for group in caller.hidden_fields for field in GROUPS.get(group, ())}


def mask_phone(phone: str) -> str:
    """13812345678 -> 138****5678; 010-62345678 -> 010-****5678."""
    if len(phone) <= 4:
        return "*" * len(phone)
    head = phone[:3] if "-" not in phone else phone.split("-", 1)[0] + "-"
    return head + "****" + phone[-4:]


def mask_email(email: str) -> str:
    """zhangwei@minghui.cn -> z***@minghui.cn."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_id_number(value: str) -> str:
    """11010519491231002X -> 110105********002X (region and check digits only)."""
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def masked_contact(contact: dict[str, Any]) -> dict[str, Any]:
    """A contact with phones, e-mails and WeChat ID masked."""
    return {
        **contact,
        "phones": [mask_phone(p) for p in contact.get("phones") or []],
        "emails": [mask_email(e) for e in contact.get("emails") or []],
        "wechat": "***" if contact.get("wechat") else None,
    }


def customer(data: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """A customer dict without what the caller may not see, and masked where only that is allowed."""
    if "contact" in caller.masked_fields and "contact" not in caller.hidden_fields:
        data = {**data, "contacts": [masked_contact(c) for c in data.get("contacts", [])]}
        if data.get("id_number"):
            data["id_number"] = mask_id_number(data["id_number"])
    # A masked financial or purchase group shows nothing: a partial amount would still mislead.
    masked_as_hidden = tuple(g for g in caller.masked_fields if g != "contact")
    if masked_as_hidden:
        caller = Caller(id=caller.id, hidden_fields=(*caller.hidden_fields, *masked_as_hidden))
    if not caller.hidden_fields:
        return data
    shown = {k: (None if k in _hidden_fields(caller) else v) for k, v in data.items()}
    if "contact" in caller.hidden_fields:
        shown |= dict.fromkeys(IDENTITY_DETAILS)
        shown["contacts"] = [
            {
                k: ([] if k in ("phones", "emails") else None) if k in CONTACT_DETAILS else v
                for k, v in c.items()
            }
            for c in data.get("contacts", [])
        ]
    return shown


def changes(items: list[dict[str, Any]], caller: Caller) -> list[dict[str, Any]]:
    """History entries without old or new values of hidden (or masked) fields."""
    groups = {*caller.hidden_fields, *caller.masked_fields}
    if not groups:
        return items
    hidden = {field for group in groups for field in GROUPS.get(group, ())}
    if "contact" in groups:
        hidden |= {"contacts", *IDENTITY_DETAILS}
    if "purchase" in groups:
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
