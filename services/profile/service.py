"""Domain functions of the customer archive. They flush, never commit (the caller's scope does)."""

import base64
import json
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, get_args
from uuid import uuid4
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select, type_coerce
from sqlalchemy import delete as delete_rows
from sqlalchemy.orm import Session

from services.common import field_rules
from services.common.errors import (
    AlreadyExists,
    Conflict,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from services.common.identity import Caller
from services.common.keys import blind_index
from services.profile import codes, journal, schemas, sealing
from services.profile.models import Contact, Customer, CustomField, Order, PiiLookup
from services.profile.settings import ProfileSettings

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
# Fields a caller may set; the rest are derived or bookkeeping.
WRITABLE_FIELDS = frozenset(schemas.CustomerInput.model_fields) - {"contacts"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The day in customer IDs is the business day where the company works, not the UTC day.
BUSINESS_TIMEZONE = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def fen(amount: Decimal) -> int:
    """CNY amount to integer fen."""
    return int((amount * 100).to_integral_value())


def yuan(amount_fen: int) -> str:
    """Integer fen to a CNY decimal string."""
    return f"{Decimal(amount_fen) / 100:.2f}"


def iso(value: datetime | None) -> str | None:
    """A UTC timestamp in RFC 3339, or None."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def contact_to_dict(contact: Contact) -> dict[str, Any]:
    """A contact as the JSON-able form used by the API, history and feed."""
    return {
        "id": contact.id,
        "name": contact.name,
        "title": contact.title,
        "phones": list(contact.phones),
        "emails": list(contact.emails),
        "wechat": contact.wechat,
        "is_primary": contact.is_primary,
        "departed": contact.departed,
        "created_at": iso(contact.created_at),
    }


def customer_to_dict(customer: Customer) -> dict[str, Any]:
    """A customer (contacts included) as the JSON-able form used by the API, history and feed."""
    return {
        "id": customer.id,
        "name": customer.name,
        "kind": customer.kind,
        "industry_code": customer.industry_code,
        "region_code": customer.region_code,
        "address": customer.address,
        "scale": customer.scale,
        "tier": customer.tier,
        "deal_amount_12m": yuan(customer.deal_amount_12m_fen),
        "status": customer.status,
        "stage": customer.stage,
        "owner_id": customer.owner_id,
        "source_channel": customer.source_channel,
        "last_follow_up_at": iso(customer.last_follow_up_at),
        "last_order_at": iso(customer.last_order_at),
        "gender": customer.gender,
        "birthday": customer.birthday,
        "id_number": customer.id_number,
        "preferences": dict(customer.preferences or {}),
        "interests": list(customer.interests or []),
        "notes": customer.notes,
        "custom_fields": dict(customer.custom_fields or {}),
        "credit_limit": _yuan_or_none(customer.credit_limit_fen),
        "outstanding_amount": _yuan_or_none(customer.outstanding_fen),
        "loyalty_points": customer.loyalty_points,
        "consented_purposes": list(customer.consented_purposes or []),
        "contacts": [contact_to_dict(c) for c in customer.contacts],
        "version": customer.version,
        "created_at": iso(customer.created_at),
        "updated_at": iso(customer.updated_at),
        "created_by": customer.created_by,
        "updated_by": customer.updated_by,
        "deleted_at": iso(customer.deleted_at),
    }


def _yuan_or_none(amount_fen: int | None) -> str | None:
    return None if amount_fen is None else yuan(amount_fen)


# API fields stored under another column name, with the conversion to it.
_STORED_AS: dict[str, tuple[str, Any]] = {
    "credit_limit": ("credit_limit_fen", lambda v: None if v is None else fen(v)),
    "outstanding_amount": ("outstanding_fen", lambda v: None if v is None else fen(v)),
    "birthday": ("birthday", lambda v: v.isoformat() if v else None),
}


def _field_values(data: schemas.CustomerInput) -> dict[str, Any]:
    """Validated fields keyed and converted as the customers table stores them."""
    values = data.model_dump(exclude={"contacts"})
    for field, (column, convert) in _STORED_AS.items():
        values[column] = convert(values.pop(field))
    return values


def _custom_field_specs(session: Session) -> dict[str, CustomField]:
    return {f.key: f for f in session.scalars(select(CustomField))}


def new_contact(data: schemas.ContactInput, customer_id: str, at: datetime) -> Contact:
    """A contact row for a customer from validated input."""
    return Contact(
        id=str(uuid4()),
        customer_id=customer_id,
        name=data.name,
        title=data.title,
        phones=list(data.phones),
        emails=[str(e) for e in data.emails],
        wechat=data.wechat,
        is_primary=data.is_primary,
        departed=data.departed,
        created_at=at,
    )


def lookup_digest(session: Session, purpose: str, value: str) -> str:
    """The blind index of a phone or e-mail (mainland numbers with or without +86 alike)."""
    if purpose == "phone":
        digits = "".join(ch for ch in value if ch.isdigit())
        value = digits[2:] if len(digits) == 13 and digits.startswith("86") else digits
    key = sealing.keyring_of(session).index_key(purpose)
    return blind_index(value, key=key, purpose=purpose)


def refresh_lookups(session: Session, customer: Customer) -> None:
    """Rebuild a customer's blind indexes from its contacts' phones and e-mails."""
    session.flush()
    session.execute(delete_rows(PiiLookup).where(PiiLookup.customer_id == customer.id))
    digests = {("phone", lookup_digest(session, "phone", p)) for c in customer.contacts for p in c.phones}
    digests |= {("email", lookup_digest(session, "email", e)) for c in customer.contacts for e in c.emails}
    if customer.id_number:
        digests.add(("id_number", lookup_digest(session, "id_number", customer.id_number)))
    session.add_all(PiiLookup(customer_id=customer.id, purpose=p, digest=d) for p, d in sorted(digests))


def next_customer_id(session: Session, at: datetime, tz: tzinfo) -> str:
    """The next ID of the business day, like C20240501001 (the sequence widens past 999)."""
    stamp = at.astimezone(tz).strftime("%Y%m%d")
    return f"C{stamp}{journal.next_counter(session, 'customer:' + stamp):03d}"


def create(
    *,
    session: Session,
    caller: Caller,
    data: dict[str, Any],
    at: datetime | None = None,
    tz: tzinfo = BUSINESS_TIMEZONE,
) -> Customer:
    """Create a customer with its contacts; the caller owns it unless another owner is given."""
    at = at or now()
    parsed = schemas.parse(schemas.CustomerInput, data)
    if not parsed.contacts:
        raise InvalidArgument(
            "invalid customer", [FieldViolation("contacts", "at least one contact is required")]
        )
    values = _field_values(parsed)
    values["custom_fields"] = schemas.check_custom_fields(
        parsed.custom_fields, _custom_field_specs(session), creating=True
    )
    # A person or a partner client owns what it creates (so a partner with record scope `own`
    # reads back its own leads); a platform service's imports stay unowned until assigned.
    values["owner_id"] = values["owner_id"] or (caller.id if caller.kind in ("user", "client") else None)
    if not caller.may_reach(values["owner_id"]):
        raise PermissionDenied("you may not create customers owned by someone outside your scope")
    if not any(c.is_primary for c in parsed.contacts):
        parsed.contacts[0].is_primary = True
    customer = Customer(
        id=next_customer_id(session, at, tz),
        **values,
        tier="C",
        deal_amount_12m_fen=0,
        version=1,
        created_at=at,
        updated_at=at,
        created_by=caller.id,
        updated_by=caller.id,
    )
    # A microsecond apart, so contacts keep the order they were given in.
    customer.contacts = [
        new_contact(c, customer.id, at + timedelta(microseconds=i)) for i, c in enumerate(parsed.contacts)
    ]
    session.add(customer)
    refresh_lookups(session, customer)
    snapshot = customer_to_dict(customer)
    journal.record(
        session,
        customer_id=customer.id,
        action="customer.created",
        actor=caller.id,
        at=at,
        version=1,
        changes=journal.diff(None, snapshot),
        snapshot=snapshot,
    )
    return customer


def get(
    *,
    session: Session,
    caller: Caller,
    customer_id: str,
    include_deleted: bool = False,
    for_update: bool = False,
) -> Customer:
    """A customer the caller may reach; NotFound otherwise, so existence does not leak."""
    stmt = select(Customer).where(Customer.id == customer_id)
    if for_update:
        stmt = stmt.with_for_update()
    customer = session.scalars(stmt).first()
    if (
        customer is None
        or not caller.may_reach(customer.owner_id)
        or (customer.deleted_at is not None and not include_deleted)
    ):
        raise NotFound(f"customer {customer_id} not found")
    return customer


def get_as_of(*, session: Session, caller: Caller, customer_id: str, at: datetime) -> dict[str, Any]:
    """The customer as recorded at a past time."""
    current = get(session=session, caller=caller, customer_id=customer_id, include_deleted=True)
    revision = journal.as_of(session, customer_id=current.id, at=at)
    if revision is None:
        raise NotFound(f"customer {customer_id} did not exist at {iso(at)}")
    return revision.snapshot


def _check_version(customer: Customer, expected_version: int) -> None:
    if expected_version <= 0:
        raise InvalidArgument(
            "the version you last read is required",
            [FieldViolation("expected_version", "must be the customer's current version")],
        )
    if customer.version != expected_version:
        raise Conflict(
            f"customer {customer.id} is at version {customer.version}, not {expected_version}; "
            "reload it and apply your change again"
        )


def touch(
    session: Session,
    customer: Customer,
    caller: Caller,
    action: str,
    before: dict[str, Any],
    at: datetime,
    extra_changes: list[dict[str, Any]] | None = None,
    *,
    edit: bool = True,
) -> None:
    """Record the revision of a change to a customer.

    Only edits of the record itself (update, delete, restore) move its version: a logged call or
    a new order must not make a colleague's open edit form stale.
    """
    if edit:
        customer.version += 1
    customer.updated_at = at
    customer.updated_by = caller.id
    session.flush()
    session.expire(customer, ["contacts"])
    after = customer_to_dict(customer)
    journal.record(
        session,
        customer_id=customer.id,
        action=action,
        actor=caller.id,
        at=at,
        version=customer.version,
        changes=(extra_changes or []) + journal.diff(before, after),
        snapshot=after,
    )


def update(
    *,
    session: Session,
    caller: Caller,
    customer_id: str,
    expected_version: int,
    patch: dict[str, Any],
    paths: list[str],
    at: datetime | None = None,
) -> Customer:
    """Replace the masked fields after checking the version; the whole result is validated."""
    at = at or now()
    unknown = [p for p in paths if p not in WRITABLE_FIELDS]
    if unknown or not paths:
        raise InvalidArgument(
            "invalid update",
            [FieldViolation(p, "this field cannot be changed") for p in unknown]
            or [FieldViolation("update_mask", "name at least one field to change")],
        )
    for path in paths:
        # What the caller may not see in full is not theirs to overwrite blindly.
        field_rules.require_use(caller, field_rules.CUSTOMER.get(path, ""), f"{path} in an update")
    customer = get(session=session, caller=caller, customer_id=customer_id, for_update=True)
    _check_version(customer, expected_version)
    before = customer_to_dict(customer)
    merged = {k: before[k] for k in WRITABLE_FIELDS}
    for path in paths:
        merged[path] = patch.get(path)
    merged = {k: v for k, v in merged.items() if v is not None}
    parsed = schemas.parse(schemas.CustomerInput, merged)
    values = _field_values(parsed)
    if "custom_fields" in paths:
        values["custom_fields"] = schemas.check_custom_fields(
            parsed.custom_fields, _custom_field_specs(session), creating=True
        )
    if "owner_id" in paths and not caller.may_reach(values["owner_id"]):
        raise PermissionDenied("you may not hand a customer to someone outside your scope")
    for path in paths:
        column = _STORED_AS.get(path, (path,))[0]
        setattr(customer, column, values[column])
    if "id_number" in paths:
        refresh_lookups(session, customer)
    if journal.diff(before, customer_to_dict(customer)):
        touch(session, customer, caller, "customer.updated", before, at)
    return customer


def delete(
    *,
    session: Session,
    caller: Caller,
    customer_id: str,
    expected_version: int,
    at: datetime | None = None,
) -> Customer:
    """Soft-delete: hidden from reads and lists, kept with its history, restorable."""
    at = at or now()
    customer = get(session=session, caller=caller, customer_id=customer_id, for_update=True)
    _check_version(customer, expected_version)
    before = customer_to_dict(customer)
    customer.deleted_at = at
    touch(session, customer, caller, "customer.deleted", before, at)
    return customer


def restore(*, session: Session, caller: Caller, customer_id: str, at: datetime | None = None) -> Customer:
    """Bring a soft-deleted customer back."""
    at = at or now()
    customer = get(
        session=session,
        caller=caller,
        customer_id=customer_id,
        include_deleted=True,
        for_update=True,
    )
    if customer.deleted_at is None:
        raise AlreadyExists(f"customer {customer_id} is not deleted")
    before = customer_to_dict(customer)
    customer.deleted_at = None
    touch(session, customer, caller, "customer.restored", before, at)
    return customer


# -- listing ---------------------------------------------------------------------------------

_SORT_KEYS: dict[str, Any] = {
    "created_at": Customer.created_at,
    "updated_at": Customer.updated_at,
    "name": Customer.name,
    "deal_amount_12m": Customer.deal_amount_12m_fen,
    "last_follow_up_at": Customer.last_follow_up_at,
}


def encode_token(values: list[Any]) -> str:
    """An opaque page token."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_token(token: str, length: int) -> list[Any]:
    """The values inside a page token; InvalidArgument if it is not ours."""
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        values = None
    if not isinstance(values, list) or len(values) != length:
        raise InvalidArgument(
            "invalid page token", [FieldViolation("page_token", "not a token this API issued")]
        )
    return values


def page_size(requested: int) -> int:
    """The page size to use; InvalidArgument outside 0..200."""
    if requested < 0 or requested > MAX_PAGE_SIZE:
        raise InvalidArgument(
            "invalid page size",
            [FieldViolation("page_size", f"must be between 1 and {MAX_PAGE_SIZE}")],
        )
    return requested or DEFAULT_PAGE_SIZE


def _scope_condition(caller: Caller) -> ColumnElement[bool] | None:
    if caller.scope in ("all", "org"):
        return None
    owners = [caller.id, *caller.teammates] if caller.scope == "team" else [caller.id]
    return Customer.owner_id.in_(owners)


def _industry_condition(values: list[str]) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    for value in values:
        code = value.strip().upper()
        if codes.industry(code) is None:
            raise InvalidArgument(
                "invalid filter",
                [FieldViolation("industry_code", f"unknown GB/T 4754-2017 industry code {value!r}")],
            )
        if code.isalpha():
            divisions = [c.code for c in codes.industries().values() if c.parent == code]
            parts.append(Customer.industry_code == code)
            parts += [Customer.industry_code.startswith(d) for d in divisions]
        else:
            parts.append(Customer.industry_code.startswith(code))
    return or_(*parts)


def region_prefix(code: str) -> str:
    """The code prefix shared by a division and everything inside it (440000 -> 44)."""
    prefix = code
    while prefix.endswith("00") and len(prefix) > 2:
        prefix = prefix[:-2]
    return prefix


def _region_condition(values: list[str]) -> ColumnElement[bool]:
    for value in values:
        if codes.region(value) is None:
            raise InvalidArgument(
                "invalid filter",
                [FieldViolation("region_code", f"unknown GB/T 2260 region code {value!r}")],
            )
    return or_(*(Customer.region_code.startswith(region_prefix(v)) for v in values))


def _check_choice(field: str, values: list[str], allowed: tuple[str, ...]) -> None:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise InvalidArgument(
            "invalid filter",
            [FieldViolation(field, f"{bad[0]!r} is not one of {', '.join(allowed)}")],
        )


def list_customers(
    *,
    session: Session,
    caller: Caller,
    filters: dict[str, Any],
    order_by: str,
    size: int,
    token: str,
) -> tuple[list[Customer], str]:
    """A page of customers the caller may reach, filtered and sorted, and the next token."""
    descending = order_by.startswith("-")
    key_name = order_by.lstrip("-") or "created_at"
    if not order_by:
        descending = True
    if key_name not in _SORT_KEYS:
        raise InvalidArgument(
            "invalid sort",
            [FieldViolation("order_by", f"must be one of {', '.join(_SORT_KEYS)}, optionally with -")],
        )
    # The order (and the next page token) would tell hidden values apart.
    field_rules.require_use(caller, field_rules.CUSTOMER[key_name], f"{key_name} to sort")
    key = _SORT_KEYS[key_name]
    if key_name == "last_follow_up_at":
        key = func.coalesce(key, type_coerce(_EPOCH, Customer.last_follow_up_at.type))
    conditions: list[ColumnElement[bool]] = []
    if (scope := _scope_condition(caller)) is not None:
        conditions.append(scope)
    if not filters.get("include_deleted"):
        conditions.append(Customer.deleted_at.is_(None))
    choices = {
        "status": (Customer.status, schemas.Status),
        "stage": (Customer.stage, schemas.Stage),
        "tier": (Customer.tier, None),
        "source_channel": (Customer.source_channel, schemas.SourceChannel),
        "kind": (Customer.kind, schemas.CustomerKind),
        "scale": (Customer.scale, schemas.Scale),
        "owner_id": (Customer.owner_id, None),
    }
    for name, (column, literal) in choices.items():
        if values := filters.get(name):
            field_rules.require_use(caller, field_rules.CUSTOMER[name], f"{name} as a filter")
            allowed = get_args(literal) if literal else get_args(schemas.Tier) if name == "tier" else None
            if allowed:
                _check_choice(name, values, allowed)
            conditions.append(column.in_(values))
    if values := filters.get("industry_code"):
        conditions.append(_industry_condition(values))
    if values := filters.get("region_code"):
        conditions.append(_region_condition(values))
    for purpose in ("phone", "email", "id_number"):
        if value := filters.get(purpose):
            field_rules.require_use(caller, field_rules.CONTACT, f"{purpose} to look customers up")
            digest = lookup_digest(session, purpose, value)
            matches = select(PiiLookup.customer_id).where(
                PiiLookup.purpose == purpose, PiiLookup.digest == digest
            )
            conditions.append(Customer.id.in_(matches))
    if text := filters.get("name_contains"):
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Customer.name.ilike(f"%{escaped}%", escape="\\"))
    for name, column, op in (
        ("created_from", Customer.created_at, "ge"),
        ("created_to", Customer.created_at, "lt"),
        ("updated_from", Customer.updated_at, "ge"),
        ("updated_to", Customer.updated_at, "lt"),
    ):
        if bound := filters.get(name):
            conditions.append(column >= bound if op == "ge" else column < bound)
    if token:
        last_key, last_id = decode_token(token, 2)
        if key_name in ("created_at", "updated_at", "last_follow_up_at"):
            last_key = datetime.fromisoformat(last_key)
        if descending:
            conditions.append(or_(key < last_key, and_(key == last_key, Customer.id < last_id)))
        else:
            conditions.append(or_(key > last_key, and_(key == last_key, Customer.id > last_id)))
    order = (key.desc(), Customer.id.desc()) if descending else (key.asc(), Customer.id.asc())
    stmt = select(Customer).where(*conditions)
    rows = list(session.scalars(stmt.order_by(*order).limit(size + 1)))
    next_token = ""
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        value = {
            "created_at": last.created_at,
            "updated_at": last.updated_at,
            "name": last.name,
            "deal_amount_12m": last.deal_amount_12m_fen,
            "last_follow_up_at": last.last_follow_up_at or _EPOCH,
        }[key_name]
        next_token = encode_token([value.isoformat() if isinstance(value, datetime) else value, last.id])
    return rows, next_token


# -- tiers -----------------------------------------------------------------------------------


def tier_for(amount_fen: int, settings: ProfileSettings) -> str:
    """A/B/C for a last-12-months order amount under the configured thresholds."""
    if amount_fen >= fen(settings.tier_a_threshold):
        return "A"
    if amount_fen >= fen(settings.tier_b_threshold):
        return "B"
    return "C"


def deal_amount_12m(session: Session, customer_id: str, at: datetime) -> int:
    """The sum of a customer's orders in the twelve months up to a time, in fen."""
    total = session.scalar(
        select(func.coalesce(func.sum(Order.amount_fen), 0)).where(
            Order.customer_id == customer_id,
            Order.ordered_at > at - timedelta(days=365),
            Order.ordered_at <= at,
        )
    )
    return int(total or 0)


def refresh_tier(session: Session, customer: Customer, settings: ProfileSettings, at: datetime) -> None:
    """Recompute the derived deal amount and tier from the orders."""
    customer.deal_amount_12m_fen = deal_amount_12m(session, customer.id, at)
    customer.tier = tier_for(customer.deal_amount_12m_fen, settings)


def recompute_tiers(
    *, session: Session, caller: Caller, settings: ProfileSettings, at: datetime | None = None
) -> int:
    """Refresh every customer's tier as orders age out of the window; returns how many changed."""
    at = at or now()
    changed = 0
    for customer in session.scalars(select(Customer).where(Customer.deleted_at.is_(None))):
        before_amount, before_tier = customer.deal_amount_12m_fen, customer.tier
        before = customer_to_dict(customer)
        refresh_tier(session, customer, settings, at)
        if (customer.deal_amount_12m_fen, customer.tier) != (before_amount, before_tier):
            touch(session, customer, caller, "customer.tier_refreshed", before, at, edit=False)
            changed += 1
    return changed
