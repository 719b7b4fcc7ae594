"""Field groups and the rules that hide or mask them, for every service and every output.

A role's field rule for a group is visible, masked or hidden (the auth service resolves a
caller's roles into `Caller.hidden_fields` and `Caller.masked_fields`). Every field a service
returns belongs to a group here or is declared public on purpose; tests check that no field of
the contracts is left out. What the rules mean:

- hidden: the group's values never appear: not in bodies, lists, history, feeds, highlights or
  page tokens, and the caller may not filter, sort, facet or count on them (a count over a
  hidden amount is an oracle for it).
- masked: contact details show in part (138****5678); a masked financial or purchase group
  shows nothing, since a partial amount would still mislead. Masked groups are not searchable
  either: a search by a full phone number would confirm what the mask hides.
"""

from typing import Any

from services.common.errors import PermissionDenied
from services.common.identity import Caller

CONTACT = "contact"
FINANCIAL = "financial"
PURCHASE = "purchase"
GROUPS = (CONTACT, FINANCIAL, PURCHASE)
PUBLIC = ""

# Each field of a customer, by group. Public fields tell customers apart and route work.
CUSTOMER: dict[str, str] = {
    "id": PUBLIC,
    "name": PUBLIC,
    "kind": PUBLIC,
    "industry_code": PUBLIC,
    "region_code": PUBLIC,
    "scale": PUBLIC,
    "status": PUBLIC,
    "stage": PUBLIC,
    "owner_id": PUBLIC,
    "source_channel": PUBLIC,
    "last_follow_up_at": PUBLIC,
    "gender": PUBLIC,
    "preferences": PUBLIC,
    "interests": PUBLIC,
    "notes": PUBLIC,
    "custom_fields": PUBLIC,
    "consented_purposes": PUBLIC,
    "version": PUBLIC,
    "created_at": PUBLIC,
    "updated_at": PUBLIC,
    "created_by": PUBLIC,
    "updated_by": PUBLIC,
    "deleted_at": PUBLIC,
    # Contacts are listed by name to everyone; their details follow CONTACT_FIELDS.
    "contacts": PUBLIC,
    "address": CONTACT,
    "birthday": CONTACT,
    "id_number": CONTACT,
    # The tier is the 12-month deal amount in three buckets (A >= 500,000 CNY).
    "tier": FINANCIAL,
    "deal_amount_12m": FINANCIAL,
    "credit_limit": FINANCIAL,
    "outstanding_amount": FINANCIAL,
    "last_order_at": PURCHASE,
    "loyalty_points": PURCHASE,
}
CONTACT_FIELDS: dict[str, str] = {
    "id": PUBLIC,
    "name": PUBLIC,
    "title": PUBLIC,
    "is_primary": PUBLIC,
    "departed": PUBLIC,
    "created_at": PUBLIC,
    "phones": CONTACT,
    "emails": CONTACT,
    "wechat": CONTACT,
}
# Related records that belong to a group as a whole (orders are purchases; a contract is money).
RECORDS: dict[str, str] = {
    "contacts": PUBLIC,
    "interactions": PUBLIC,
    "service_records": PUBLIC,
    "orders": PURCHASE,
    "contracts": FINANCIAL,
}
# The 360° view's summary parts beside the customer.
VIEW: dict[str, str] = {
    "recent_interactions": PUBLIC,
    "interaction_count": PUBLIC,
    "last_interaction_at": PUBLIC,
    "recent_service_records": PUBLIC,
    "open_service_records": PUBLIC,
    "recent_orders": PURCHASE,
    "order_count": PURCHASE,
    "lifetime_order_amount": PURCHASE,
    "last_order_at": PURCHASE,
    "contracts": FINANCIAL,
}


def blocked(caller: Caller) -> frozenset[str]:
    """Groups the caller may not use in full: hidden or masked."""
    return frozenset((*caller.hidden_fields, *caller.masked_fields))


def unseen(caller: Caller) -> frozenset[str]:
    """Groups whose values the caller sees nothing of (masked contact details show in part)."""
    return frozenset((*caller.hidden_fields, *(g for g in caller.masked_fields if g != CONTACT)))


def may_use(caller: Caller, group: str) -> bool:
    """Whether the caller may filter, sort, facet or count on a field of this group."""
    return group == PUBLIC or group not in blocked(caller)


def require_use(caller: Caller, group: str, what: str) -> None:
    """PermissionDenied when the caller may not query on a field of `group` (`what` names it)."""
    if not may_use(caller, group):
        raise PermissionDenied(f"your role may not see {group} data, so you may not use {what}")


def require_group(caller: Caller, group: str) -> None:
    """PermissionDenied when the caller sees nothing of a whole group (e.g. the orders list)."""
    if group in unseen(caller):
        raise PermissionDenied(f"your role may not see {group} data")


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


def contact(data: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """A contact as the caller may see it: details masked or emptied by the contact rule."""
    if CONTACT in caller.hidden_fields:
        return {**data, "phones": [], "emails": [], "wechat": None}
    if CONTACT in caller.masked_fields:
        return {
            **data,
            "phones": [mask_phone(p) for p in data.get("phones") or []],
            "emails": [mask_email(e) for e in data.get("emails") or []],
            "wechat": "***" if data.get("wechat") else None,
        }
    return data


def customer(data: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """A customer as the caller may see it: unseen groups' fields None, contact details masked."""
    gone = unseen(caller)
    if not gone and CONTACT not in caller.masked_fields:
        return data
    shown = {k: None if CUSTOMER.get(k, PUBLIC) in gone else v for k, v in data.items()}
    if CONTACT in caller.masked_fields and CONTACT not in gone:
        if data.get("id_number"):
            shown["id_number"] = mask_id_number(data["id_number"])
        shown["address"] = None  # no sensible part of an address to show
        shown["birthday"] = None
    if "contacts" in data:
        shown["contacts"] = [contact(c, caller) for c in data.get("contacts") or []]
    return shown


def view(data: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """The 360° view's summary parts without the groups the caller sees nothing of."""
    gone = unseen(caller)
    empty: dict[str, Any] = {"recent_orders": [], "contracts": []}
    return {k: (empty.get(k) if VIEW.get(k, PUBLIC) in gone else v) for k, v in data.items()}


def changes(items: list[dict[str, Any]], caller: Caller) -> list[dict[str, Any]]:
    """History entries with the old and new values of blocked groups' fields redacted."""
    groups = blocked(caller)
    if not groups:
        return items
    kept = []
    for item in items:
        root = item["field"].split("[", 1)[0].split(".", 1)[0]
        group = CUSTOMER.get(root) or RECORDS.get(root, PUBLIC)
        # A contact's entry holds its phones and e-mails.
        redact = group in groups or (root == "contacts" and CONTACT in groups)
        kept.append({"field": item["field"], "old": None, "new": None, "redacted": True} if redact else item)
    return kept
