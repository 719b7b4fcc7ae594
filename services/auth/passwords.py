"""Password hashing (argon2id), the password policy, and generated one-time secrets."""

import secrets
import string
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.auth.settings import AuthSettings
from services.auth.throttle import REFUSED, Throttled
from services.common.errors import FieldViolation, InvalidArgument

MIN_LENGTH = 12
# Hashing cost grows with length; nobody needs more than this.
MAX_LENGTH = 128
_CLASSES = (
    ("lower-case letters", str.islower),
    ("upper-case letters", str.isupper),
    ("digits", str.isdigit),
    ("symbols", lambda c: not c.isalnum()),
)


@cache
def _common() -> frozenset[str]:
    path = Path(__file__).parent / "data" / "common-passwords.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def policy_violations(password: str, *, employee_id: str) -> list[str]:
    """Every rule of the password policy the password breaks, as messages."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"must be at least {MIN_LENGTH} characters long")
    if len(password) > MAX_LENGTH:
        problems.append(f"must be at most {MAX_LENGTH} characters long")
    present = [name for name, test in _CLASSES if any(test(c) for c in password)]
    if len(present) < 3:
        missing = [name for name, _ in _CLASSES if name not in present]
        problems.append(
            "must mix at least 3 of: lower-case letters, upper-case letters, digits, symbols "
            f"(missing {', '.join(missing)})"
        )
    if employee_id and employee_id.lower() in password.lower():
        problems.append("must not contain the employee ID")
    if password.lower() in _common():
        problems.append("is a commonly used password")
    return problems


def check_policy(password: str, *, employee_id: str, field: str = "new_password") -> None:
    """Raise InvalidArgument naming every policy rule the password breaks."""
    problems = policy_violations(password, employee_id=employee_id)
    if problems:
        raise InvalidArgument(
            "the password does not meet the password policy",
            [FieldViolation(field, f"the password {problem}") for problem in problems],
        )


@cache
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def hasher(settings: AuthSettings) -> PasswordHasher:
    """The argon2id hasher for the configured cost."""
    return _hasher(settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism)


@cache
def _gate(size: int) -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(size)


@contextmanager
def _hashing(settings: AuthSettings) -> Iterator[None]:
    """Hold one of the process's hashing slots; Throttled when none frees up in time.

    Each hash takes argon2_memory_kib and a core for its duration: without a bound, a flood of
    logins (known ids or not) would make as many hashes at once as there are server threads.
    """
    gate = _gate(settings.argon2_concurrency)
    if not gate.acquire(timeout=settings.argon2_wait_seconds):
        REFUSED.labels("busy").inc()
        raise Throttled("too many logins are being checked right now; try again in a second", 1)
    try:
        yield
    finally:
        gate.release()


def hash_secret(secret: str, *, settings: AuthSettings) -> str:
    """The argon2id hash of a password or client secret."""
    with _hashing(settings):
        return hasher(settings).hash(secret)


def verify(stored_hash: str | None, secret: str, *, settings: AuthSettings) -> bool:
    """Whether the secret matches; with no hash, spends the same time on a dummy and says no."""
    ph = hasher(settings)
    dummy = _dummy_hash(settings) if stored_hash is None else ""
    with _hashing(settings):
        try:
            return ph.verify(stored_hash or dummy, secret) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False


def needs_rehash(stored_hash: str, *, settings: AuthSettings) -> bool:
    """Whether the hash was made with other parameters than the configured ones."""
    return hasher(settings).check_needs_rehash(stored_hash)


def _dummy_hash(settings: AuthSettings) -> str:
    return _dummy(settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism)


@cache
def _dummy(time_cost: int, memory_kib: int, parallelism: int) -> str:
    return _hasher(time_cost, memory_kib, parallelism).hash(secrets.token_urlsafe(16))


_SYMBOLS = "!#%+-=@^_"
_ALPHABET = string.ascii_letters + string.digits + _SYMBOLS


def generate(*, employee_id: str = "", length: int = 16) -> str:
    """A random password meeting the policy, every character class present."""
    while True:
        candidate = "".join(secrets.choice(_ALPHABET) for _ in range(length))
        complete = all(any(test(c) for c in candidate) for _, test in _CLASSES)
        if complete and not policy_violations(candidate, employee_id=employee_id):
            return candidate
