"""A person's rights over their data (PIPL / GDPR): consents, access and portability, erasure.

Correction is the ordinary update path (with history). Erasure deletes the customer's rows
from the archive, leaves a tombstone in the change feed (so search, tagging and every other
follower drop the customer too) and then destroys the customer's data key, which makes every
copy of its ciphertext, in backups included, unreadable.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.common.db import Database
from services.common.errors import FieldViolation, InvalidArgument, NotFound
from services.common.identity import Caller
from services.profile import journal, related, schemas, service
from services.profile.keyring import Keyring
from services.profile.models import (
    ERASED,
    Consent,
    Contact,
    Contract,
    Customer,
    Interaction,
    Order,
    PiiLookup,
    Revision,
    ServiceRecord,
)

EXPORT_FORMAT = "crm.privacy-export/v1"


def consent_to_dict(row: Consent) -> dict[str, Any]:
    """A consent in API form."""
    return {
        "id": row.id,
        "customer_id": row.customer_id,
        "purpose": row.purpose,
        "channel": row.channel,
        "given_at": service.iso(row.given_at),
        "recorded_by": row.recorded_by,
        "evidence": row.evidence,
        "withdrawn_at": service.iso(row.withdrawn_at),
        "withdrawn_by": row.withdrawn_by,
        "active": row.withdrawn_at is None,
    }


def active_purposes(session: Session, customer_id: str) -> list[str]:
    """The purposes a customer currently consents to."""
    rows = session.scalars(
        select(Consent.purpose).where(Consent.customer_id == customer_id, Consent.withdrawn_at.is_(None))
    )
    return sorted(set(rows))


def _refresh_purposes(
    session: Session, customer: Customer, caller: Caller, action: str, at: datetime
) -> None:
    before = service.customer_to_dict(customer)
    session.flush()
    customer.consented_purposes = active_purposes(session, customer.id)
    service.touch(session, customer, caller, action, before, at, edit=False)


def give_consent(
    *, session: Session, caller: Caller, customer_id: str, data: dict[str, Any], at: datetime | None = None
) -> Consent:
    """Record a consent with its evidence; the customer's consented purposes follow."""
    at = at or service.now()
    parsed = schemas.parse(schemas.ConsentInput, data)
    customer = service.get(session=session, caller=caller, customer_id=customer_id, for_update=True)
    consent = Consent(
        id=str(uuid4()),
        customer_id=customer.id,
        purpose=parsed.purpose,
        channel=parsed.channel,
        given_at=parsed.given_at or at,
        recorded_by=caller.id,
        evidence=parsed.evidence,
    )
    session.add(consent)
    _refresh_purposes(session, customer, caller, "consent.given", at)
    return consent


def withdraw_consent(
    *, session: Session, caller: Caller, customer_id: str, consent_id: str, at: datetime | None = None
) -> Consent:
    """Withdraw a consent (kept, marked withdrawn): processing for its purpose stops."""
    at = at or service.now()
    customer = service.get(session=session, caller=caller, customer_id=customer_id, for_update=True)
    consent = session.get(Consent, consent_id)
    if consent is None or consent.customer_id != customer.id:
        raise NotFound(f"consent {consent_id} of customer {customer_id} not found")
    if consent.withdrawn_at is not None:
        raise InvalidArgument(
            "consent already withdrawn",
            [FieldViolation("consent_id", f"withdrawn at {service.iso(consent.withdrawn_at)}")],
        )
    consent.withdrawn_at = at
    consent.withdrawn_by = caller.id
    _refresh_purposes(session, customer, caller, "consent.withdrawn", at)
    return consent


def list_consents(*, session: Session, caller: Caller, customer_id: str) -> list[Consent]:
    """Every consent of a customer, withdrawn ones included, oldest first."""
    customer = service.get(session=session, caller=caller, customer_id=customer_id, include_deleted=True)
    return list(
        session.scalars(
            select(Consent).where(Consent.customer_id == customer.id).order_by(Consent.given_at, Consent.id)
        )
    )


def export(
    *, session: Session, caller: Caller, customer_id: str, at: datetime | None = None
) -> dict[str, Any]:
    """Everything the archive holds about a customer, complete and machine-readable."""
    customer = service.get(session=session, caller=caller, customer_id=customer_id, include_deleted=True)

    def rows(model: type[Any], column: Any) -> list[Any]:
        return list(
            session.scalars(select(model).where(model.customer_id == customer.id).order_by(column, model.id))
        )

    history = session.scalars(
        select(Revision).where(Revision.customer_id == customer.id).order_by(Revision.position)
    )
    return {
        "format": EXPORT_FORMAT,
        "exported_at": service.iso(at or service.now()),
        "customer": service.customer_to_dict(customer),
        "interactions": [related.interaction_to_dict(r) for r in rows(Interaction, Interaction.occurred_at)],
        "orders": [related.order_to_dict(r) for r in rows(Order, Order.ordered_at)],
        "contracts": [related.contract_to_dict(r) for r in rows(Contract, Contract.created_at)],
        "service_records": [
            related.service_record_to_dict(r) for r in rows(ServiceRecord, ServiceRecord.opened_at)
        ],
        "consents": [consent_to_dict(r) for r in rows(Consent, Consent.given_at)],
        "history": [
            {
                "revision": r.position,
                "action": r.action,
                "actor": r.actor,
                "at": service.iso(r.at),
                "changes": r.changes,
            }
            for r in history
        ],
    }


def erase(
    *, session: Session, caller: Caller, customer_id: str, at: datetime | None = None
) -> dict[str, int]:
    """Delete every row about a customer and leave a feed tombstone; what was removed, by kind.

    The caller destroys the customer's data key once this unit of work has committed.
    """
    at = at or service.now()
    customer = service.get(
        session=session, caller=caller, customer_id=customer_id, include_deleted=True, for_update=True
    )
    removed: dict[str, int] = {}
    for name, model in (
        ("pii_lookups", PiiLookup),
        ("consents", Consent),
        ("contacts", Contact),
        ("interactions", Interaction),
        ("orders", Order),
        ("contracts", Contract),
        ("service_records", ServiceRecord),
        ("revisions", Revision),
    ):
        result = session.execute(delete(model).where(model.customer_id == customer.id))
        removed[name] = result.rowcount or 0
    session.expunge(customer)
    session.execute(delete(Customer).where(Customer.id == customer.id))
    removed["customers"] = 1
    # The tombstone carries no personal data: only that the customer is gone, so followers drop it.
    journal.record(
        session,
        customer_id=customer.id,
        action=ERASED,
        actor=caller.id,
        at=at,
        version=customer.version + 1,
        changes=[],
        snapshot={},
    )
    return removed


def erase_and_shred(
    db: Database,
    keyring: Keyring,
    record: Callable[..., None],
    *,
    caller: Caller,
    customer_id: str,
    reason: str,
) -> dict[str, Any]:
    """Erase a customer: its rows and the audit event in one unit of work, then its data key.

    `record(action, target, details=...)` audits within that unit of work. Repeating the call
    after an interruption between the two steps destroys the key; once both are done, NotFound.
    """
    if len(reason) > 500:
        raise InvalidArgument("invalid erasure", [FieldViolation("reason", "at most 500 characters")])
    with db.session_scope() as session:
        erased = was_erased(session, customer_id)
        if erased and keyring.is_destroyed(customer_id):
            raise NotFound(f"customer {customer_id} not found")
        removed = {} if erased else erase(session=session, caller=caller, customer_id=customer_id)
        # The event names the customer and what happened, never the erased data.
        record("privacy.erase", f"customer:{customer_id}", details={"reason": reason} if reason else None)
    return {"removed": removed, "key_destroyed": keyring.destroy(customer_id)}


def was_erased(session: Session, customer_id: str) -> bool:
    """Whether the archive holds the erasure tombstone of a customer."""
    return (
        session.scalar(
            select(Revision.position)
            .where(Revision.customer_id == customer_id, Revision.action == ERASED)
            .limit(1)
        )
        is not None
    )


def due_for_retention(*, session: Session, days: int, at: datetime | None = None) -> list[str]:
    """Churned customers whose last change is older than the retention period."""
    if days <= 0:
        return []
    cutoff = (at or service.now()) - timedelta(days=days)
    return list(
        session.scalars(
            select(Customer.id)
            .where(Customer.status == "churned", Customer.updated_at < cutoff)
            .order_by(Customer.id)
        )
    )
