"""Tables owned by the auth service. Times are UTC."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import UTCDateTime


class AuthBase(DeclarativeBase):
    """The auth service's own metadata."""


class OrgUnit(AuthBase):
    """A node of the organisation tree: company -> region -> team."""

    __tablename__ = "org_units"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Role(AuthBase):
    """A named set of permissions, a record scope and field-group rules."""

    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    scope: Mapped[str] = mapped_column(String(10))
    # field group -> visible | masked | hidden
    field_rules: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class User(AuthBase):
    """An employee who logs in to the portal."""

    __tablename__ = "users"

    employee_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(100))
    org_unit_id: Mapped[str | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(10), default="active")
    password_hash: Mapped[str] = mapped_column(String(200))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    # Base32 TOTP secret, pending until totp_enrolled. Stored as is for now: issue 6 wraps it
    # with the key provider like every other secret at rest.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enrolled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginFailure(AuthBase):
    """A decaying score of failed attempts for one key in one context, and the delay it earned.

    Keys are "user:<employee id as typed>" (whether or not the id exists, so delays reveal
    nothing about which ids exist) and "ip:<address>". An account's attempts from an address it
    has completed a login from before (see LoginContext) are counted in a context of their own
    ("src:<address>"), so strangers' failures never delay its owner there; every other attempt
    shares the context "*". The score leaks one failure per `lockout_decay_seconds`.
    """

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(140), primary_key=True)
    context: Mapped[str] = mapped_column(String(140), primary_key=True)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # No attempt in this context is checked before then (each is refused at once, uncounted).
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginContext(AuthBase):
    """An address a user completed a login from (password and second factor): familiar to them."""

    __tablename__ = "login_contexts"

    employee_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_success_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SubjectVersion(AuthBase):
    """The session version of a user or API client: tokens signed with a lower one are revoked.

    Bumped when the subject is disabled, its roles or org unit change, or its password is
    changed or reset; published (while such tokens may still be alive) by ListRevocations.
    """

    __tablename__ = "subject_versions"

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    subject: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class RecoveryCode(AuthBase):
    """A single-use code accepted instead of a TOTP code; only its SHA-256 is kept."""

    __tablename__ = "recovery_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    employee_id: Mapped[str] = mapped_column(ForeignKey("users.employee_id"), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RefreshToken(AuthBase):
    """One refresh token of a login session (family); only its SHA-256 is kept."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(32), index=True)
    employee_id: Mapped[str] = mapped_column(ForeignKey("users.employee_id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when traded for a new token; presenting it again means it was stolen.
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Ended sessions are published to verifiers while their access tokens may be alive.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class SigningKey(AuthBase):
    """An Ed25519 key pair signing tokens; the newest active one signs.

    The private key is stored as unencrypted PKCS#8 PEM for now: issue 6 wraps it with the
    key provider (Vault in production, a local key file embedded).
    """

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    private_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Set when a newer key took over; the public key stays published until its tokens expire.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiClient(AuthBase):
    """A partner system using OAuth2 client credentials."""

    __tablename__ = "api_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(String(200))
    # The secret before the last rotation, valid until previous_secret_expires_at.
    previous_secret_hash: Mapped[str | None] = mapped_column(String(200))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    rate_limit_per_minute: Mapped[int] = mapped_column(Integer)
    ip_allowlist: Mapped[list[str]] = mapped_column(JSON, default=list)
    record_scope: Mapped[str] = mapped_column(String(10), default="own")
    status: Mapped[str] = mapped_column(String(10), default="active")
    # partner | service (a platform service's own client: its tokens are of kind "service").
    kind: Mapped[str] = mapped_column(String(10), default="partner")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditHead(AuthBase):
    """The audit log's chain head: the last seq and hash, one row, locked by every append.

    Updating it first in the recording transaction serialises recorders, so seqs are gap-free,
    in commit order, and each event chains to the one committed before it.
    """

    __tablename__ = "audit_head"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditEvent(AuthBase):
    """One audited action from any service; append-only and chained to the previous by hash.

    Nothing in the code updates or deletes these rows. Production should also revoke UPDATE and
    DELETE on audit_events (and on audit_head, apart from UPDATE) from the service's database
    role: see docs/audit.md.
    """

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(128), index=True)
    # user | client | service | anonymous
    actor_kind: Mapped[str] = mapped_column(String(20))
    # The client's address, or the service the request came through.
    source: Mapped[str] = mapped_column(String(128))
    # The service that recorded the event (its authenticated identity).
    service: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(200), index=True)
    # Names of the fields the action touched.
    fields: Mapped[list[str]] = mapped_column(JSON)
    # success | denied | failed
    outcome: Mapped[str] = mapped_column(String(10))
    trace_id: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    # The anomaly rules count one actor's recent events as each event is recorded.
    __table_args__ = (Index("ix_audit_events_actor_at", "actor", "at"),)


class AuditEventCustomer(AuthBase):
    """One customer an audited read returned: the log is searchable by the customers it showed.

    Written with its event and never changed; the event's hash covers these rows, so removing
    one breaks the chain at that event.
    """

    __tablename__ = "audit_event_customers"

    seq: Mapped[int] = mapped_column(ForeignKey("audit_events.seq"), primary_key=True, autoincrement=False)
    customer_id: Mapped[str] = mapped_column(String(20), primary_key=True)

    # A customer's events, newest first (the access log of a privacy export).
    __table_args__ = (Index("ix_audit_event_customers_customer_seq", "customer_id", "seq"),)


class SecurityAlert(AuthBase):
    """An anomaly seen in the audit stream, kept open until someone acknowledges it."""

    __tablename__ = "security_alerts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # failed_logins | repeated_denials | mass_viewing | off_hours
    kind: Mapped[str] = mapped_column(String(40), index=True)
    actor: Mapped[str] = mapped_column(String(128), index=True)
    summary: Mapped[str] = mapped_column(String(300))
    # The audit events behind it: the first that raised it and the latest that added to it.
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # open | acknowledged
    status: Mapped[str] = mapped_column(String(20), index=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
