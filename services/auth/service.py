"""Identities and sessions: org units, roles, users, login, TOTP, refresh tokens.

Functions that must keep what they recorded even when they refuse (failed-login counters,
revoked token families) return `Denied(error)` instead of raising, so the caller's unit of
work commits before the error is raised.
"""

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, get_args

import pyotp
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from services.auth import keys, passwords, throttle
from services.auth.models import OrgUnit, RecoveryCode, RefreshToken, Role, SubjectVersion, User
from services.auth.settings import AUDIENCE, AuthSettings
from services.common import vocabulary as v
from services.common.errors import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from services.common.identity import SCOPES, Caller

FIELD_GROUPS = get_args(v.FieldGroup)
FIELD_RULES = get_args(v.FieldRule)
ORG_UNIT_KINDS = get_args(v.OrgUnitKind)
USER_STATUSES = ("active", "disabled")
RECOVERY_CODE_COUNT = 10
# The one answer to a wrong employee id, a wrong password or a disabled account.
BAD_CREDENTIALS = "the employee ID or password is incorrect"
# The one answer of a password change by employee ID to any wrong credential.
BAD_CREDENTIALS_OR_CODE = "the employee ID, password or verification code is incorrect"
# Longest credentials worth checking: no stored password is longer (the policy's maximum).
MAX_CODE_LENGTH = 32

_EMPLOYEE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ROLE_NAME = re.compile(v.ROLE_NAME)
_ORG_UNIT_ID = re.compile(v.ORG_UNIT_ID)
_PLAIN_TEXT = re.compile(v.PLAIN_TEXT)
PERMISSION = re.compile(v.PERMISSION)


@dataclass(frozen=True)
class Tokens:
    """An access token and, for users, a refresh token."""

    access_token: str
    expires_in: int
    refresh_token: str = ""
    refresh_expires_in: int = 0


@dataclass(frozen=True)
class Challenge:
    """The step a user must take before getting tokens."""

    kind: str
    setup_token: str = ""
    setup_token_expires_in: int = 0
    totp_secret: str = ""
    totp_provisioning_uri: str = ""


@dataclass(frozen=True)
class Denied:
    """A refusal whose bookkeeping must be committed before the error is raised; `action`
    names the audit action when it is not the call's own (e.g. auth.refresh_reuse)."""

    error: DomainError
    action: str = ""


def digest(secret: str) -> str:
    """SHA-256 hex of a high-entropy secret (refresh tokens, recovery codes)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# --- org units -------------------------------------------------------------------------------


def create_org_unit(
    *, session: Session, name: str, kind: str, parent_id: str = "", org_unit_id: str = "", now: datetime
) -> OrgUnit:
    """Add a node to the organisation tree."""
    problems = []
    name = name.strip()
    if not name or len(name) > 100:
        problems.append(FieldViolation("name", "give a name of 1 to 100 characters"))
    elif not _PLAIN_TEXT.match(name):
        problems.append(FieldViolation("name", "must not contain control characters"))
    if kind not in ORG_UNIT_KINDS:
        problems.append(FieldViolation("kind", f"must be one of {', '.join(ORG_UNIT_KINDS)}"))
    if org_unit_id and not _ORG_UNIT_ID.match(org_unit_id):
        problems.append(FieldViolation("id", "use 1 to 64 lower-case letters, digits, '-' or '_'"))
    if parent_id and session.get(OrgUnit, parent_id) is None:
        problems.append(FieldViolation("parent_id", f"no org unit {parent_id!r}"))
    if problems:
        raise InvalidArgument("the org unit is invalid", problems)
    org_unit_id = org_unit_id or f"ou-{secrets.token_hex(4)}"
    if session.get(OrgUnit, org_unit_id) is not None:
        raise AlreadyExists(f"org unit {org_unit_id!r} already exists")
    unit = OrgUnit(id=org_unit_id, name=name, kind=kind, parent_id=parent_id or None, created_at=now)
    session.add(unit)
    session.flush()
    return unit


def list_org_units(*, session: Session) -> list[OrgUnit]:
    """Every org unit, parents before children of the same creation time."""
    return list(session.scalars(select(OrgUnit).order_by(OrgUnit.created_at, OrgUnit.id)))


# --- roles -----------------------------------------------------------------------------------


def _description_violations(description: str) -> list[FieldViolation]:
    if not _PLAIN_TEXT.match(description):
        return [FieldViolation("description", "must not contain control characters")]
    return []


def _role_violations(permissions: list[str], scope: str, field_rules: dict[str, str]) -> list[FieldViolation]:
    problems = [
        FieldViolation(f"permissions.{i}", "write a permission as resource:action, e.g. customer:read")
        for i, p in enumerate(permissions)
        if not PERMISSION.match(p)
    ]
    if scope not in SCOPES:
        problems.append(FieldViolation("scope", f"must be one of {', '.join(SCOPES)}"))
    for group, rule in field_rules.items():
        if group not in FIELD_GROUPS:
            problems.append(FieldViolation(f"field_rules.{group}", f"unknown field group {group!r}"))
        elif rule not in FIELD_RULES:
            problems.append(
                FieldViolation(f"field_rules.{group}", f"must be one of {', '.join(FIELD_RULES)}")
            )
    return problems


def create_role(
    *,
    session: Session,
    name: str,
    description: str,
    permissions: list[str],
    scope: str,
    field_rules: dict[str, str],
    now: datetime,
) -> Role:
    """Add a custom role."""
    problems = _role_violations(permissions, scope, field_rules) + _description_violations(description)
    if not _ROLE_NAME.match(name):
        problems.insert(0, FieldViolation("name", "use 2 to 64 lower-case letters, digits, '-' or '_'"))
    if problems:
        raise InvalidArgument("the role is invalid", problems)
    if session.get(Role, name) is not None:
        raise AlreadyExists(f"role {name!r} already exists")
    role = Role(
        name=name,
        description=description.strip()[:500],
        permissions=sorted(set(permissions)),
        scope=scope,
        field_rules=dict(field_rules),
        builtin=False,
        created_at=now,
        updated_at=now,
    )
    session.add(role)
    session.flush()
    return role


def list_roles(*, session: Session) -> list[Role]:
    """Every role by name."""
    return list(session.scalars(select(Role).order_by(Role.name)))


def update_role(
    *, session: Session, name: str, patch: dict[str, Any], paths: list[str], now: datetime
) -> Role:
    """Change a role's description, permissions, scope or field rules."""
    role = session.get(Role, name, with_for_update=True)
    if role is None:
        raise NotFound(f"no role {name!r}")
    if name == "admin":
        raise FailedPrecondition("the admin role cannot be changed")
    allowed = {"description", "permissions", "scope", "field_rules"}
    unknown = [p for p in paths if p not in allowed]
    if unknown or not paths:
        raise InvalidArgument(
            "the update mask is invalid",
            [FieldViolation("update_mask", f"give paths among {', '.join(sorted(allowed))}")],
        )
    permissions = list(patch.get("permissions", [])) if "permissions" in paths else role.permissions
    scope = str(patch.get("scope", "")) if "scope" in paths else role.scope
    rules = dict(patch.get("field_rules", {})) if "field_rules" in paths else role.field_rules
    problems = _role_violations(permissions, scope, rules)
    if "description" in paths:
        problems += _description_violations(str(patch.get("description", "")))
    if problems:
        raise InvalidArgument("the role is invalid", problems)
    if "description" in paths:
        role.description = str(patch.get("description", "")).strip()[:500]
    granted = (sorted(set(permissions)), scope, rules)
    if granted != (role.permissions, role.scope, role.field_rules):
        # Tokens carry what the role granted: its holders' live ones are revoked (they refresh).
        for holder in session.scalars(select(User)):
            if name in holder.roles:
                bump_version(session=session, kind="user", subject=holder.employee_id, now=now)
    role.permissions, role.scope, role.field_rules = granted
    role.updated_at = now
    session.flush()
    return role


def require_admin(*, session: Session, caller: Caller) -> None:
    """PermissionDenied unless one of the caller's roles grants administration."""
    if caller.kind == "user" and caller.roles:
        for role in session.scalars(select(Role).where(Role.name.in_(caller.roles))):
            if "*" in role.permissions or "admin:*" in role.permissions:
                return
    raise PermissionDenied("this needs the admin role")


@dataclass(frozen=True)
class Policy:
    """What a set of roles grants together."""

    permissions: tuple[str, ...]
    scope: str
    hidden_fields: tuple[str, ...]
    masked_fields: tuple[str, ...]


def policy_of(*, session: Session, role_names: list[str]) -> Policy:
    """The union of the roles: every permission, the widest scope, the most visible field rule."""
    roles = list(session.scalars(select(Role).where(Role.name.in_(role_names)))) if role_names else []
    permissions = sorted({p for role in roles for p in role.permissions})
    scope = max((role.scope for role in roles), key=SCOPES.index, default="own")
    hidden, masked = [], []
    for group in FIELD_GROUPS:
        # Groups a role does not mention are hidden by it: least privilege by default.
        best = min((FIELD_RULES.index(r.field_rules.get(group, "hidden")) for r in roles), default=2)
        if FIELD_RULES[best] == "hidden":
            hidden.append(group)
        elif FIELD_RULES[best] == "masked":
            masked.append(group)
    return Policy(tuple(permissions), scope, tuple(hidden), tuple(masked))


# --- users -----------------------------------------------------------------------------------


def get_user_or_raise(*, session: Session, employee_id: str, for_update: bool = False) -> User:
    """The user, or NotFound."""
    user = session.get(User, employee_id, with_for_update=for_update)
    if user is None:
        raise NotFound(f"no user {employee_id!r}")
    return user


def _check_user_refs(session: Session, org_unit_id: str | None, roles: list[str]) -> list[FieldViolation]:
    problems = []
    if org_unit_id and session.get(OrgUnit, org_unit_id) is None:
        problems.append(FieldViolation("org_unit_id", f"no org unit {org_unit_id!r}"))
    known = set(session.scalars(select(Role.name).where(Role.name.in_(roles)))) if roles else set()
    problems += [
        FieldViolation(f"roles.{i}", f"no role {name!r}") for i, name in enumerate(roles) if name not in known
    ]
    return problems


def create_user(
    *,
    session: Session,
    settings: AuthSettings,
    employee_id: str,
    display_name: str,
    org_unit_id: str = "",
    roles: list[str],
    now: datetime,
) -> tuple[User, str]:
    """Add a user with a generated one-time password (returned once, changed at first login)."""
    employee_id, display_name = employee_id.strip(), display_name.strip()
    problems = []
    if not _EMPLOYEE_ID.match(employee_id):
        problems.append(FieldViolation("employee_id", "use 1 to 64 letters, digits, '.', '-' or '_'"))
    if not display_name or len(display_name) > 100:
        problems.append(FieldViolation("display_name", "give a name of 1 to 100 characters"))
    elif not _PLAIN_TEXT.match(display_name):
        problems.append(FieldViolation("display_name", "must not contain control characters"))
    problems += _check_user_refs(session, org_unit_id, roles)
    if problems:
        raise InvalidArgument("the user is invalid", problems)
    if session.get(User, employee_id) is not None:
        raise AlreadyExists(f"user {employee_id!r} already exists")
    password = passwords.generate(employee_id=employee_id)
    user = User(
        employee_id=employee_id,
        display_name=display_name,
        org_unit_id=org_unit_id or None,
        roles=list(dict.fromkeys(roles)),
        status="active",
        password_hash=passwords.hash_secret(password, settings=settings),
        must_change_password=True,
        totp_enrolled=False,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    return user, password


def list_users(
    *, session: Session, page_size: int, page_token: str = "", org_unit_id: str = ""
) -> tuple[list[User], str]:
    """A page of users by employee id, and the token of the next page ("" at the end)."""
    size = 50 if page_size <= 0 else min(page_size, 200)
    query = select(User).order_by(User.employee_id).limit(size + 1)
    if page_token:
        try:
            after = base64.urlsafe_b64decode(page_token.encode("ascii")).decode("utf-8")
        except (ValueError, UnicodeError):
            raise InvalidArgument(
                "the page token is invalid",
                [FieldViolation("page.page_token", "not a token this API issued")],
            ) from None
        query = query.where(User.employee_id > after)
    if org_unit_id:
        query = query.where(User.org_unit_id == org_unit_id)
    rows = list(session.scalars(query))
    if len(rows) <= size:
        return rows, ""
    rows = rows[:size]
    return rows, base64.urlsafe_b64encode(rows[-1].employee_id.encode("utf-8")).decode("ascii")


def update_user(
    *,
    session: Session,
    caller: Caller,
    employee_id: str,
    patch: dict[str, Any],
    paths: list[str],
    now: datetime,
) -> User:
    """Change a user's name, org unit, roles or status; disabling ends their sessions."""
    user = get_user_or_raise(session=session, employee_id=employee_id, for_update=True)
    allowed = {"display_name", "org_unit_id", "roles", "status"}
    if not paths or any(p not in allowed for p in paths):
        raise InvalidArgument(
            "the update mask is invalid",
            [FieldViolation("update_mask", f"give paths among {', '.join(sorted(allowed))}")],
        )
    org_unit_id = str(patch.get("org_unit_id") or "") if "org_unit_id" in paths else user.org_unit_id
    roles = list(dict.fromkeys(patch.get("roles", []))) if "roles" in paths else list(user.roles)
    status = str(patch.get("status", "")) if "status" in paths else user.status
    name = str(patch.get("display_name", "")).strip() if "display_name" in paths else user.display_name
    problems = _check_user_refs(session, org_unit_id, roles if "roles" in paths else [])
    if status not in USER_STATUSES:
        problems.append(FieldViolation("status", f"must be one of {', '.join(USER_STATUSES)}"))
    if not name or len(name) > 100:
        problems.append(FieldViolation("display_name", "give a name of 1 to 100 characters"))
    elif not _PLAIN_TEXT.match(name):
        problems.append(FieldViolation("display_name", "must not contain control characters"))
    if problems:
        raise InvalidArgument("the user is invalid", problems)
    if employee_id == caller.id and (status != "active" or "admin" not in roles) and "admin" in user.roles:
        raise FailedPrecondition("administrators cannot disable themselves or drop their own admin role")
    if status == "disabled" and user.status != "disabled":
        revoke_sessions(session=session, employee_id=employee_id, now=now)
    if (org_unit_id or None, roles, status) != (user.org_unit_id, list(user.roles), user.status):
        # What the user's tokens say no longer holds: they stop working within seconds.
        bump_version(session=session, kind="user", subject=employee_id, now=now)
    user.display_name, user.org_unit_id, user.roles, user.status = name, org_unit_id or None, roles, status
    user.updated_at = now
    session.flush()
    return user


def reset_password(
    *, session: Session, settings: AuthSettings, employee_id: str, reset_totp: bool, now: datetime
) -> str:
    """Give the user a one-time password (changed at next login), end sessions, lift the lock."""
    user = get_user_or_raise(session=session, employee_id=employee_id, for_update=True)
    password = passwords.generate(employee_id=employee_id)
    user.password_hash = passwords.hash_secret(password, settings=settings)
    user.must_change_password = True
    if reset_totp:
        user.totp_secret, user.totp_enrolled, user.totp_last_step = None, False, None
        session.execute(delete(RecoveryCode).where(RecoveryCode.employee_id == employee_id))
    user.updated_at = now
    revoke_sessions(session=session, employee_id=employee_id, now=now)
    bump_version(session=session, kind="user", subject=employee_id, now=now)
    throttle.unlock(session=session, employee_id=employee_id)
    session.flush()
    return password


def unlock_user(*, session: Session, employee_id: str) -> User:
    """Lift every login delay of the user."""
    user = get_user_or_raise(session=session, employee_id=employee_id)
    throttle.unlock(session=session, employee_id=employee_id)
    return user


def locked_until(*, session: Session, employee_id: str, now: datetime) -> datetime | None:
    """When the user's delay for attempts from unfamiliar addresses ends, if one is running."""
    return throttle.locked_until(session=session, employee_id=employee_id, now=now)


# --- login -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """Who tries to log in from where, and the throttle scores the attempt counts against."""

    employee_id: str
    source: str
    keys: list[throttle.Key]


def _attempt(
    session: Session, settings: AuthSettings, employee_id: str, source: str, now: datetime
) -> Attempt:
    """The attempt, refused at once (Throttled, nothing hashed) while one of its delays runs."""
    keys = throttle.keys_for(
        session=session, settings=settings, employee_id=employee_id, source=source, now=now
    )
    throttle.check(session=session, keys=keys, now=now)
    return Attempt(employee_id, source, keys)


def _fail(session: Session, settings: AuthSettings, attempt: Attempt, now: datetime, message: str) -> Denied:
    """Count a failed attempt against the account and the address; the refusal to raise."""
    throttle.fail(session=session, settings=settings, keys=attempt.keys, now=now)
    return Denied(Unauthenticated(message))


def _succeeded(session: Session, attempt: Attempt, now: datetime) -> None:
    throttle.succeed(
        session=session, employee_id=attempt.employee_id, source=attempt.source, keys=attempt.keys, now=now
    )


@dataclass(frozen=True)
class PasswordCheck:
    """A password checked outside any transaction, against the hash it was read with."""

    employee_id: str
    stored_hash: str | None
    matches: bool


def read_password_hash(
    *, session: Session, settings: AuthSettings, employee_id: str, source: str = "", now: datetime
) -> str | None:
    """The first, read-only half of a password check: Throttled while a delay runs (nothing is
    hashed then); else the stored hash (None for an unknown id) to check outside any transaction.

    On SQLite a write transaction holds the database's only write lock: a hash made inside one
    would make every login, and every audit event of every service, wait for it.
    """
    _attempt(session, settings, employee_id, source, now)
    user = session.get(User, employee_id)
    return user.password_hash if user is not None else None


def check_password(
    *, settings: AuthSettings, employee_id: str, stored_hash: str | None, password: str
) -> PasswordCheck:
    """Hash the password against what read_password_hash found (an unknown id costs a dummy hash)."""
    return PasswordCheck(employee_id, stored_hash, passwords.verify(stored_hash, password, settings=settings))


def _check_credentials(
    session: Session,
    settings: AuthSettings,
    attempt: Attempt,
    password: str,
    now: datetime,
    message: str,
    checked: PasswordCheck | None = None,
) -> User | Denied:
    """The active user with this password, or a counted refusal that does not say which was wrong.

    `checked` is the password already checked outside the transaction; it counts while the hash
    it was checked against is still the stored one, else the password is checked again here.
    """
    user = session.get(User, attempt.employee_id, with_for_update=True)
    stored = user.password_hash if user is not None else None
    if checked is not None and (checked.employee_id, checked.stored_hash) == (attempt.employee_id, stored):
        good = checked.matches
    else:
        # An unknown id still costs one hash, so timing does not tell which ids exist.
        good = passwords.verify(stored, password, settings=settings)
    if user is None or not good or user.status != "active":
        return _fail(session, settings, attempt, now, message)
    if passwords.needs_rehash(user.password_hash, settings=settings):
        user.password_hash = passwords.hash_secret(password, settings=settings)
    return user


def _required(**fields: str) -> None:
    missing = [FieldViolation(name, "is required") for name, value in fields.items() if not value]
    if missing:
        raise InvalidArgument("required fields are missing", missing)


def check_credential_shapes(*, employee_id: str = "", password: str = "", totp_code: str = "") -> None:
    """InvalidArgument for credentials no account can have (checked before anything is hashed)."""
    problems = []
    if employee_id and not _EMPLOYEE_ID.match(employee_id):
        problems.append(FieldViolation("employee_id", "use 1 to 64 letters, digits, '.', '-' or '_'"))
    if len(password) > passwords.MAX_LENGTH:
        problems.append(FieldViolation("password", f"must be at most {passwords.MAX_LENGTH} characters"))
    if len(totp_code) > MAX_CODE_LENGTH:
        problems.append(FieldViolation("totp_code", f"must be at most {MAX_CODE_LENGTH} characters"))
    if problems:
        raise InvalidArgument("the credentials are malformed", problems)


def login(
    *,
    session: Session,
    settings: AuthSettings,
    employee_id: str,
    password: str,
    totp_code: str = "",
    source: str = "",
    checked: PasswordCheck | None = None,
    now: datetime,
) -> Tokens | Challenge | Denied:
    """Check password and second factor: tokens, the next first-login step, or a refusal.

    `source` is the client's address: failures from addresses the user logged in from before
    are counted apart (see throttle.py). `checked`: the password as checked by
    prepare_login's caller outside the transaction.
    """
    employee_id = check_login_shapes(employee_id=employee_id, password=password, totp_code=totp_code)
    attempt = _attempt(session, settings, employee_id, source, now)
    user = _check_credentials(session, settings, attempt, password, now, BAD_CREDENTIALS, checked)
    if isinstance(user, Denied):
        return user
    if user.must_change_password:
        return _setup_challenge(session, settings, user, "password_change_required", now)
    if not user.totp_enrolled:
        return _enrolment_challenge(session, settings, user, now)
    # The failure score is kept until the second factor passes, so it throttles code guessing too.
    if not totp_code.strip():
        return Challenge(kind="totp_required")
    if not _second_factor(session, user, totp_code, now):
        return _fail(
            session, settings, attempt, now, "the verification code is incorrect or was already used"
        )
    _succeeded(session, attempt, now)
    return _start_session(session, settings, user, now)


def check_login_shapes(*, employee_id: str, password: str, totp_code: str) -> str:
    """The employee id to log in, once the credentials are present and well-formed."""
    employee_id = employee_id.strip()
    _required(employee_id=employee_id, password=password)
    check_credential_shapes(employee_id=employee_id, password=password, totp_code=totp_code)
    return employee_id


def _setup_challenge(
    session: Session, settings: AuthSettings, user: User, kind: str, now: datetime
) -> Challenge:
    token = keys.issue_setup_token(session=session, settings=settings, employee_id=user.employee_id, now=now)
    return Challenge(kind=kind, setup_token=token, setup_token_expires_in=settings.setup_token_ttl_seconds)


def _new_totp_secret(settings: AuthSettings, user: User) -> tuple[str, str]:
    secret = pyotp.random_base32()
    user.totp_secret, user.totp_enrolled, user.totp_last_step = secret, False, None
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.employee_id, issuer_name=settings.totp_issuer)
    return secret, uri


def _enrolment_challenge(session: Session, settings: AuthSettings, user: User, now: datetime) -> Challenge:
    challenge = _setup_challenge(session, settings, user, "totp_enrollment_required", now)
    secret, uri = _new_totp_secret(settings, user)
    return Challenge(
        kind=challenge.kind,
        setup_token=challenge.setup_token,
        setup_token_expires_in=challenge.setup_token_expires_in,
        totp_secret=secret,
        totp_provisioning_uri=uri,
    )


def _totp_matches(user: User, code: str, now: datetime) -> bool:
    """Whether code is the TOTP of the step before, at or after now, and newer than the last used."""
    if not user.totp_secret or not re.fullmatch(r"\d{6}", code):
        return False
    totp = pyotp.TOTP(user.totp_secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False  # replayed: each code (and anything older) works once
            user.totp_last_step = step
            return True
    return False


def _second_factor(session: Session, user: User, code: str, now: datetime) -> bool:
    """Accept a fresh TOTP code or an unused recovery code (which is then used up)."""
    code = code.strip().replace(" ", "")
    if re.fullmatch(r"\d{6}", code):
        return _totp_matches(user, code, now)
    row = session.get(RecoveryCode, digest(code.lower().replace("-", "")), with_for_update=True)
    if row is None or row.employee_id != user.employee_id or row.used_at is not None:
        return False
    row.used_at = now
    return True


def change_password(
    *,
    session: Session,
    settings: AuthSettings,
    setup_token: str = "",
    employee_id: str = "",
    current_password: str,
    new_password: str,
    totp_code: str = "",
    source: str = "",
    checked: PasswordCheck | None = None,
    now: datetime,
) -> Challenge | None | Denied:
    """Replace the password (ending every session); the enrolment challenge when TOTP comes next.

    Without a setup token the second factor is required too, and a wrong password and a wrong
    code get the same answer: the call is no oracle for the password. The new password's policy
    is checked before the current one, so its answer says nothing about the current one either.
    """
    by_token = bool(setup_token)
    employee_id = password_change_subject(
        session=session,
        settings=settings,
        setup_token=setup_token,
        employee_id=employee_id,
        current_password=current_password,
        new_password=new_password,
        totp_code=totp_code,
        now=now,
    )
    attempt = _attempt(session, settings, employee_id, source, now)
    message = BAD_CREDENTIALS if by_token else BAD_CREDENTIALS_OR_CODE
    user = _check_credentials(session, settings, attempt, current_password, now, message, checked)
    if isinstance(user, Denied):
        return user
    if not by_token and not (user.totp_enrolled and _second_factor(session, user, totp_code, now)):
        return _fail(session, settings, attempt, now, message)
    if new_password == current_password:
        raise InvalidArgument(
            "the new password must differ from the current one",
            [FieldViolation("new_password", "the password must differ from the current one")],
        )
    user.password_hash = passwords.hash_secret(new_password, settings=settings)
    user.must_change_password = False
    user.updated_at = now
    revoke_sessions(session=session, employee_id=employee_id, now=now)
    bump_version(session=session, kind="user", subject=employee_id, now=now)
    throttle.unlock(session=session, employee_id=employee_id)
    session.flush()
    if not user.totp_enrolled:
        return _enrolment_challenge(session, settings, user, now)
    return None


def password_change_subject(
    *,
    session: Session,
    settings: AuthSettings,
    setup_token: str,
    employee_id: str,
    current_password: str,
    new_password: str,
    totp_code: str,
    now: datetime,
) -> str:
    """Whose password a change is for, once everything but the credentials themselves checks out
    (the setup token, required fields, shapes, the new password's policy)."""
    if setup_token:
        employee_id = keys.read_setup_token(session=session, settings=settings, token=setup_token, now=now)
    employee_id = employee_id.strip()
    _required(employee_id=employee_id, current_password=current_password, new_password=new_password)
    if not setup_token:
        _required(totp_code=totp_code.strip())
    check_credential_shapes(employee_id=employee_id, totp_code=totp_code)
    passwords.check_policy(new_password, employee_id=employee_id)
    if len(current_password) > passwords.MAX_LENGTH:
        raise InvalidArgument(
            "the credentials are malformed",
            [FieldViolation("current_password", f"must be at most {passwords.MAX_LENGTH} characters")],
        )
    return employee_id


def _setup_user(session: Session, settings: AuthSettings, setup_token: str, now: datetime) -> User:
    _required(setup_token=setup_token)
    employee_id = keys.read_setup_token(session=session, settings=settings, token=setup_token, now=now)
    user = session.get(User, employee_id, with_for_update=True)
    if user is None or user.status != "active":
        raise Unauthenticated("the setup token is no longer valid")
    if user.must_change_password:
        raise FailedPrecondition("change the initial password first")
    if user.totp_enrolled:
        raise FailedPrecondition("TOTP is already enrolled; an administrator can reset it")
    return user


def enroll_totp(
    *, session: Session, settings: AuthSettings, setup_token: str, now: datetime
) -> tuple[str, str]:
    """Start enrolment over with a new secret: (base32 secret, otpauth:// URI), shown once."""
    user = _setup_user(session, settings, setup_token, now)
    secret, uri = _new_totp_secret(settings, user)
    user.updated_at = now
    session.flush()
    return secret, uri


def verify_totp(
    *,
    session: Session,
    settings: AuthSettings,
    setup_token: str,
    totp_code: str,
    source: str = "",
    now: datetime,
) -> tuple[list[str], Tokens]:
    """Complete enrolment with a first code: fresh recovery codes (shown once) and a session."""
    user = _setup_user(session, settings, setup_token, now)
    if not user.totp_secret:
        raise FailedPrecondition("start TOTP enrolment first")
    check_credential_shapes(totp_code=totp_code)
    if not _totp_matches(user, totp_code.strip().replace(" ", ""), now):
        raise InvalidArgument(
            "the verification code does not match",
            [FieldViolation("totp_code", "the code does not match; check the authenticator app's clock")],
        )
    user.totp_enrolled = True
    user.updated_at = now
    codes = replace_recovery_codes(session=session, employee_id=user.employee_id)
    keys_ = throttle.keys_for(
        session=session, settings=settings, employee_id=user.employee_id, source=source, now=now
    )
    _succeeded(session, Attempt(user.employee_id, source, keys_), now)
    return codes, _start_session(session, settings, user, now)


def replace_recovery_codes(*, session: Session, employee_id: str) -> list[str]:
    """Forget the user's recovery codes and make ten new ones (returned, stored hashed)."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.employee_id == employee_id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = secrets.token_hex(5)
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(code_hash=digest(raw), employee_id=employee_id))
    session.flush()
    return codes


# --- tokens and sessions ---------------------------------------------------------------------


def bump_version(*, session: Session, kind: str, subject: str, now: datetime) -> int:
    """Revoke every token of the subject signed so far (published by ListRevocations); the new version."""
    row = session.get(SubjectVersion, (kind, subject), with_for_update=True)
    if row is None:
        row = SubjectVersion(kind=kind, subject=subject, version=0, changed_at=now)
        session.add(row)
    row.version += 1
    row.changed_at = now
    session.flush()
    return row.version


def current_version(*, session: Session, kind: str, subject: str) -> int:
    """The subject's session version, which new tokens carry as their "sv" claim."""
    row = session.get(SubjectVersion, (kind, subject))
    return row.version if row is not None else 0


def list_revocations(
    *, session: Session, settings: AuthSettings, now: datetime
) -> tuple[list[SubjectVersion], list[str]]:
    """Subject versions and ended sessions that may still have unexpired access tokens."""
    # Tokens live their TTL, and verifiers accept them for their leeway (30 s) beyond.
    since = now - timedelta(seconds=settings.access_token_ttl_seconds + keys.LEEWAY_SECONDS + 30)
    subjects = list(
        session.scalars(
            select(SubjectVersion).where(SubjectVersion.changed_at > since).order_by(SubjectVersion.subject)
        )
    )
    families = list(
        session.scalars(
            select(RefreshToken.family_id)
            .where(RefreshToken.revoked_at > since)
            .distinct()
            .order_by(RefreshToken.family_id)
        )
    )
    return subjects, families


def access_claims(
    *, session: Session, settings: AuthSettings, user: User, now: datetime, session_id: str = ""
) -> dict[str, Any]:
    """The claims of a user's access token, from their roles as they are now."""
    policy = policy_of(session=session, role_names=list(user.roles))
    teammates: list[str] = []
    if policy.scope == "team" and user.org_unit_id:
        teammates = list(
            session.scalars(
                select(User.employee_id)
                .where(User.org_unit_id == user.org_unit_id, User.employee_id != user.employee_id)
                .where(User.status == "active")
                .order_by(User.employee_id)
            )
        )
    claims = keys.base_claims(
        settings=settings,
        subject=user.employee_id,
        audience=AUDIENCE,
        ttl_seconds=settings.access_token_ttl_seconds,
        now=now,
    )
    claims.update(
        kind="user",
        name=user.display_name,
        roles=list(user.roles),
        permissions=list(policy.permissions),
        scope=policy.scope,
        org_unit=user.org_unit_id or "",
        teammates=teammates,
        hidden_fields=list(policy.hidden_fields),
        masked_fields=list(policy.masked_fields),
        sv=current_version(session=session, kind="user", subject=user.employee_id),
    )
    if session_id:
        claims["sid"] = session_id
    return claims


def _start_session(
    session: Session, settings: AuthSettings, user: User, now: datetime, family_id: str = ""
) -> Tokens:
    family_id = family_id or uuid.uuid4().hex
    claims = access_claims(session=session, settings=settings, user=user, now=now, session_id=family_id)
    access = keys.sign(session=session, claims=claims, now=now)
    refresh = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            token_hash=digest(refresh),
            family_id=family_id,
            employee_id=user.employee_id,
            issued_at=now,
            expires_at=now + timedelta(seconds=settings.refresh_token_ttl_seconds),
        )
    )
    session.flush()
    return Tokens(
        access_token=access,
        expires_in=settings.access_token_ttl_seconds,
        refresh_token=refresh,
        refresh_expires_in=settings.refresh_token_ttl_seconds,
    )


def _revoke_family(session: Session, family_id: str, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_sessions(*, session: Session, employee_id: str, now: datetime) -> None:
    """End every session of the user."""
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.employee_id == employee_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def refresh(
    *, session: Session, settings: AuthSettings, refresh_token: str, now: datetime
) -> Tokens | Denied:
    """Rotate a refresh token; presenting an already rotated one ends its whole session."""
    _required(refresh_token=refresh_token)
    if len(refresh_token) > 512:
        raise InvalidArgument(
            "the refresh token is malformed",
            [FieldViolation("refresh_token", "must be at most 512 characters")],
        )
    row = session.get(RefreshToken, digest(refresh_token), with_for_update=True)
    if row is None:
        raise Unauthenticated("the refresh token is invalid")
    if row.revoked_at is not None:
        raise Unauthenticated("the session has ended; log in again")
    if row.rotated_at is not None:
        # Only one of two holders can have been given the newer token: one of them stole it.
        _revoke_family(session, row.family_id, now)
        return Denied(
            Unauthenticated("the refresh token was already used; the session has been ended"),
            action="auth.refresh_reuse",
        )
    if row.expires_at <= now:
        raise Unauthenticated("the refresh token has expired; log in again")
    user = session.get(User, row.employee_id)
    if user is None or user.status != "active":
        _revoke_family(session, row.family_id, now)
        return Denied(Unauthenticated("the session has ended; log in again"))
    row.rotated_at = now
    return _start_session(session, settings, user, now, family_id=row.family_id)


def session_owner(*, session: Session, refresh_token: str) -> str:
    """The employee id a refresh token was issued to, or "" for a token we never issued."""
    if not refresh_token or len(refresh_token) > 512:
        return ""
    row = session.get(RefreshToken, digest(refresh_token))
    return row.employee_id if row is not None else ""


def logout(*, session: Session, refresh_token: str, now: datetime) -> None:
    """End the session the refresh token belongs to (unknown tokens are ignored); its access
    tokens are published as revoked."""
    row = session.get(RefreshToken, digest(refresh_token)) if refresh_token else None
    if row is not None:
        _revoke_family(session, row.family_id, now)
