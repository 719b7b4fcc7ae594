"""AuthService: translates between protobuf messages and the domain functions."""

import functools
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from crm.auth.v1 import auth_pb2 as pb
from crm.auth.v1 import auth_pb2_grpc
from services.auth import alerts, audit, clients, keys, service, throttle
from services.auth.audit_writer import AuditWriter
from services.auth.models import ApiClient, AuditEvent, OrgUnit, Role, User
from services.auth.settings import AuthSettings
from services.common import identity, telemetry
from services.common.db import Database
from services.common.errors import DomainError, PermissionDenied

T = TypeVar("T")
log = logging.getLogger(__name__)
# The auth service records its own events under its own name.
_AUTH = identity.Caller(id="auth", kind="service")
# Refusals of who the caller is or may do (audited as "denied"; other errors as "failed").
_REFUSALS = frozenset(
    {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.RESOURCE_EXHAUSTED}
)

# Served without a caller identity: the login steps carry their own proof.
PUBLIC_METHODS = frozenset(
    f"/crm.auth.v1.AuthService/{name}"
    for name in (
        "Login",
        "ChangePassword",
        "EnrollTotp",
        "VerifyTotp",
        "Refresh",
        "Logout",
        "IssueClientToken",
        "GetJwks",
        "ListRevocations",
    )
)


@dataclass(frozen=True)
class _Attempt:
    """Who a public step is audited as (as far as the request tells), and from where."""

    actor: str
    actor_kind: str
    target: str
    source: str
    # The details key of a refusal's message.
    detail: str = "reason"


def _answers_throttled(method: Callable[..., Any]) -> Callable[..., Any]:
    """Answer Throttled as RESOURCE_EXHAUSTED with the seconds to wait in "retry-after"."""

    @functools.wraps(method)
    def answer(self: Any, request: Any, context: Any) -> Any:
        try:
            return method(self, request, context)
        except throttle.Throttled as exc:
            context.set_trailing_metadata((("retry-after", str(exc.retry_after)),))
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, exc.message)

    return answer


def _peer_address(context: Any) -> str:
    """The address gRPC saw the call come from ("ipv4:10.0.0.7:5000" -> "10.0.0.7")."""
    try:
        peer = str(context.peer())
    except Exception:  # noqa: BLE001 - an address is a nicety here
        return ""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0][:100]
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]")[:100]
    return peer[:100]


def _alert(alert: Any) -> pb.SecurityAlert:
    reply = pb.SecurityAlert(
        id=alert.id,
        kind=alert.kind,
        actor=alert.actor,
        summary=alert.summary,
        first_seq=alert.first_seq,
        last_seq=alert.last_seq,
        count=alert.count,
        status=alert.status,
        acknowledged_by=alert.acknowledged_by or "",
    )
    reply.raised_at.FromDatetime(alert.raised_at)
    reply.updated_at.FromDatetime(alert.updated_at)
    if alert.acknowledged_at:
        reply.acknowledged_at.FromDatetime(alert.acknowledged_at)
    return reply


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _target(request: Any) -> str:
    """What an admin request acts on, from its first identifying field (e.g. employee_id:S1001)."""
    if request is None:
        return ""
    nested = (getattr(request, f.name) for f in request.DESCRIPTOR.fields if f.message_type is not None)
    messages = [request, *(m for m in nested if isinstance(m, Message))]
    for message in messages:
        for key in ("employee_id", "user_id", "client_id", "role_name", "name", "id"):
            value = getattr(message, key, "") if key in message.DESCRIPTOR.fields_by_name else ""
            if isinstance(value, str) and value:
                # Control characters written out, so an attempt with them is audited as sent
                # and then refused by the validation with its own message.
                return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", f"{key}:{value}")[:200]
    return ""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _accepted(result: T | service.Denied) -> T:
    """The result, or raise the refusal (after the unit of work kept its bookkeeping)."""
    if isinstance(result, service.Denied):
        raise result.error
    return result


def _tokens(tokens: service.Tokens) -> pb.Tokens:
    return pb.Tokens(
        access_token=tokens.access_token,
        token_type="Bearer",
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
        refresh_expires_in=tokens.refresh_expires_in,
    )


def _challenge(challenge: service.Challenge) -> pb.Challenge:
    return pb.Challenge(
        kind=challenge.kind,
        setup_token=challenge.setup_token,
        setup_token_expires_in=challenge.setup_token_expires_in,
        totp_secret=challenge.totp_secret,
        totp_provisioning_uri=challenge.totp_provisioning_uri,
    )


def _user(user: User, locked_until: datetime | None = None) -> pb.User:
    return pb.User(
        employee_id=user.employee_id,
        display_name=user.display_name,
        org_unit_id=user.org_unit_id or "",
        roles=list(user.roles),
        status=user.status,
        must_change_password=user.must_change_password,
        totp_enrolled=user.totp_enrolled,
        locked_until=_timestamp(locked_until),
        created_at=_timestamp(user.created_at),
        updated_at=_timestamp(user.updated_at),
    )


def _role(role: Role) -> pb.Role:
    return pb.Role(
        name=role.name,
        description=role.description,
        permissions=list(role.permissions),
        scope=role.scope,
        field_rules=dict(role.field_rules),
        builtin=role.builtin,
    )


def _org_unit(unit: OrgUnit) -> pb.OrgUnit:
    return pb.OrgUnit(id=unit.id, name=unit.name, parent_id=unit.parent_id or "", kind=unit.kind)


def _client(client: ApiClient) -> pb.ApiClient:
    return pb.ApiClient(
        client_id=client.client_id,
        name=client.name,
        scopes=list(client.scopes),
        rate_limit_per_minute=client.rate_limit_per_minute,
        ip_allowlist=list(client.ip_allowlist),
        status=client.status,
        record_scope=client.record_scope,
        created_at=_timestamp(client.created_at),
        previous_secret_expires_at=_timestamp(client.previous_secret_expires_at),
        kind=client.kind,
    )


def _audit_event(event: AuditEvent, customers: list[str]) -> pb.AuditEvent:
    return pb.AuditEvent(
        seq=event.seq,
        at=_timestamp(event.at),
        actor=event.actor,
        actor_kind=event.actor_kind,
        source=event.source,
        service=event.service,
        action=event.action,
        target=event.target,
        fields=list(event.fields),
        outcome=event.outcome,
        trace_id=event.trace_id,
        details_json=json.dumps(event.details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        if event.details
        else "",
        prev_hash=event.prev_hash,
        hash=event.hash,
        customer_ids=customers,
    )


def _new_event(i: int, event: pb.AuditEvent) -> audit.NewEvent:
    return audit.NewEvent(
        actor=event.actor,
        actor_kind=event.actor_kind,
        action=event.action,
        target=event.target,
        source=event.source,
        fields=tuple(event.fields),
        outcome=event.outcome,
        trace_id=event.trace_id,
        details=audit.parse_details(event.details_json, path=f"events.{i}.details_json"),
        customers=tuple(event.customer_ids),
    )


_CHAIN_FAILURES = {
    audit.HASH_MISMATCH: pb.AUDIT_CHAIN_FAILURE_HASH_MISMATCH,
    audit.MISSING_EVENT: pb.AUDIT_CHAIN_FAILURE_MISSING_EVENT,
    audit.BROKEN_CHAIN: pb.AUDIT_CHAIN_FAILURE_BROKEN_CHAIN,
}


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    """The gRPC face of identities and tokens; one unit of work per call."""

    def __init__(
        self,
        db: Database,
        settings: AuthSettings,
        writer: AuditWriter,
        clock: Callable[[], datetime] = _utc_now,
        authenticate: Callable[[Any], identity.Caller] | None = None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._writer = writer
        self._clock = clock
        # The server's authenticator: tells a platform service's calls from anyone else's.
        self._authenticate = authenticate

    def _admin(self, session: Any, action: str = "", request: Any = None) -> identity.Caller:
        """The caller, if an administrator; a change is audited in the same unit of work, so it is
        recorded exactly when it commits."""
        caller = identity.current()
        service.require_admin(session=session, caller=caller)
        if action:
            audit.record(
                session=session,
                recorder=_AUTH,
                events=[
                    audit.NewEvent(
                        actor=caller.id,
                        actor_kind=caller.kind,
                        action=action,
                        target=_target(request),
                        trace_id=telemetry.current_trace_id(),
                    )
                ],
                clock=self._clock,
            )
        return caller

    # --- public ----------------------------------------------------------------------------

    def _origin(self, context: Any) -> tuple[str, bool]:
        """Where the call came from, and whether a platform service vouches for it: the client's
        address as the gateway passed it when the call is made by a platform service (its token
        says so), else the address gRPC saw. Nobody else chooses the address that throttling,
        familiar addresses and allow-lists go by."""
        try:
            metadata = tuple(context.invocation_metadata() or ())
        except Exception:  # noqa: BLE001 - an address is a nicety here
            return "", False
        passed = next((str(v) for k, v in metadata if k == identity.CLIENT_ADDRESS), "")
        if passed and self._authenticate is not None:
            try:
                if self._authenticate(metadata).kind == "service":
                    return passed[:100], True
            except DomainError:
                pass
        return _peer_address(context), False

    def _source(self, context: Any) -> str:
        return self._origin(context)[0]

    def _record_auth(
        self, session: Any, *, attempt: _Attempt, action: str, outcome: str, details: dict[str, Any]
    ) -> None:
        audit.record(
            session=session,
            recorder=_AUTH,
            events=[
                audit.NewEvent(
                    actor=attempt.actor[:64] or "-",
                    actor_kind=attempt.actor_kind,
                    action=action,
                    target=attempt.target[:200],
                    outcome=outcome,
                    source=attempt.source,
                    trace_id=telemetry.current_trace_id(),
                    details=details,
                )
            ],
            clock=self._clock,
        )

    def _audited(
        self,
        attempt: _Attempt,
        action: str,
        work: Callable[[Any], T | service.Denied],
        summary: Callable[[T], dict[str, Any]] = lambda _: {},
        prepare: Callable[[], None] = lambda: None,
    ) -> T:
        """Run one public step in its own unit of work, audited whatever its outcome.

        `prepare` runs first, outside the unit of work (a password is hashed there). Success and
        counted refusals (`Denied`) are recorded in the step's own transaction; a step that
        raises changes nothing, and its refusal is recorded in a transaction of its own.
        """
        try:
            prepare()
            with self._db.session_scope() as session:
                result = work(session)
                if isinstance(result, service.Denied):
                    reason = {attempt.detail: result.error.message[:200]}
                    self._record_auth(
                        session,
                        attempt=attempt,
                        action=result.action or action,
                        outcome="denied",
                        details=reason,
                    )
                else:
                    self._record_auth(
                        session, attempt=attempt, action=action, outcome="success", details=summary(result)
                    )
        except DomainError as exc:
            outcome = "denied" if exc.code in _REFUSALS else "failed"
            try:
                with self._db.session_scope() as session:
                    self._record_auth(
                        session,
                        attempt=attempt,
                        action=action,
                        outcome=outcome,
                        details={attempt.detail: exc.message[:200]},
                    )
            except Exception:  # noqa: BLE001 - the refusal stands; the log's outage is reported
                log.exception("could not audit a refused %s", action)
            raise
        return _accepted(result)

    def _setup_subject(self, setup_token: str) -> str:
        """The employee id a setup token names, or "" when it does not verify."""
        if not setup_token or len(setup_token) > 4096:
            return ""
        try:
            with self._db.session_scope(readonly=True) as session:
                return keys.read_setup_token(
                    session=session, settings=self._settings, token=setup_token, now=self._clock()
                )
        except DomainError:
            return ""

    def _check_password(self, employee_id: str, password: str, source: str) -> service.PasswordCheck:
        """Read the stored hash (refusing a running delay), then hash outside any transaction."""
        with self._db.session_scope(readonly=True) as session:
            stored = service.read_password_hash(
                session=session,
                settings=self._settings,
                employee_id=employee_id,
                source=source,
                now=self._clock(),
            )
        return service.check_password(
            settings=self._settings, employee_id=employee_id, stored_hash=stored, password=password
        )

    @_answers_throttled
    def Login(self, request: pb.LoginRequest, context: Any) -> pb.LoginResponse:
        telemetry.set_attributes(employee_id=request.employee_id[:64])
        source = self._source(context)
        attempt = _Attempt(request.employee_id, "user", f"user:{request.employee_id[:64]}", source, "step")
        checked: list[service.PasswordCheck] = []

        def prepare() -> None:
            employee_id = service.check_login_shapes(
                employee_id=request.employee_id, password=request.password, totp_code=request.totp_code
            )
            checked.append(self._check_password(employee_id, request.password, source))

        # Every login is audited: success, challenge or refusal.
        result = self._audited(
            attempt,
            "auth.login",
            lambda session: service.login(
                session=session,
                settings=self._settings,
                employee_id=request.employee_id,
                password=request.password,
                totp_code=request.totp_code,
                source=source,
                checked=checked[0],
                now=self._clock(),
            ),
            lambda result: {"step": type(result).__name__.lower()},
            prepare,
        )
        if isinstance(result, service.Challenge):
            return pb.LoginResponse(challenge=_challenge(result))
        return pb.LoginResponse(tokens=_tokens(result))

    @_answers_throttled
    def ChangePassword(self, request: pb.ChangePasswordRequest, context: Any) -> pb.ChangePasswordResponse:
        source = self._source(context)
        who = self._setup_subject(request.setup_token) if request.setup_token else request.employee_id
        attempt = _Attempt(who, "user" if who else "anonymous", f"user:{who[:64]}" if who else "", source)
        checked: list[service.PasswordCheck] = []

        def prepare() -> None:
            with self._db.session_scope(readonly=True) as session:
                employee_id = service.password_change_subject(
                    session=session,
                    settings=self._settings,
                    setup_token=request.setup_token,
                    employee_id=request.employee_id,
                    current_password=request.current_password,
                    new_password=request.new_password,
                    totp_code=request.totp_code,
                    now=self._clock(),
                )
            checked.append(self._check_password(employee_id, request.current_password, source))

        challenge = self._audited(
            attempt,
            "auth.password_change",
            lambda session: service.change_password(
                session=session,
                settings=self._settings,
                setup_token=request.setup_token,
                employee_id=request.employee_id,
                current_password=request.current_password,
                new_password=request.new_password,
                totp_code=request.totp_code,
                source=source,
                checked=checked[0],
                now=self._clock(),
            ),
            prepare=prepare,
        )
        if challenge is None:
            return pb.ChangePasswordResponse()
        return pb.ChangePasswordResponse(challenge=_challenge(challenge))

    @_answers_throttled
    def EnrollTotp(self, request: pb.EnrollTotpRequest, context: Any) -> pb.EnrollTotpResponse:
        who = self._setup_subject(request.setup_token)
        attempt = _Attempt(
            who, "user" if who else "anonymous", f"user:{who}" if who else "", self._source(context)
        )
        secret, uri = self._audited(
            attempt,
            "auth.totp_enroll",
            lambda session: service.enroll_totp(
                session=session, settings=self._settings, setup_token=request.setup_token, now=self._clock()
            ),
        )
        return pb.EnrollTotpResponse(totp_secret=secret, totp_provisioning_uri=uri)

    @_answers_throttled
    def VerifyTotp(self, request: pb.VerifyTotpRequest, context: Any) -> pb.VerifyTotpResponse:
        who = self._setup_subject(request.setup_token)
        source = self._source(context)
        attempt = _Attempt(who, "user" if who else "anonymous", f"user:{who}" if who else "", source)
        codes, tokens = self._audited(
            attempt,
            "auth.totp_verify",
            lambda session: service.verify_totp(
                session=session,
                settings=self._settings,
                setup_token=request.setup_token,
                totp_code=request.totp_code,
                source=source,
                now=self._clock(),
            ),
        )
        return pb.VerifyTotpResponse(recovery_codes=codes, tokens=_tokens(tokens))

    def _session_attempt(self, refresh_token: str, context: Any) -> _Attempt:
        with self._db.session_scope(readonly=True) as session:
            who = service.session_owner(session=session, refresh_token=refresh_token)
        return _Attempt(
            who, "user" if who else "anonymous", f"user:{who}" if who else "", self._source(context)
        )

    def Refresh(self, request: pb.RefreshRequest, context: Any) -> pb.RefreshResponse:
        tokens = self._audited(
            self._session_attempt(request.refresh_token, context),
            "auth.refresh",
            lambda session: service.refresh(
                session=session,
                settings=self._settings,
                refresh_token=request.refresh_token,
                now=self._clock(),
            ),
        )
        return pb.RefreshResponse(tokens=_tokens(tokens))

    def Logout(self, request: pb.LogoutRequest, context: Any) -> pb.LogoutResponse:
        self._audited(
            self._session_attempt(request.refresh_token, context),
            "auth.logout",
            lambda session: service.logout(
                session=session, refresh_token=request.refresh_token, now=self._clock()
            ),
        )
        return pb.LogoutResponse()

    @_answers_throttled
    def IssueClientToken(
        self, request: pb.IssueClientTokenRequest, context: Any
    ) -> pb.IssueClientTokenResponse:
        telemetry.set_attributes(client_id=request.client_id[:64])
        source, vouched = self._origin(context)
        # The address the allow-list is checked against: the partner's as the gateway saw it,
        # believed only from a platform service; anyone else is checked where gRPC saw them.
        client_ip = (request.client_ip or source) if vouched else source
        attempt = _Attempt(request.client_id, "client", f"client:{request.client_id[:64]}", client_ip)
        tokens, scopes = self._audited(
            attempt,
            "auth.client_token",
            lambda session: clients.issue_token(
                session=session,
                settings=self._settings,
                client_id=request.client_id,
                client_secret=request.client_secret,
                scopes=list(request.scopes),
                client_ip=client_ip,
                now=self._clock(),
            ),
            lambda issued: {"scopes": issued[1]},
        )
        return pb.IssueClientTokenResponse(tokens=_tokens(tokens), scopes=scopes)

    def ListRevocations(self, request: pb.ListRevocationsRequest, context: Any) -> pb.ListRevocationsResponse:
        with self._db.session_scope(readonly=True) as session:
            subjects, sessions = service.list_revocations(
                session=session, settings=self._settings, now=self._clock()
            )
            return pb.ListRevocationsResponse(
                subjects=[
                    pb.SubjectRevocation(kind=r.kind, subject=r.subject, version=r.version) for r in subjects
                ],
                session_ids=sessions,
            )

    def GetJwks(self, request: pb.GetJwksRequest, context: Any) -> pb.GetJwksResponse:
        with self._db.session_scope(readonly=True) as session:
            document = keys.jwks(session=session, settings=self._settings, now=self._clock())
        if not document["keys"]:
            # The very first call makes the first key, so verifiers never see an empty set.
            with self._db.session_scope() as session:
                keys.get_active_or_create(session=session, now=self._clock())
                document = keys.jwks(session=session, settings=self._settings, now=self._clock())
        return pb.GetJwksResponse(jwks_json=json.dumps(document, separators=(",", ":")))

    # --- admin -----------------------------------------------------------------------------

    def RotateSigningKey(
        self, request: pb.RotateSigningKeyRequest, context: Any
    ) -> pb.RotateSigningKeyResponse:
        with self._db.session_scope() as session:
            self._admin(session, "admin.rotate_signing_key", request)
            key = keys.create(session=session, now=self._clock())
        return pb.RotateSigningKeyResponse(kid=key.kid)

    @_answers_throttled
    def CreateUser(self, request: pb.CreateUserRequest, context: Any) -> pb.CreateUserResponse:
        with self._db.session_scope() as session:
            self._admin(session, "admin.create_user", request)
            user, password = service.create_user(
                session=session,
                settings=self._settings,
                employee_id=request.user.employee_id,
                display_name=request.user.display_name,
                org_unit_id=request.user.org_unit_id,
                roles=list(request.user.roles),
                now=self._clock(),
            )
            reply = pb.CreateUserResponse(user=_user(user), initial_password=password)
        return reply

    def ListUsers(self, request: pb.ListUsersRequest, context: Any) -> pb.ListUsersResponse:
        now = self._clock()
        with self._db.session_scope(readonly=True) as session:
            self._admin(session)
            users, next_token = service.list_users(
                session=session,
                page_size=request.page.page_size,
                page_token=request.page.page_token,
                org_unit_id=request.org_unit_id,
            )
            items = [
                _user(u, service.locked_until(session=session, employee_id=u.employee_id, now=now))
                for u in users
            ]
        reply = pb.ListUsersResponse(users=items)
        reply.page.next_page_token = next_token
        return reply

    def UpdateUser(self, request: pb.UpdateUserRequest, context: Any) -> pb.UpdateUserResponse:
        patch = json_format.MessageToDict(request.user, preserving_proto_field_name=True)
        with self._db.session_scope() as session:
            caller = self._admin(session, "admin.update_user", request)
            user = service.update_user(
                session=session,
                caller=caller,
                employee_id=request.employee_id,
                patch=patch,
                paths=list(request.update_mask.paths),
                now=self._clock(),
            )
            reply = pb.UpdateUserResponse(user=_user(user))
        return reply

    @_answers_throttled
    def ResetPassword(self, request: pb.ResetPasswordRequest, context: Any) -> pb.ResetPasswordResponse:
        with self._db.session_scope() as session:
            self._admin(session, "admin.reset_password", request)
            password = service.reset_password(
                session=session,
                settings=self._settings,
                employee_id=request.employee_id,
                reset_totp=request.reset_totp,
                now=self._clock(),
            )
        return pb.ResetPasswordResponse(one_time_password=password)

    def UnlockUser(self, request: pb.UnlockUserRequest, context: Any) -> pb.UnlockUserResponse:
        with self._db.session_scope() as session:
            self._admin(session, "admin.unlock_user", request)
            user = service.unlock_user(session=session, employee_id=request.employee_id)
            reply = pb.UnlockUserResponse(user=_user(user))
        return reply

    def CreateRole(self, request: pb.CreateRoleRequest, context: Any) -> pb.CreateRoleResponse:
        with self._db.session_scope() as session:
            self._admin(session, "admin.create_role", request)
            role = service.create_role(
                session=session,
                name=request.role.name,
                description=request.role.description,
                permissions=list(request.role.permissions),
                scope=request.role.scope,
                field_rules=dict(request.role.field_rules),
                now=self._clock(),
            )
            reply = pb.CreateRoleResponse(role=_role(role))
        return reply

    def ListRoles(self, request: pb.ListRolesRequest, context: Any) -> pb.ListRolesResponse:
        with self._db.session_scope(readonly=True) as session:
            self._admin(session)
            return pb.ListRolesResponse(roles=[_role(r) for r in service.list_roles(session=session)])

    def UpdateRole(self, request: pb.UpdateRoleRequest, context: Any) -> pb.UpdateRoleResponse:
        patch = json_format.MessageToDict(request.role, preserving_proto_field_name=True)
        with self._db.session_scope() as session:
            self._admin(session, "admin.update_role", request)
            role = service.update_role(
                session=session,
                name=request.name,
                patch=patch,
                paths=list(request.update_mask.paths),
                now=self._clock(),
            )
            reply = pb.UpdateRoleResponse(role=_role(role))
        return reply

    def CreateOrgUnit(self, request: pb.CreateOrgUnitRequest, context: Any) -> pb.CreateOrgUnitResponse:
        with self._db.session_scope() as session:
            self._admin(session, "admin.create_org_unit", request)
            unit = service.create_org_unit(
                session=session,
                name=request.org_unit.name,
                kind=request.org_unit.kind,
                parent_id=request.org_unit.parent_id,
                org_unit_id=request.org_unit.id,
                now=self._clock(),
            )
            reply = pb.CreateOrgUnitResponse(org_unit=_org_unit(unit))
        return reply

    def ListOrgUnits(self, request: pb.ListOrgUnitsRequest, context: Any) -> pb.ListOrgUnitsResponse:
        with self._db.session_scope(readonly=True) as session:
            self._admin(session)
            units = service.list_org_units(session=session)
            return pb.ListOrgUnitsResponse(org_units=[_org_unit(u) for u in units])

    @_answers_throttled
    def CreateApiClient(self, request: pb.CreateApiClientRequest, context: Any) -> pb.CreateApiClientResponse:
        with self._db.session_scope() as session:
            caller = self._admin(session, "admin.create_api_client", request)
            client, secret = clients.create(
                session=session,
                settings=self._settings,
                caller=caller,
                name=request.client.name,
                scopes=list(request.client.scopes),
                rate_limit_per_minute=request.client.rate_limit_per_minute,
                ip_allowlist=list(request.client.ip_allowlist),
                record_scope=request.client.record_scope,
                kind=request.client.kind,
                now=self._clock(),
            )
            reply = pb.CreateApiClientResponse(client=_client(client), client_secret=secret)
        telemetry.set_attributes(client_id=reply.client.client_id)
        return reply

    def ListApiClients(self, request: pb.ListApiClientsRequest, context: Any) -> pb.ListApiClientsResponse:
        with self._db.session_scope(readonly=True) as session:
            self._admin(session)
            return pb.ListApiClientsResponse(
                clients=[_client(c) for c in clients.list_clients(session=session)]
            )

    @_answers_throttled
    def RotateApiClientSecret(
        self, request: pb.RotateApiClientSecretRequest, context: Any
    ) -> pb.RotateApiClientSecretResponse:
        with self._db.session_scope() as session:
            self._admin(session, "admin.rotate_api_client_secret", request)
            client, secret = clients.rotate_secret(
                session=session,
                settings=self._settings,
                client_id=request.client_id,
                grace_seconds=request.grace_seconds,
                now=self._clock(),
            )
            reply = pb.RotateApiClientSecretResponse(client=_client(client), client_secret=secret)
        return reply

    def DisableApiClient(
        self, request: pb.DisableApiClientRequest, context: Any
    ) -> pb.DisableApiClientResponse:
        with self._db.session_scope() as session:
            self._admin(session, "admin.disable_api_client", request)
            client = clients.disable(session=session, client_id=request.client_id, now=self._clock())
            reply = pb.DisableApiClientResponse(client=_client(client))
        return reply

    # --- audit log -------------------------------------------------------------------------

    def RecordAuditEvents(
        self, request: pb.RecordAuditEventsRequest, context: Any
    ) -> pb.RecordAuditEventsResponse:
        caller = identity.current()
        audit.require_writer(caller=caller, dev_identity=self._settings.dev_identity)
        events = [_new_event(i, e) for i, e in enumerate(request.events[: audit.MAX_EVENTS_PER_CALL + 1])]
        audit.require_own_actions(caller=caller, events=events)
        return pb.RecordAuditEventsResponse(seqs=self._writer.record(recorder=caller, events=events))

    def ListAuditEvents(self, request: pb.ListAuditEventsRequest, context: Any) -> pb.ListAuditEventsResponse:
        with self._db.session_scope(readonly=True) as session:
            audit.require_reader(session=session, caller=identity.current())
            events, next_token = audit.list_events(
                session=session,
                page_size=request.page.page_size,
                page_token=request.page.page_token,
                actor=request.actor,
                action=request.action,
                target=request.target,
                outcome=request.outcome,
                start_time=request.start_time.ToDatetime(UTC) if request.HasField("start_time") else None,
                end_time=request.end_time.ToDatetime(UTC) if request.HasField("end_time") else None,
                customer_id=request.customer_id,
                with_customers=not request.omit_customer_ids,
            )
            listed = (
                {}
                if request.omit_customer_ids
                else audit.customers_of(session=session, seqs=[e.seq for e in events])
            )
            reply = pb.ListAuditEventsResponse(
                events=[_audit_event(e, listed.get(e.seq, [])) for e in events]
            )
        reply.page.next_page_token = next_token
        return reply

    def ListSecurityAlerts(
        self, request: pb.ListSecurityAlertsRequest, context: Any
    ) -> pb.ListSecurityAlertsResponse:
        with self._db.session_scope(readonly=True) as session:
            audit.require_reader(session=session, caller=identity.current())
            found = alerts.list_alerts(session=session, status=request.status, limit=request.limit or 100)
            return pb.ListSecurityAlertsResponse(alerts=[_alert(a) for a in found])

    def AcknowledgeSecurityAlert(
        self, request: pb.AcknowledgeSecurityAlertRequest, context: Any
    ) -> pb.AcknowledgeSecurityAlertResponse:
        caller = identity.current()

        def event(outcome: str, details: dict[str, Any]) -> audit.NewEvent:
            return audit.NewEvent(
                actor=caller.id,
                actor_kind=caller.kind,
                action="security.acknowledge_alert",
                target=f"alert:{request.alert_id}"[:200],
                outcome=outcome,
                source=caller.source,
                trace_id=telemetry.current_trace_id(),
                details=details,
            )

        try:
            with self._db.session_scope() as session:
                audit.require_reader(session=session, caller=caller)
                alert = alerts.acknowledge(
                    session=session, alert_id=request.alert_id, by=caller.id, at=self._clock()
                )
                reply = pb.AcknowledgeSecurityAlertResponse(alert=_alert(alert))
                audit.record(
                    session=session, recorder=_AUTH, events=[event("success", {})], clock=self._clock
                )
        except PermissionDenied as exc:
            # Refused (not on the security team, or the alert is about the caller): on record too.
            with self._db.session_scope() as session:
                audit.record(
                    session=session,
                    recorder=_AUTH,
                    events=[event("denied", {"reason": exc.message[:200]})],
                    clock=self._clock,
                )
            raise
        return reply

    def VerifyAuditLog(self, request: pb.VerifyAuditLogRequest, context: Any) -> pb.VerifyAuditLogResponse:
        with self._db.session_scope(readonly=True) as session:
            audit.require_reader(session=session, caller=identity.current())
            result = audit.verify(session=session)
        return pb.VerifyAuditLogResponse(
            ok=result.ok,
            checked=result.checked,
            first_bad_seq=result.first_bad_seq,
            reason=_CHAIN_FAILURES.get(result.reason, pb.AUDIT_CHAIN_FAILURE_UNSPECIFIED),
            message=result.message,
        )
