"""Verification of the auth service's access tokens (EdDSA JWTs) into a Caller.

Every service and the gateway build one TokenVerifier with a function that fetches the auth
service's JWK set (its GetJwks RPC). Keys are cached; an unknown kid triggers one refetch,
at most every `refetch_interval` seconds, so forged kids cannot flood the auth service.
"""

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import jwt

from services.common.errors import Unauthenticated
from services.common.identity import SCOPES, Caller

log = logging.getLogger(__name__)

ALGORITHM = "EdDSA"
AUDIENCE = "crm"
KINDS = ("user", "client")
REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat", "jti", "kind", "scope")


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
    ) -> None:
        self._fetch = fetch_jwks
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
        return claims

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
