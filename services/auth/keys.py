"""Signing keys (Ed25519), the published JWK set, and the tokens signed with them."""

import base64
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.auth.models import SigningKey
from services.auth.settings import AuthSettings
from services.common.errors import Unauthenticated

ALGORITHM = "EdDSA"
# Audience of setup tokens: no service accepts them as access tokens.
SETUP_AUDIENCE = "crm-auth-setup"
# Clock skew tolerated between replicas when checking our own setup tokens.
LEEWAY_SECONDS = 30


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def create(*, session: Session, now: datetime) -> SigningKey:
    """Make a new key pair the active one; earlier keys retire but stay published a while."""
    for key in session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))):
        key.retired_at = now
    private = Ed25519PrivateKey.generate()
    raw_public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kid = f"{now:%Y%m%d}-{secrets.token_hex(4)}"
    key = SigningKey(
        kid=kid,
        algorithm=ALGORITHM,
        private_pem=private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii"),
        public_jwk={
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url(raw_public),
            "kid": kid,
            "alg": ALGORITHM,
            "use": "sig",
        },
        created_at=now,
    )
    session.add(key)
    session.flush()
    return key


def get_active(*, session: Session) -> SigningKey | None:
    """The key that signs new tokens, if there is one."""
    return session.scalars(
        select(SigningKey)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc())
        .limit(1)
    ).first()


def get_active_or_create(*, session: Session, now: datetime) -> SigningKey:
    """The active signing key, made on first use."""
    return get_active(session=session) or create(session=session, now=now)


def jwks(*, session: Session, settings: AuthSettings, now: datetime) -> dict[str, Any]:
    """The public keys whose tokens may still be valid, as an RFC 7517 JWK set."""
    keep_since = now - timedelta(seconds=settings.token_lifetime_seconds() + LEEWAY_SECONDS)
    keys = session.scalars(
        select(SigningKey)
        .where(or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > keep_since))
        .order_by(SigningKey.created_at.desc())
    )
    return {"keys": [dict(key.public_jwk) for key in keys]}


def sign(*, session: Session, claims: dict[str, Any], now: datetime) -> str:
    """A JWT of the claims signed with the active key (kid in the header)."""
    key = get_active_or_create(session=session, now=now)
    private = serialization.load_pem_private_key(key.private_pem.encode("ascii"), password=None)
    return jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": key.kid})


def base_claims(
    *, settings: AuthSettings, subject: str, audience: str, ttl_seconds: int, now: datetime
) -> dict[str, Any]:
    """The registered claims every token carries."""
    issued = int(now.timestamp())
    return {
        "iss": settings.issuer,
        "aud": audience,
        "sub": subject,
        "jti": uuid.uuid4().hex,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
    }


def issue_setup_token(*, session: Session, settings: AuthSettings, employee_id: str, now: datetime) -> str:
    """A short-lived token good only for the first-login steps of one user."""
    claims = base_claims(
        settings=settings,
        subject=employee_id,
        audience=SETUP_AUDIENCE,
        ttl_seconds=settings.setup_token_ttl_seconds,
        now=now,
    )
    claims["purpose"] = "setup"
    return sign(session=session, claims=claims, now=now)


def read_setup_token(*, session: Session, settings: AuthSettings, token: str, now: datetime) -> str:
    """The employee id a valid setup token was issued to; Unauthenticated otherwise."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Unauthenticated("the setup token is malformed") from None
    key = session.get(SigningKey, str(header.get("kid", ""))) if header.get("alg") == ALGORITHM else None
    if key is None:
        raise Unauthenticated("the setup token is not signed by a known key")
    public = serialization.load_pem_private_key(key.private_pem.encode("ascii"), password=None).public_key()
    try:
        # Times are checked below against the service's clock, not PyJWT's.
        claims = jwt.decode(
            token,
            public,
            algorithms=[ALGORITHM],
            audience=SETUP_AUDIENCE,
            issuer=settings.issuer,
            options={
                "require": ["exp", "sub", "aud", "iss"],
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError:
        raise Unauthenticated("the setup token is invalid") from None
    if claims.get("purpose") != "setup":
        raise Unauthenticated("the token is not a setup token")
    if int(claims["exp"]) + LEEWAY_SECONDS < now.timestamp():
        raise Unauthenticated("the setup token has expired; log in again")
    return str(claims["sub"])
