"""Identities, login, sessions and API clients, on SQLite and PostgreSQL."""

import json

import jwt
import pytest
from sqlalchemy import select

from services.auth import clients, keys, service
from services.auth.models import LoginFailure, User
from services.auth.settings import AuthSettings
from services.auth.throttle import Throttled
from services.common.db import Database
from services.common.errors import (
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
)
from services.common.identity import Caller
from services.common.tokens import TokenVerifier
from tests.auth.conftest import Clock, call, code_at, enrol

ADMIN = Caller(id="A0001", roles=("admin",), scope="all", permissions=("*",))


def verifier(db: Database, settings: AuthSettings, clock: Clock) -> TokenVerifier:
    def fetch() -> str:
        with db.session_scope() as session:
            return json.dumps(keys.jwks(session=session, settings=settings, now=clock()))

    return TokenVerifier(fetch, issuer=settings.issuer, clock=lambda: clock().timestamp(), refetch_interval=0)


def login(
    db: Database, settings: AuthSettings, clock: Clock, employee_id: str, password: str, code: str = ""
):
    return call(
        db,
        service.login,
        settings=settings,
        employee_id=employee_id,
        password=password,
        totp_code=code,
        now=clock(),
    )


def test_unknown_ids_and_wrong_passwords_get_the_same_answer(
    auth_db: Database, settings: AuthSettings, clock: Clock
) -> None:
    user = enrol(auth_db, settings, clock, "S1001", ["sales"])
    with pytest.raises(Unauthenticated) as wrong:
        login(auth_db, settings, clock, "S1001", "Wrong-Password-1")
    with pytest.raises(Unauthenticated) as unknown:
        login(auth_db, settings, clock, "S9999", user.password)
    assert wrong.value.message == unknown.value.message == service.BAD_CREDENTIALS
    # Both failures were counted, known id or not.
    with auth_db.session_scope(readonly=True) as session:
        scores = {(f.key, f.context): round(f.score) for f in session.scalars(select(LoginFailure))}
    assert scores == {("user:S1001", "*"): 1, ("user:S9999", "*"): 1}


def test_failures_delay_attempts_doubling_and_unknown_ids_alike(
    auth_db: Database, settings: AuthSettings, clock: Clock
) -> None:
    user = enrol(auth_db, settings, clock, "S1001", ["sales"])
    for _ in range(5):
        with pytest.raises(Unauthenticated, match="incorrect"):
            login(auth_db, settings, clock, "S1001", "Wrong-Password-1")  # the fifth delays 60 s
    with pytest.raises(Throttled, match="try again in 60 seconds") as delayed:
        login(auth_db, settings, clock, "S1001", user.password)
    assert delayed.value.retry_after == 60
    clock.advance(61)
    with pytest.raises(Unauthenticated, match="incorrect"):
        login(auth_db, settings, clock, "S1001", "Wrong-Password-1")  # the sixth delays 120 s
    clock.advance(100)
    with pytest.raises(Throttled, match="try again in 20 seconds"):
        login(auth_db, settings, clock, "S1001", user.password)
    clock.advance(21)
    tokens = login(auth_db, settings, clock, "S1001", user.password, code_at(user.totp_secret, clock()))
    assert isinstance(tokens, service.Tokens)
    with auth_db.session_scope(readonly=True) as session:
        assert session.get(LoginFailure, ("user:S1001", "*")) is None
    # Unknown ids are delayed the same way: the delay tells nothing about which ids exist.
    for _ in range(5):
        with pytest.raises(Unauthenticated, match="incorrect"):
            login(auth_db, settings, clock, "nobody", "Wrong-Password-1")
    with pytest.raises(Throttled, match="try again in 60 seconds"):
        login(auth_db, settings, clock, "nobody", "Wrong-Password-1")


def test_failures_are_forgotten_so_a_trickle_never_locks(
    auth_db: Database, settings: AuthSettings, clock: Clock
) -> None:
    user = enrol(auth_db, settings, clock, "S1001", ["sales"])
    # One wrong guess an hour (or even every decay period) used to keep the account locked.
    for _ in range(12):
        with pytest.raises(Unauthenticated, match="incorrect"):
            login(auth_db, settings, clock, "S1001", "Wrong-Password-1")
        clock.advance(settings.lockout_decay_seconds)
    tokens = login(auth_db, settings, clock, "S1001", user.password, code_at(user.totp_secret, clock()))
    assert isinstance(tokens, service.Tokens)


def test_strangers_cannot_lock_the_owner_out_of_a_familiar_address(
    auth_db: Database, settings: AuthSettings, clock: Clock
) -> None:
    user = enrol(auth_db, settings, clock, "S1001", ["sales"])
    home, attacker, hotel = "10.1.1.1", "203.0.113.9", "198.51.100.4"

    def attempt(source: str, password: str, code: str = "") -> object:
        return call(
            auth_db,
            service.login,
            settings=settings,
            employee_id="S1001",
            password=password,
            totp_code=code,
            source=source,
            now=clock(),
        )

    assert isinstance(attempt(home, user.password, code_at(user.totp_secret, clock())), service.Tokens)
    clock.advance(30)
    for _ in range(40):
        with pytest.raises((Unauthenticated, Throttled)):
            attempt(attacker, "Wrong-Password-1")
        clock.advance(1)
    # Held back everywhere else (the owner's new hotel too), but not where the owner logs in.
    with pytest.raises(Throttled):
        attempt(hotel, user.password)
    assert isinstance(attempt(home, user.password, code_at(user.totp_secret, clock())), service.Tokens)
    # Spraying one guess over many accounts spends the attacker's address's own budget.
    for i in range(settings.source_threshold):
        with pytest.raises((Unauthenticated, Throttled)):
            call(
                auth_db,
                service.login,
                settings=settings,
                employee_id=f"S{3000 + i}",
                password="x",
                source=attacker,
                now=clock(),
            )
    with pytest.raises(Throttled):
        call(
            auth_db,
            service.login,
            settings=settings,
            employee_id="S2002",
            password="x",
            source=attacker,
            now=clock(),
        )
    # An administrator lifts the account's delays.
    call(auth_db, service.unlock_user, employee_id="S1001")
    assert attempt(hotel, user.password) == service.Challenge(kind="totp_required")


def test_delays_are_capped_and_settle_at_the_decay_rate(
    auth_db: Database, settings: AuthSettings, clock: Clock
) -> None:
    def waits(config: AuthSettings, employee_id: str) -> list[float]:
        found = []
        for _ in range(30):
            with pytest.raises(Unauthenticated):
                login(auth_db, config, clock, employee_id, "Wrong-Password-1")
            with auth_db.session_scope(readonly=True) as session:
                row = session.get(LoginFailure, (f"user:{employee_id}", "*"))
                assert row is not None
                found.append((row.locked_until - row.updated_at).total_seconds() if row.locked_until else 0)
            clock.advance(found[-1] + 1)
        return found

    # Someone who waits out every delay gets about one guess per decay period, never less.
    patient = waits(settings, "S1001")
    assert max(patient) <= settings.lockout_max_seconds
    assert settings.lockout_decay_seconds / 2 <= patient[-1] <= settings.lockout_decay_seconds * 2
    # Where failures are forgotten slowly, the delay stops doubling at its cap.
    slow = settings.model_copy(update={"lockout_decay_seconds": 10**9})
    assert waits(slow, "S1002")[-1] == settings.lockout_max_seconds


def test_malformed_credentials_are_refused_before_any_hash(
    auth_db: Database, settings: AuthSettings, clock: Clock
) -> None:
    for employee_id, password in (("S" * 65, "x"), ("S 1001", "x"), ("S1001", "p" * 10_000)):
        with pytest.raises(InvalidArgument):
            login(auth_db, settings, clock, employee_id, password)
    with auth_db.session_scope(readonly=True) as session:
        assert list(session.scalars(select(LoginFailure))) == []


def test_first_login_forces_password_change_then_totp(
    auth_db: Database, settings: AuthSettings, clock: Clock
) -> None:
    _, initial = call(
        auth_db,
        service.create_user,
        settings=settings,
        employee_id="S1001",
        display_name="张伟",
        roles=["sales"],
        now=clock(),
    )
    first = login(auth_db, settings, clock, "S1001", initial)
    assert first.kind == "password_change_required" and first.setup_token and not first.totp_secret
    # The setup token is no access token.
    with pytest.raises(Unauthenticated, match="lacks the 'kind' claim"):
        verifier(auth_db, settings, clock).verify(first.setup_token)
    # Enrolment waits for the new password.
    with pytest.raises(FailedPrecondition, match="change the initial password"):
        call(auth_db, service.enroll_totp, settings=settings, setup_token=first.setup_token, now=clock())
    with pytest.raises(InvalidArgument) as weak:
        call(
            auth_db,
            service.change_password,
            settings=settings,
            setup_token=first.setup_token,
            current_password=initial,
            new_password="short",
            now=clock(),
        )
    assert weak.value.violations[0].message == "the password must be at least 12 characters long"
    challenge = call(
        auth_db,
        service.change_password,
        settings=settings,
        setup_token=first.setup_token,
        current_password=initial,
        new_password="Harbour-Lantern-42",
        now=clock(),
    )
    assert challenge.kind == "totp_enrollment_required"
    assert challenge.totp_provisioning_uri.startswith("otpauth://totp/CRM:S1001?secret=")
    # Logging in before verifying asks for enrolment again, with a new secret.
    again = login(auth_db, settings, clock, "S1001", "Harbour-Lantern-42")
    assert again.kind == "totp_enrollment_required" and again.totp_secret != challenge.totp_secret
    secret, _ = call(
        auth_db, service.enroll_totp, settings=settings, setup_token=again.setup_token, now=clock()
    )
    with pytest.raises(InvalidArgument, match="does not match"):
        call(
            auth_db,
            service.verify_totp,
            settings=settings,
            setup_token=again.setup_token,
            totp_code=code_at(again.totp_secret, clock()),  # replaced by EnrollTotp
            now=clock(),
        )
    codes, tokens = call(
        auth_db,
        service.verify_totp,
        settings=settings,
        setup_token=again.setup_token,
        totp_code=code_at(secret, clock()),
        now=clock(),
    )
    assert len(codes) == 10 and len(set(codes)) == 10 and tokens.refresh_token
    assert verifier(auth_db, settings, clock).verify(tokens.access_token).id == "S1001"
    with pytest.raises(FailedPrecondition, match="already enrolled"):
        call(auth_db, service.enroll_totp, settings=settings, setup_token=again.setup_token, now=clock())
    # From now on the password alone is not enough.
    assert login(auth_db, settings, clock, "S1001", "Harbour-Lantern-42") == service.Challenge(
        "totp_required"
    )
    with pytest.raises(Unauthenticated, match="already used"):  # the enrolment code was consumed
        login(auth_db, settings, clock, "S1001", "Harbour-Lantern-42", code_at(secret, clock()))
    clock.advance(30)
    code = code_at(secret, clock())
    assert isinstance(login(auth_db, settings, clock, "S1001", "Harbour-Lantern-42", code), service.Tokens)
    with pytest.raises(Unauthenticated, match="already used"):
        login(auth_db, settings, clock, "S1001", "Harbour-Lantern-42", code)
    # The previous period's code is within the window but older than one already used.
    clock.advance(30)
    with pytest.raises(Unauthenticated, match="already used"):
        login(auth_db, settings, clock, "S1001", "Harbour-Lantern-42", code)


def test_setup_tokens_expire(auth_db: Database, settings: AuthSettings, clock: Clock) -> None:
    _, initial = call(
        auth_db,
        service.create_user,
        settings=settings,
        employee_id="S1001",
        display_name="x",
        roles=[],
        now=clock(),
    )
    first = login(auth_db, settings, clock, "S1001", initial)
    clock.advance(settings.setup_token_ttl_seconds + keys.LEEWAY_SECONDS + 1)
    with pytest.raises(Unauthenticated, match="expired"):
        call(
            auth_db,
            service.change_password,
            settings=settings,
            setup_token=first.setup_token,
            current_password=initial,
            new_password="Harbour-Lantern-42",
            now=clock(),
        )


def test_recovery_codes_work_once(auth_db: Database, settings: AuthSettings, clock: Clock) -> None:
    user = enrol(auth_db, settings, clock, "S1001", ["sales"])
    code = user.recovery_codes[3]
    assert isinstance(login(auth_db, settings, clock, "S1001", user.password, code.upper()), service.Tokens)
    with pytest.raises(Unauthenticated, match="incorrect or was already used"):
        login(auth_db, settings, clock, "S1001", user.password, code)
    other = enrol(auth_db, settings, clock, "S1002", ["sales"])
    with pytest.raises(Unauthenticated):  # somebody else's code
        login(auth_db, settings, clock, "S1001", user.password, other.recovery_codes[0])


def test_refresh_rotates_and_reuse_ends_the_session(
    auth_db: Database, settings: AuthSettings, clock: Clock
) -> None:
    user = enrol(auth_db, settings, clock, "S1001", ["sales"])
    first = login(auth_db, settings, clock, "S1001", user.password, code_at(user.totp_secret, clock()))
    second = call(auth_db, service.refresh, settings=settings, refresh_token=first.refresh_token, now=clock())
    third = call(auth_db, service.refresh, settings=settings, refresh_token=second.refresh_token, now=clock())
    assert len({first.refresh_token, second.refresh_token, third.refresh_token}) == 3
    with pytest.raises(Unauthenticated, match="already used"):
        call(auth_db, service.refresh, settings=settings, refresh_token=first.refresh_token, now=clock())
    # The reuse was recorded: the newest token of the family is dead too.
    with pytest.raises(Unauthenticated, match="session has ended"):
        call(auth_db, service.refresh, settings=settings, refresh_token=third.refresh_token, now=clock())
    with pytest.raises(Unauthenticated, match="invalid"):
        call(auth_db, service.refresh, settings=settings, refresh_token="made-up", now=clock())


def test_refresh_tokens_expire_and_logout_ends_the_session(
    auth_db: Database, settings: AuthSettings, clock: Clock
) -> None:
    user = enrol(auth_db, settings, clock, "S1001", ["sales"])
    a = login(auth_db, settings, clock, "S1001", user.password, code_at(user.totp_secret, clock()))
    clock.advance(30)
    b = login(auth_db, settings, clock, "S1001", user.password, code_at(user.totp_secret, clock()))
    call(auth_db, service.logout, refresh_token=a.refresh_token, now=clock())
    with pytest.raises(Unauthenticated, match="session has ended"):
        call(auth_db, service.refresh, settings=settings, refresh_token=a.refresh_token, now=clock())
    # Another session of the same user is untouched, until it runs out.
    b2 = call(auth_db, service.refresh, settings=settings, refresh_token=b.refresh_token, now=clock())
    clock.advance(settings.refresh_token_ttl_seconds + 1)
    with pytest.raises(Unauthenticated, match="expired"):
        call(auth_db, service.refresh, settings=settings, refresh_token=b2.refresh_token, now=clock())


def test_disabling_a_user_ends_sessions(auth_db: Database, settings: AuthSettings, clock: Clock) -> None:
    user = enrol(auth_db, settings, clock, "S1001", ["sales"])
    tokens = login(auth_db, settings, clock, "S1001", user.password, code_at(user.totp_secret, clock()))
    call(
        auth_db,
        service.update_user,
        caller=ADMIN,
        employee_id="S1001",
        patch={"status": "disabled"},
        paths=["status"],
        now=clock(),
    )
    with pytest.raises(Unauthenticated, match="session has ended"):
        call(auth_db, service.refresh, settings=settings, refresh_token=tokens.refresh_token, now=clock())
    clock.advance(30)
    with pytest.raises(Unauthenticated, match="incorrect"):
        login(auth_db, settings, clock, "S1001", user.password, code_at(user.totp_secret, clock()))


def test_access_tokens_carry_the_roles_policy(
    auth_db: Database, settings: AuthSettings, clock: Clock
) -> None:
    call(auth_db, service.create_org_unit, name="公司", kind="company", org_unit_id="ou-hq", now=clock())
    call(
        auth_db,
        service.create_org_unit,
        name="华东一组",
        kind="team",
        parent_id="ou-hq",
        org_unit_id="ou-e1",
        now=clock(),
    )
    manager = enrol(auth_db, settings, clock, "M1001", ["manager"], "ou-e1")
    enrol(auth_db, settings, clock, "S1001", ["sales"], "ou-e1")
    enrol(auth_db, settings, clock, "S2001", ["sales"], "ou-hq")
    agent = enrol(auth_db, settings, clock, "V1001", ["service"], "ou-hq")
    check = verifier(auth_db, settings, clock)

    tokens = login(auth_db, settings, clock, "M1001", manager.password, code_at(manager.totp_secret, clock()))
    claims = check.claims(tokens.access_token)
    assert claims["scope"] == "team" and claims["teammates"] == ["S1001"] and claims["org_unit"] == "ou-e1"
    assert "customer:delete" in claims["permissions"] and claims["hidden_fields"] == []
    assert jwt.get_unverified_header(tokens.access_token)["alg"] == "EdDSA"
    assert claims["exp"] - claims["iat"] == 600 and claims["aud"] == "crm"

    tokens = login(auth_db, settings, clock, "V1001", agent.password, code_at(agent.totp_secret, clock()))
    caller = check.verify(tokens.access_token)
    assert caller.scope == "org" and caller.hidden_fields == ("financial",) and caller.teammates == ()

    # A custom role: groups it does not mention are hidden; masked shows as masked.
    call(
        auth_db,
        service.create_role,
        name="auditor",
        description="reads, sees contacts masked",
        permissions=["customer:read"],
        scope="all",
        field_rules={"contact": "masked"},
        now=clock(),
    )
    policy = call(auth_db, service.policy_of, role_names=["auditor"])
    assert policy.masked_fields == ("contact",) and policy.hidden_fields == ("financial", "purchase")
    # Roles add up: the widest scope and the most visible rule win.
    both = call(auth_db, service.policy_of, role_names=["auditor", "service"])
    assert both.scope == "all" and both.hidden_fields == ("financial",) and both.masked_fields == ()


def test_roles_are_validated_and_admin_is_fixed(auth_db: Database, clock: Clock) -> None:
    with pytest.raises(InvalidArgument) as caught:
        call(
            auth_db,
            service.create_role,
            name="X",
            description="",
            permissions=["read everything"],
            scope="galaxy",
            field_rules={"secret": "visible"},
            now=clock(),
        )
    assert {v.field for v in caught.value.violations} == {
        "name",
        "permissions.0",
        "scope",
        "field_rules.secret",
    }
    with pytest.raises(FailedPrecondition):
        call(auth_db, service.update_role, name="admin", patch={"scope": "own"}, paths=["scope"], now=clock())
    role = call(
        auth_db, service.update_role, name="sales", patch={"scope": "team"}, paths=["scope"], now=clock()
    )
    assert role.scope == "team"


def test_admin_rights_come_from_role_data(auth_db: Database) -> None:
    with auth_db.session_scope(readonly=True) as session:
        service.require_admin(session=session, caller=ADMIN)
        for caller in (
            Caller(id="S1001", roles=("sales", "manager")),
            Caller(id="cli_x", kind="client", roles=("admin",)),
        ):
            with pytest.raises(PermissionDenied):
                service.require_admin(session=session, caller=caller)


def test_reset_password_forces_a_change_and_can_reset_totp(
    auth_db: Database, settings: AuthSettings, clock: Clock
) -> None:
    enrol(auth_db, settings, clock, "S1001", ["sales"])
    temporary = call(
        auth_db, service.reset_password, settings=settings, employee_id="S1001", reset_totp=True, now=clock()
    )
    first = login(auth_db, settings, clock, "S1001", temporary)
    assert first.kind == "password_change_required"
    nxt = call(
        auth_db,
        service.change_password,
        settings=settings,
        setup_token=first.setup_token,
        current_password=temporary,
        new_password="Another-Lantern-43",
        now=clock(),
    )
    assert nxt.kind == "totp_enrollment_required"


def test_passwords_are_rehashed_when_the_cost_changes(
    auth_db: Database, settings: AuthSettings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = enrol(auth_db, settings, clock, "S1001", ["sales"])
    monkeypatch.setenv("CRM_AUTH_ARGON2_TIME_COST", "2")
    stronger = AuthSettings()
    login(auth_db, stronger, clock, "S1001", user.password)
    with auth_db.session_scope(readonly=True) as session:
        assert ",t=2," in session.get(User, "S1001").password_hash


def test_key_rotation_keeps_old_tokens_verifiable_until_they_expire(
    auth_db: Database, settings: AuthSettings, clock: Clock
) -> None:
    user = enrol(auth_db, settings, clock, "S1001", ["sales"])
    check = verifier(auth_db, settings, clock)
    old = login(
        auth_db, settings, clock, "S1001", user.password, code_at(user.totp_secret, clock())
    ).access_token
    with auth_db.session_scope() as session:
        new_kid = keys.create(session=session, now=clock()).kid
    clock.advance(30)
    new = login(
        auth_db, settings, clock, "S1001", user.password, code_at(user.totp_secret, clock())
    ).access_token
    assert jwt.get_unverified_header(new)["kid"] == new_kid != jwt.get_unverified_header(old)["kid"]
    assert check.verify(old).id == check.verify(new).id == "S1001"
    with auth_db.session_scope(readonly=True) as session:
        assert len(keys.jwks(session=session, settings=settings, now=clock())["keys"]) == 2
    clock.advance(settings.token_lifetime_seconds() + keys.LEEWAY_SECONDS + 1)
    with auth_db.session_scope(readonly=True) as session:
        published = keys.jwks(session=session, settings=settings, now=clock())["keys"]
    assert [k["kid"] for k in published] == [new_kid]


def test_client_credentials(auth_db: Database, settings: AuthSettings, clock: Clock) -> None:
    client, secret = call(
        auth_db,
        clients.create,
        settings=settings,
        caller=ADMIN,
        name="天猫旗舰店",
        scopes=["customer:read", "customer:write"],
        rate_limit_per_minute=120,
        ip_allowlist=["10.1.0.0/16", "192.0.2.7"],
        now=clock(),
    )
    assert client.ip_allowlist == ["10.1.0.0/16", "192.0.2.7/32"]

    def issue(
        secret: str = secret,
        scopes: list[str] | None = None,
        ip: str = "10.1.2.3",
        cid: str = client.client_id,
    ):
        return call(
            auth_db,
            clients.issue_token,
            settings=settings,
            client_id=cid,
            client_secret=secret,
            scopes=scopes or [],
            client_ip=ip,
            now=clock(),
        )

    tokens, scopes = issue(scopes=["customer:read"])
    claims = verifier(auth_db, settings, clock).claims(tokens.access_token)
    assert scopes == ["customer:read"] and claims["scopes"] == ["customer:read"] and not tokens.refresh_token
    assert claims["kind"] == "client" and claims["rate_limit"] == 120 and claims["sub"] == client.client_id
    assert issue()[1] == ["customer:read", "customer:write"]
    with pytest.raises(InvalidArgument, match="not granted"):
        issue(scopes=["customer:read", "customer:delete"])
    with pytest.raises(Unauthenticated, match="invalid client credentials"):
        issue(secret="wrong")
    with pytest.raises(Unauthenticated, match="invalid client credentials"):
        issue(cid="cli_unknown")
    with pytest.raises(PermissionDenied, match="203.0.113.9"):
        issue(ip="203.0.113.9")
    assert issue(ip="192.0.2.7")

    _, fresh = call(
        auth_db,
        clients.rotate_secret,
        settings=settings,
        client_id=client.client_id,
        grace_seconds=60,
        now=clock(),
    )
    assert issue(secret=fresh) and issue(secret=secret)  # the old one within its grace
    clock.advance(61)
    with pytest.raises(Unauthenticated):
        issue(secret=secret)
    call(auth_db, clients.disable, client_id=client.client_id, now=clock())
    with pytest.raises(Unauthenticated, match="invalid client credentials"):
        issue(secret=fresh)


def test_clients_are_validated(auth_db: Database, settings: AuthSettings, clock: Clock) -> None:
    with pytest.raises(InvalidArgument) as caught:
        call(
            auth_db,
            clients.create,
            settings=settings,
            caller=ADMIN,
            name="",
            scopes=["*", "customer:read"],
            ip_allowlist=["10.0.0.300/8"],
            record_scope="galaxy",
            now=clock(),
        )
    assert {v.field for v in caught.value.violations} == {
        "name",
        "scopes.0",
        "ip_allowlist.0",
        "record_scope",
    }


def test_a_password_change_by_employee_id_is_no_password_oracle(
    auth_db: Database, settings: AuthSettings, clock: Clock
) -> None:
    user = enrol(auth_db, settings, clock, "S1001", ["sales"])

    def change(current: str, new: str, code: str) -> object:
        return call(
            auth_db,
            service.change_password,
            settings=settings,
            employee_id="S1001",
            current_password=current,
            new_password=new,
            totp_code=code,
            now=clock(),
        )

    # Without the second factor nothing is checked at all.
    for current in (user.password, "Wrong-Password-1"):
        with pytest.raises(InvalidArgument) as missing:
            change(current, "Brand-New-Lantern-9", "")
        assert [v.field for v in missing.value.violations] == ["totp_code"]
    # A weak new password is refused the same whether the current one is right or not.
    for current in (user.password, "Wrong-Password-1"):
        with pytest.raises(InvalidArgument) as weak:
            change(current, "short", "123456")
        assert {v.field for v in weak.value.violations} == {"new_password"}
    # A wrong password and a wrong code get one answer.
    answers = set()
    for current, code in (
        (user.password, "000000"),
        ("Wrong-Password-1", code_at(user.totp_secret, clock())),
    ):
        with pytest.raises(Unauthenticated) as refused:
            change(current, "Brand-New-Lantern-9", code)
        answers.add(refused.value.message)
    assert answers == {service.BAD_CREDENTIALS_OR_CODE}
    clock.advance(30)
    assert change(user.password, "Brand-New-Lantern-9", code_at(user.totp_secret, clock())) is None
    # The code is used up: replaying it changes nothing.
    with pytest.raises(Unauthenticated):
        change("Brand-New-Lantern-9", "Third-New-Lantern-8", code_at(user.totp_secret, clock()))
