"""Tables owned by the profile service. Amounts are integer fen (0.01 CNY); times are UTC."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.common.db import UTCDateTime
from services.profile.sealing import Sealed, watch

# The feed action of a privacy erasure: the customer is gone from every service.
ERASED = "customer.erased"


class ProfileBase(DeclarativeBase):
    """The profile service's own metadata."""


@watch
class Customer(ProfileBase):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    industry_code: Mapped[str] = mapped_column(String(5), index=True)
    region_code: Mapped[str | None] = mapped_column(String(6), index=True)
    scale: Mapped[str | None] = mapped_column(String(10))
    tier: Mapped[str] = mapped_column(String(1), default="C", index=True)
    deal_amount_12m_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(20), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    owner_id: Mapped[str | None] = mapped_column(String(64), index=True)
    source_channel: Mapped[str] = mapped_column(String(20))
    last_follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    gender: Mapped[str | None] = mapped_column(String(10))
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    interests: Mapped[list[str]] = mapped_column(JSON, default=list)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    credit_limit_fen: Mapped[int | None] = mapped_column(BigInteger)
    outstanding_fen: Mapped[int | None] = mapped_column(BigInteger)
    loyalty_points: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Purposes with an active consent (kept in step with the consents table).
    consented_purposes: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    updated_by: Mapped[str] = mapped_column(String(64))
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Personal fields, encrypted under the customer's data key (see sealing.py).
    sealed: Mapped[str | None] = mapped_column(Text)
    address = Sealed()
    birthday = Sealed()
    id_number = Sealed()
    # Free text written about a person may say anything about them: sealed as well.
    notes = Sealed()

    contacts: Mapped[list["Contact"]] = relationship(
        order_by="Contact.created_at, Contact.id", lazy="selectin"
    )

    def sealing(self) -> tuple[str, str]:
        """Sealed under its own data key, as the record itself."""
        return self.id, "customer"


@watch
class Contact(ProfileBase):
    __tablename__ = "contacts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    title: Mapped[str | None] = mapped_column(String(100))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    departed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sealed: Mapped[str | None] = mapped_column(Text)
    name = Sealed(lambda: "")
    phones = Sealed(list)
    emails = Sealed(list)
    wechat = Sealed()

    def sealing(self) -> tuple[str, str]:
        """Sealed under its customer's data key, as one contact of that record."""
        return self.customer_id, f"contact:{self.id}"


class PiiLookup(ProfileBase):
    """Keyed blind indexes of contacts' phones and e-mails: exact lookups without decrypting."""

    __tablename__ = "pii_lookups"

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)

    __table_args__ = (Index("ix_pii_lookups_digest", "purpose", "digest"),)


class Consent(ProfileBase):
    """A person's consent to one purpose of processing, with its evidence; withdrawal is kept."""

    __tablename__ = "consents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(20))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(64))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by: Mapped[str | None] = mapped_column(String(64))
    # How the consent was obtained (form ID, recording reference, signed page…): personal.
    sealed: Mapped[str | None] = mapped_column(Text)
    evidence = Sealed(lambda: "")

    def sealing(self) -> tuple[str, str]:
        """Sealed under its customer's data key."""
        return self.customer_id, f"consent:{self.id}"


@watch
class Interaction(ProfileBase):
    __tablename__ = "interactions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    channel: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    by_user: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sealed: Mapped[str | None] = mapped_column(Text)
    summary = Sealed(lambda: "")

    def sealing(self) -> tuple[str, str]:
        """Sealed under its customer's data key."""
        return self.customer_id, f"interaction:{self.id}"

    __table_args__ = (Index("ix_interactions_customer_time", "customer_id", "occurred_at"),)


class Order(ProfileBase):
    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    product: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_orders_customer_time", "customer_id", "ordered_at"),)


class Contract(ProfileBase):
    __tablename__ = "contracts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    signed_on: Mapped[str | None] = mapped_column(String(10))
    starts_on: Mapped[str | None] = mapped_column(String(10))
    ends_on: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


@watch
class ServiceRecord(ProfileBase):
    __tablename__ = "service_records"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    category: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(200))
    sealed: Mapped[str | None] = mapped_column(Text)
    description = Sealed()
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def sealing(self) -> tuple[str, str]:
        """Sealed under its customer's data key."""
        return self.customer_id, f"service_record:{self.id}"


class CustomField(ProfileBase):
    __tablename__ = "custom_fields"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(10))
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    max_length: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


@watch
class Revision(ProfileBase):
    """One recorded change of a customer, and its entry in the change feed.

    The position comes from a counter incremented under a row lock in the same transaction,
    so positions become visible in commit order and a reader never skips one.
    """

    __tablename__ = "revisions"

    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    customer_id: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)
    traceparent: Mapped[str | None] = mapped_column(String(64))
    # Both hold personal data, so both are sealed under the customer's data key:
    # [{"field", "old", "new"}] for the fields this change touched, and the customer
    # (contacts included) after this change, for as-of reads and the feed.
    sealed: Mapped[str | None] = mapped_column(Text)
    changes = Sealed(list)
    snapshot = Sealed(dict)

    def sealing(self) -> tuple[str, str] | None:
        """Sealed under its customer's data key, as one revision of that record.

        The tombstone an erasure leaves holds nothing personal, and its key is gone.
        """
        if self.action == ERASED:
            return None
        return self.customer_id, f"revision:{self.position}"

    __table_args__ = (Index("ix_revisions_customer_at", "customer_id", "at", "position"),)


class Counter(ProfileBase):
    """Named counters (daily customer sequence, feed position), incremented under a row lock."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class OutboxEvent(ProfileBase):
    """The audit event of a committed change, until the central log has recorded it (outbox.py)."""

    __tablename__ = "audit_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # An auth.v1.AuditEvent, serialized.
    event: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
