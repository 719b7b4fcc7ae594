"""Verification of the auth service's access tokens (EdDSA JWTs) into a Caller.

Every service and the gateway build one TokenVerifier with a function that fetches the auth
service's JWK set (its GetJwks RPC). Keys are cached; an unknown kid triggers one refetch,
at most every `refetch_interval` seconds, so forged kids cannot flood the auth service.

Tokens are also refused once revoked: a thread polls the auth service's revocation list
(ListRevocations) every `revocation_interval` seconds, so logout, disabling a user or client,
and role or password changes stop their live tokens within seconds everywhere. A token carries
its subject's session version ("sv") and, for users, its session ("sid"); a token whose version
is below the published one, or whose session has ended, is refused. While the list cannot be
fetched the last one stays in force (and a warning is logged).
"""

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

from services.common.errors import Unauthenticated
from services.common.identity import SCOPES, Caller

log = logging.getLogger(__name__)

ALGORITHM = "EdDSA"
AUDIENCE = "crm"
# user: an employee; client: a partner system; service: a platform service's own client.
KINDS = ("user", "client", "service")
REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat", "jti", "kind", "scope")
REVOCATION_INTERVAL_SECONDS = 2.0


@dataclass(frozen=True)
class Revocations:
    """The auth service's revocation list: session versions by (kind, subject), ended sessions."""

    versions: Mapping[tuple[str, str], int] = field(default_factory=dict)
    sessions: frozenset[str] = frozenset()


class TokenVerifier:
    """Checks access tokens against the auth service's published keys."""

    def __init__(
        self,
        fetch_jwks: Callable[[], str | dict[str, Any]],
        *,
        issuer: str = "crm-auth",
        audience: str = AUDIENCE,
        leeway_seconds: float = 30.0,
        refetch_interval: float = 30.0,
        clock: Callable[[], float] = time.time,
        fetch_revocations: Callable[[], Revocations] | None = None,
        revocation_interval: float = REVOCATION_INTERVAL_SECONDS,
    ) -> None:
        self._fetch = fetch_jwks
        self._fetch_revocations = fetch_revocations
        self._revocation_interval = revocation_interval
        self._revoked = Revocations()
        self._poller: threading.Thread | None = None
        self._poller_lock = threading.Lock()
        self._stopping = threading.Event()
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds
        self._refetch_interval = refetch_interval
        self._clock = clock
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        raw = self._fetch()
        document = json.loads(raw) if isinstance(raw, str | bytes) else raw
        found = {}
        for entry in document.get("keys", []):
            if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519" or not entry.get("kid"):
                continue
            try:
                found[str(entry["kid"])] = jwt.PyJWK(entry, algorithm=ALGORITHM).key
            except jwt.PyJWTError:
                log.warning("skipping an unreadable signing key", extra={"kid": entry.get("kid")})
        self._keys = found
        self._fetched_at = time.monotonic()

    def _key(self, kid: str) -> Any:
        with self._lock:
            if self._fetched_at is None:
                self._load()  # the first fetch fails loudly: the auth service is a dependency
            if kid not in self._keys and time.monotonic() - (self._fetched_at or 0) >= self._refetch_interval:
                try:
                    self._load()
                except Exception:  # noqa: BLE001 - a failed refetch leaves the cached keys in place
                    log.warning("could not refetch the signing keys", exc_info=True)
                    self._fetched_at = time.monotonic()
            return self._keys.get(kid)

    def _refresh_revocations(self) -> None:
        assert self._fetch_revocations is not None
        try:
            self._revoked = self._fetch_revocations()
        except Exception:  # noqa: BLE001 - the last list stays in force until the next poll
            log.warning("could not fetch the revocation list", exc_info=True)

    def _revocations(self) -> Revocations:
        """The revocation list in force; the first call fetches it and starts the poller."""
        if self._fetch_revocations is None:
            return self._revoked
        if self._poller is None:
            with self._poller_lock:
                if self._poller is None:
                    self._refresh_revocations()

                    def poll() -> None:
                        while not self._stopping.wait(self._revocation_interval):
                            self._refresh_revocations()

                    self._poller = threading.Thread(target=poll, name="revocations", daemon=True)
                    self._poller.start()
        return self._revoked

    def close(self) -> None:
        """Stop polling the revocation list."""
        self._stopping.set()

    def claims(self, token: str) -> dict[str, Any]:
        """The verified claims of an access token; Unauthenticated when anything is off."""
        if not token:
            raise Unauthenticated("no access token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("the access token is malformed") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthenticated(f"the access token's algorithm {header.get('alg')!r} is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("the access token names no signing key")
        key = self._key(kid)
        if key is None:
            raise Unauthenticated("the access token is signed by an unknown key")
        try:
            # Times are checked below with our own clock and leeway.
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthenticated(f"the access token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated("the access token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated("the access token is from another issuer") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated("the access token's signature is invalid") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the access token is invalid: {exc}") from None
        now = self._clock()
        if float(claims["exp"]) + self._leeway <= now:
            raise Unauthenticated("the access token has expired")
        not_before = float(claims.get("nbf", claims["iat"]))
        if not_before - self._leeway > now:
            raise Unauthenticated("the access token is not valid yet")
        if claims["kind"] not in KINDS:
            raise Unauthenticated(f"unknown caller kind {claims['kind']!r}")
        if claims["scope"] not in SCOPES:
            raise Unauthenticated(f"unknown record scope {claims['scope']!r}")
        self._check_revocation(claims)
        return claims

    def _check_revocation(self, claims: dict[str, Any]) -> None:
        version = claims.get("sv", 0)
        if not isinstance(version, int) or isinstance(version, bool):
            raise Unauthenticated("the access token's 'sv' claim is not a number")
        revoked = self._revocations()
        current = revoked.versions.get((str(claims["kind"]), str(claims["sub"])))
        if current is not None and version < current:
            raise Unauthenticated("the access token was revoked (account or roles changed); log in again")
        session_id = claims.get("sid")
        if session_id and str(session_id) in revoked.sessions:
            raise Unauthenticated("the access token's session has ended; log in again")

    def verify(self, token: str) -> Caller:
        """The caller an access token stands for; Unauthenticated when it does not verify."""
        claims = self.claims(token)

        def strings(name: str) -> tuple[str, ...]:
            value = claims.get(name) or []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise Unauthenticated(f"the access token's {name!r} claim is not a list of strings")
            return tuple(value)

        return Caller(
            id=str(claims["sub"]),
            kind=str(claims["kind"]),
            roles=strings("roles"),
            scope=str(claims["scope"]),
            org_unit=str(claims.get("org_unit") or ""),
            teammates=strings("teammates"),
            hidden_fields=strings("hidden_fields"),
            permissions=strings("permissions"),
            masked_fields=strings("masked_fields"),
        )
