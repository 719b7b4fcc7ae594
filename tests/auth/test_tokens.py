"""TokenVerifier: what every service accepts as an access token, and what it refuses."""

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.errors import Unauthenticated
from services.common.tokens import TokenVerifier

ISSUER = "crm-auth"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class KeySet:
    """Signing keys and the JWK set published for them, counting fetches."""

    def __init__(self) -> None:
        self.private: dict[str, Ed25519PrivateKey] = {}
        self.fetches = 0
        self.add("k1")

    def add(self, kid: str) -> None:
        self.private[kid] = Ed25519PrivateKey.generate()

    def jwk(self, kid: str) -> dict[str, Any]:
        raw = (
            self.private[kid]
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
        return {"kty": "OKP", "crv": "Ed25519", "x": b64(raw), "kid": kid, "alg": "EdDSA", "use": "sig"}

    def fetch(self) -> str:
        self.fetches += 1
        return json.dumps({"keys": [self.jwk(kid) for kid in self.private]})

    def sign(self, kid: str = "k1", **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": "crm",
            "sub": "S1001",
            "kind": "user",
            "roles": ["sales"],
            "scope": "own",
            "org_unit": "ou-e1",
            "teammates": [],
            "hidden_fields": ["financial"],
            "jti": "j1",
            "iat": now,
            "nbf": now,
            "exp": now + 600,
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.private[kid], algorithm="EdDSA", headers={"kid": kid})


@pytest.fixture
def keyset() -> KeySet:
    return KeySet()


@pytest.fixture
def verifier(keyset: KeySet) -> TokenVerifier:
    return TokenVerifier(keyset.fetch, issuer=ISSUER, refetch_interval=60)


def refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Unauthenticated) as caught:
        verifier.verify(token)
    return caught.value.message


def test_a_good_token_becomes_the_caller(keyset: KeySet, verifier: TokenVerifier) -> None:
    caller = verifier.verify(keyset.sign(teammates=["S1002"]))
    assert (caller.id, caller.kind, caller.roles, caller.scope) == ("S1001", "user", ("sales",), "own")
    assert (
        caller.org_unit == "ou-e1"
        and caller.teammates == ("S1002",)
        and caller.hidden_fields == ("financial",)
    )
    assert keyset.fetches == 1
    verifier.verify(keyset.sign())
    assert keyset.fetches == 1  # keys are cached


def test_a_tampered_token_is_refused(keyset: KeySet, verifier: TokenVerifier) -> None:
    header, payload, signature = keyset.sign().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "all"
    forged = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    assert refused(verifier, forged) == "the access token's signature is invalid"


def test_expired_and_future_tokens_are_refused(keyset: KeySet, verifier: TokenVerifier) -> None:
    now = int(time.time())
    assert (
        refused(verifier, keyset.sign(iat=now - 700, nbf=now - 700, exp=now - 100))
        == "the access token has expired"
    )
    assert refused(verifier, keyset.sign(iat=now + 300, nbf=now + 300, exp=now + 900)) == (
        "the access token is not valid yet"
    )
    assert verifier.verify(keyset.sign(exp=now - 5)).id == "S1001"  # within the leeway


def test_wrong_audience_and_issuer_are_refused(keyset: KeySet, verifier: TokenVerifier) -> None:
    assert refused(verifier, keyset.sign(aud="crm-auth-setup")) == "the access token is for another audience"
    assert refused(verifier, keyset.sign(iss="evil")) == "the access token is from another issuer"


def test_missing_claims_are_refused(keyset: KeySet, verifier: TokenVerifier) -> None:
    assert refused(verifier, keyset.sign(kind=None)) == "the access token lacks the 'kind' claim"
    assert refused(verifier, keyset.sign(exp=None)) == "the access token lacks the 'exp' claim"
    assert refused(verifier, keyset.sign(scope="galaxy")) == "unknown record scope 'galaxy'"
    assert (
        refused(verifier, keyset.sign(roles="admin"))
        == "the access token's 'roles' claim is not a list of strings"
    )


def test_alg_none_is_refused(keyset: KeySet, verifier: TokenVerifier) -> None:
    claims = jwt.decode(keyset.sign(), options={"verify_signature": False})
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "k1"}).encode())
    unsigned = f"{header}.{b64(json.dumps(claims).encode())}."
    assert refused(verifier, unsigned) == "the access token's algorithm 'none' is not accepted"


def test_hmac_with_the_public_key_as_secret_is_refused(keyset: KeySet, verifier: TokenVerifier) -> None:
    claims = jwt.decode(keyset.sign(), options={"verify_signature": False})
    public = keyset.private["k1"].public_key()
    for secret in (
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        keyset.jwk("k1")["x"].encode(),
    ):
        header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
        body = f"{header}.{b64(json.dumps(claims).encode())}"
        mac = hmac.new(secret, body.encode(), hashlib.sha256).digest()
        assert (
            refused(verifier, f"{body}.{b64(mac)}") == "the access token's algorithm 'HS256' is not accepted"
        )


def test_garbage_is_refused(verifier: TokenVerifier) -> None:
    assert refused(verifier, "") == "no access token"
    assert refused(verifier, "not.a.token") == "the access token is malformed"


def test_unknown_kids_refetch_once_then_are_refused(keyset: KeySet) -> None:
    verifier = TokenVerifier(keyset.fetch, issuer=ISSUER, refetch_interval=0)
    verifier.verify(keyset.sign())
    keyset.add("k2")  # a rotation: the new kid is fetched on first sight
    assert verifier.verify(keyset.sign("k2")).id == "S1001"
    assert keyset.fetches == 2
    stranger = KeySet()
    stranger.private = {"k9": Ed25519PrivateKey.generate()}
    assert refused(verifier, stranger.sign("k9")) == "the access token is signed by an unknown key"


def test_refetching_is_rate_limited(keyset: KeySet, verifier: TokenVerifier) -> None:
    verifier.verify(keyset.sign())
    stranger = KeySet()
    stranger.private = {"k9": Ed25519PrivateKey.generate()}
    for _ in range(5):
        refused(verifier, stranger.sign("k9"))
    assert keyset.fetches == 1


def test_a_key_with_the_right_kid_but_another_secret_is_refused(
    keyset: KeySet, verifier: TokenVerifier
) -> None:
    impostor = KeySet()  # also calls its key k1
    assert refused(verifier, impostor.sign("k1")) == "the access token's signature is invalid"
