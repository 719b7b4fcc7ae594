"""Records related to a customer: contacts, interactions, orders, contracts, service records."""

from datetime import datetime
from typing import Any
from uuid import uuid4

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from services.common.errors import AlreadyExists, FieldViolation, InvalidArgument
from services.common.identity import Caller
from services.profile import schemas, service
from services.profile.models import Contact, Contract, Customer, Interaction, Order, ServiceRecord
from services.profile.service import iso, yuan
from services.profile.settings import ProfileSettings


def interaction_to_dict(row: Interaction) -> dict[str, Any]:
    """An interaction in API form."""
    return {
        "id": row.id,
        "customer_id": row.customer_id,
        "channel": row.channel,
        "type": row.type,
        "occurred_at": iso(row.occurred_at),
        "summary": row.summary,
        "by_user": row.by_user,
        "created_at": iso(row.created_at),
    }


def order_to_dict(row: Order) -> dict[str, Any]:
    """An order in API form."""
    return {
        "id": row.id,
        "customer_id": row.customer_id,
        "product": row.product,
        "quantity": row.quantity,
        "amount": yuan(row.amount_fen),
        "ordered_at": iso(row.ordered_at),
        "channel": row.channel,
        "external_id": row.external_id,
        "created_at": iso(row.created_at),
    }


def contract_to_dict(row: Contract) -> dict[str, Any]:
    """A contract in API form."""
    return {
        "id": row.id,
        "customer_id": row.customer_id,
        "number": row.number,
        "title": row.title,
        "amount": yuan(row.amount_fen),
        "signed_on": row.signed_on,
        "starts_on": row.starts_on,
        "ends_on": row.ends_on,
        "status": row.status,
        "created_at": iso(row.created_at),
    }


def service_record_to_dict(row: ServiceRecord) -> dict[str, Any]:
    """A service record in API form."""
    return {
        "id": row.id,
        "customer_id": row.customer_id,
        "category": row.category,
        "subject": row.subject,
        "description": row.description,
        "satisfaction": row.satisfaction,
        "status": row.status,
        "opened_at": iso(row.opened_at),
        "resolved_at": iso(row.resolved_at),
        "created_at": iso(row.created_at),
    }


def _day(value: Any) -> str | None:
    return value.isoformat() if value else None


def _lock(session: Session, caller: Caller, customer_id: str) -> tuple[Customer, dict[str, Any]]:
    customer = service.get(session=session, caller=caller, customer_id=customer_id, for_update=True)
    return customer, service.customer_to_dict(customer)


def create_contact(
    *,
    session: Session,
    caller: Caller,
    customer_id: str,
    data: dict[str, Any],
    at: datetime | None = None,
) -> Contact:
    """Add a contact; making it primary demotes the previous primary contact."""
    at = at or service.now()
    parsed = schemas.parse(schemas.ContactInput, data)
    customer, before = _lock(session, caller, customer_id)
    if len(customer.contacts) >= 50:
        raise InvalidArgument(
            "too many contacts", [FieldViolation("contact", "a customer keeps at most 50 contacts")]
        )
    contact = service.new_contact(parsed, customer.id, at)
    if contact.is_primary:
        for other in customer.contacts:
            other.is_primary = False
    session.add(contact)
    session.flush()
    session.expire(customer, ["contacts"])
    service.refresh_lookups(session, customer)
    service.touch(session, customer, caller, "contact.created", before, at, edit=False)
    return contact


def create_interaction(
    *,
    session: Session,
    caller: Caller,
    customer_id: str,
    data: dict[str, Any],
    at: datetime | None = None,
) -> Interaction:
    """Log an interaction; a follow-up moves the customer's last follow-up time forward."""
    at = at or service.now()
    parsed = schemas.parse(schemas.InteractionInput, data)
    customer, before = _lock(session, caller, customer_id)
    row = Interaction(
        id=str(uuid4()),
        customer_id=customer.id,
        channel=parsed.channel,
        type=parsed.type,
        occurred_at=parsed.occurred_at,
        summary=parsed.summary,
        by_user=parsed.by_user or caller.id,
        created_at=at,
    )
    session.add(row)
    if customer.last_follow_up_at is None or parsed.occurred_at > customer.last_follow_up_at:
        customer.last_follow_up_at = parsed.occurred_at
    service.touch(
        session,
        customer,
        caller,
        "interaction.created",
        before,
        at,
        [{"field": f"interactions[{row.id}]", "old": None, "new": interaction_to_dict(row)}],
        edit=False,
    )
    return row


def create_order(
    *,
    session: Session,
    caller: Caller,
    settings: ProfileSettings,
    customer_id: str,
    data: dict[str, Any],
    at: datetime | None = None,
) -> Order:
    """Record an order and refresh the customer's tier; a known external_id returns that order."""
    at = at or service.now()
    parsed = schemas.parse(schemas.OrderInput, data)
    customer, before = _lock(session, caller, customer_id)
    if parsed.external_id:
        existing = session.scalars(select(Order).where(Order.external_id == parsed.external_id)).first()
        if existing is not None:
            if existing.customer_id != customer.id:
                raise AlreadyExists(f"order {parsed.external_id} belongs to another customer")
            return existing
    row = Order(
        id=str(uuid4()),
        customer_id=customer.id,
        product=parsed.product,
        quantity=parsed.quantity,
        amount_fen=service.fen(parsed.amount),
        ordered_at=parsed.ordered_at,
        channel=parsed.channel,
        external_id=parsed.external_id,
        created_at=at,
    )
    session.add(row)
    session.flush()
    service.refresh_tier(session, customer, settings, at)
    if customer.last_order_at is None or row.ordered_at > customer.last_order_at:
        customer.last_order_at = row.ordered_at
    service.touch(
        session,
        customer,
        caller,
        "order.created",
        before,
        at,
        [{"field": f"orders[{row.id}]", "old": None, "new": order_to_dict(row)}],
        edit=False,
    )
    return row


def create_contract(
    *,
    session: Session,
    caller: Caller,
    customer_id: str,
    data: dict[str, Any],
    at: datetime | None = None,
) -> Contract:
    """Attach a contract; contract numbers are unique."""
    at = at or service.now()
    parsed = schemas.parse(schemas.ContractInput, data)
    customer, before = _lock(session, caller, customer_id)
    if session.scalars(select(Contract.id).where(Contract.number == parsed.number)).first():
        raise AlreadyExists(f"contract number {parsed.number} is already used")
    row = Contract(
        id=str(uuid4()),
        customer_id=customer.id,
        number=parsed.number,
        title=parsed.title,
        amount_fen=service.fen(parsed.amount),
        signed_on=_day(parsed.signed_on),
        starts_on=_day(parsed.starts_on),
        ends_on=_day(parsed.ends_on),
        status=parsed.status,
        created_at=at,
    )
    session.add(row)
    service.touch(
        session,
        customer,
        caller,
        "contract.created",
        before,
        at,
        [{"field": f"contracts[{row.id}]", "old": None, "new": contract_to_dict(row)}],
        edit=False,
    )
    return row


def create_service_record(
    *,
    session: Session,
    caller: Caller,
    customer_id: str,
    data: dict[str, Any],
    at: datetime | None = None,
) -> ServiceRecord:
    """Open a complaint, inquiry or feedback record."""
    at = at or service.now()
    parsed = schemas.parse(schemas.ServiceRecordInput, data)
    customer, before = _lock(session, caller, customer_id)
    row = ServiceRecord(
        id=str(uuid4()),
        customer_id=customer.id,
        category=parsed.category,
        subject=parsed.subject,
        description=parsed.description,
        satisfaction=parsed.satisfaction,
        status=parsed.status,
        opened_at=parsed.opened_at or at,
        resolved_at=parsed.resolved_at,
        created_at=at,
    )
    session.add(row)
    service.touch(
        session,
        customer,
        caller,
        "service_record.created",
        before,
        at,
        [{"field": f"service_records[{row.id}]", "old": None, "new": service_record_to_dict(row)}],
        edit=False,
    )
    return row


def list_related(
    *,
    session: Session,
    caller: Caller,
    customer_id: str,
    model: type[Any],
    time_column: InstrumentedAttribute[Any],
    size: int,
    token: str,
) -> tuple[list[Any], str]:
    """A page of one kind of related record, newest first, and the next token."""
    service.get(session=session, caller=caller, customer_id=customer_id)
    stmt = select(model).where(model.customer_id == customer_id)
    if token:
        last_time, last_id = service.decode_token(token, 2)
        last = datetime.fromisoformat(last_time)
        stmt = stmt.where((time_column < last) | ((time_column == last) & (model.id < last_id)))
    rows = list(session.scalars(stmt.order_by(time_column.desc(), model.id.desc()).limit(size + 1)))
    if len(rows) <= size:
        return rows, ""
    rows = rows[:size]
    last_row = rows[-1]
    return rows, service.encode_token([getattr(last_row, time_column.key).isoformat(), last_row.id])


def view(*, session: Session, caller: Caller, customer_id: str) -> dict[str, Any]:
    """The 360° view: the customer with recent activity and summary figures."""
    customer = service.get(session=session, caller=caller, customer_id=customer_id)

    def recent(model: type[Any], column: Any, limit: int = 10) -> list[Any]:
        return list(
            session.scalars(
                select(model)
                .where(model.customer_id == customer.id)
                .order_by(column.desc(), model.id.desc())
                .limit(limit)
            )
        )

    interactions = session.execute(
        select(func.count(), func.max(Interaction.occurred_at)).where(Interaction.customer_id == customer.id)
    ).one()
    orders = session.execute(
        select(func.count(), func.coalesce(func.sum(Order.amount_fen), 0), func.max(Order.ordered_at)).where(
            Order.customer_id == customer.id
        )
    ).one()
    open_records = session.scalar(
        select(func.count()).where(ServiceRecord.customer_id == customer.id, ServiceRecord.status == "open")
    )
    return {
        "customer": service.customer_to_dict(customer),
        "recent_interactions": [interaction_to_dict(r) for r in recent(Interaction, Interaction.occurred_at)],
        "recent_orders": [order_to_dict(r) for r in recent(Order, Order.ordered_at)],
        "contracts": [contract_to_dict(r) for r in recent(Contract, Contract.created_at, 50)],
        "recent_service_records": [
            service_record_to_dict(r) for r in recent(ServiceRecord, ServiceRecord.opened_at)
        ],
        "interaction_count": interactions[0],
        "order_count": orders[0],
        "lifetime_order_amount": yuan(int(orders[1])),
        "last_interaction_at": iso(interactions[1]),
        "last_order_at": iso(orders[2]),
        "open_service_records": open_records or 0,
    }


RELATED = {
    "contacts": (Contact, Contact.created_at),
    "interactions": (Interaction, Interaction.occurred_at),
    "orders": (Order, Order.ordered_at),
    "contracts": (Contract, Contract.created_at),
    "service_records": (ServiceRecord, ServiceRecord.opened_at),
}
