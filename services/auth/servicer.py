"""AuthService: translates between protobuf messages and the domain functions."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from crm.auth.v1 import auth_pb2 as pb
from crm.auth.v1 import auth_pb2_grpc
from services.auth import alerts, audit, clients, keys, service
from services.auth.audit_writer import AuditWriter
from services.auth.models import ApiClient, AuditEvent, OrgUnit, Role, User
from services.auth.settings import AuthSettings
from services.common import identity, telemetry
from services.common.db import Database

T = TypeVar("T")

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
    )
)


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
                return f"{key}:{value}"[:200]
    return ""


def _peer(context: Any) -> str:
    """The client's address as the gateway passed it, else the calling address gRPC saw."""
    try:
        passed = dict(context.invocation_metadata()).get(identity.CLIENT_ADDRESS)
        return str(passed or context.peer())[:100]
    except Exception:  # noqa: BLE001 - an address is a nicety here
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
    )


def _audit_event(event: AuditEvent) -> pb.AuditEvent:
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
    ) -> None:
        self._db = db
        self._settings = settings
        self._writer = writer
        self._clock = clock

    def _admin(self, session: Any, action: str = "", request: Any = None) -> identity.Caller:
        """The caller, if an administrator; a change is audited in the same unit of work, so it is
        recorded exactly when it commits."""
        caller = identity.current()
        service.require_admin(session=session, caller=caller)
        if action:
            audit.record(
                session=session,
                recorder=identity.Caller(id="auth", kind="service"),
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

    def Login(self, request: pb.LoginRequest, context: Any) -> pb.LoginResponse:
        telemetry.set_attributes(employee_id=request.employee_id)
        with self._db.session_scope() as session:
            result = service.login(
                session=session,
                settings=self._settings,
                employee_id=request.employee_id,
                password=request.password,
                totp_code=request.totp_code,
                now=self._clock(),
            )
            # Every login is audited in the same transaction: success, challenge or refusal.
            outcome = "denied" if isinstance(result, service.Denied) else "success"
            step = (
                type(result).__name__.lower()
                if not isinstance(result, service.Denied)
                else result.error.message
            )
            audit.record(
                session=session,
                recorder=identity.Caller(id="auth", kind="service"),
                events=[
                    audit.NewEvent(
                        actor=request.employee_id[:64] or "-",
                        actor_kind="user",
                        action="auth.login",
                        target=f"user:{request.employee_id[:64]}",
                        outcome=outcome,
                        source=_peer(context),
                        trace_id=telemetry.current_trace_id(),
                        details={"step": step[:200]},
                    )
                ],
                clock=self._clock,
            )
        result = _accepted(result)
        if isinstance(result, service.Challenge):
            return pb.LoginResponse(challenge=_challenge(result))
        return pb.LoginResponse(tokens=_tokens(result))

    def ChangePassword(self, request: pb.ChangePasswordRequest, context: Any) -> pb.ChangePasswordResponse:
        with self._db.session_scope() as session:
            result = service.change_password(
                session=session,
                settings=self._settings,
                setup_token=request.setup_token,
                employee_id=request.employee_id,
                current_password=request.current_password,
                new_password=request.new_password,
                now=self._clock(),
            )
        challenge = _accepted(result)
        if challenge is None:
            return pb.ChangePasswordResponse()
        return pb.ChangePasswordResponse(challenge=_challenge(challenge))

    def EnrollTotp(self, request: pb.EnrollTotpRequest, context: Any) -> pb.EnrollTotpResponse:
        with self._db.session_scope() as session:
            secret, uri = service.enroll_totp(
                session=session, settings=self._settings, setup_token=request.setup_token, now=self._clock()
            )
        return pb.EnrollTotpResponse(totp_secret=secret, totp_provisioning_uri=uri)

    def VerifyTotp(self, request: pb.VerifyTotpRequest, context: Any) -> pb.VerifyTotpResponse:
        with self._db.session_scope() as session:
            codes, tokens = service.verify_totp(
                session=session,
                settings=self._settings,
                setup_token=request.setup_token,
                totp_code=request.totp_code,
                now=self._clock(),
            )
        return pb.VerifyTotpResponse(recovery_codes=codes, tokens=_tokens(tokens))

    def Refresh(self, request: pb.RefreshRequest, context: Any) -> pb.RefreshResponse:
        with self._db.session_scope() as session:
            result = service.refresh(
                session=session,
                settings=self._settings,
                refresh_token=request.refresh_token,
                now=self._clock(),
            )
        return pb.RefreshResponse(tokens=_tokens(_accepted(result)))

    def Logout(self, request: pb.LogoutRequest, context: Any) -> pb.LogoutResponse:
        with self._db.session_scope() as session:
            service.logout(session=session, refresh_token=request.refresh_token, now=self._clock())
        return pb.LogoutResponse()

    def IssueClientToken(
        self, request: pb.IssueClientTokenRequest, context: Any
    ) -> pb.IssueClientTokenResponse:
        telemetry.set_attributes(client_id=request.client_id)
        with self._db.session_scope() as session:
            tokens, scopes = clients.issue_token(
                session=session,
                settings=self._settings,
                client_id=request.client_id,
                client_secret=request.client_secret,
                scopes=list(request.scopes),
                client_ip=request.client_ip,
                now=self._clock(),
            )
        return pb.IssueClientTokenResponse(tokens=_tokens(tokens), scopes=scopes)

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
            )
            reply = pb.ListAuditEventsResponse(events=[_audit_event(e) for e in events])
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
        with self._db.session_scope() as session:
            audit.require_reader(session=session, caller=caller)
            alert = alerts.acknowledge(
                session=session, alert_id=request.alert_id, by=caller.id, at=self._clock()
            )
            reply = pb.AcknowledgeSecurityAlertResponse(alert=_alert(alert))
            audit.record(
                session=session,
                recorder=identity.Caller(id="auth", kind="service"),
                events=[
                    audit.NewEvent(
                        actor=caller.id,
                        actor_kind=caller.kind,
                        action="security.acknowledge_alert",
                        target=f"alert:{request.alert_id}",
                        trace_id=telemetry.current_trace_id(),
                    )
                ],
                clock=self._clock,
            )
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
