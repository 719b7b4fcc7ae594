"""Login throttling: decaying failure scores per account and per address, delays that end by
themselves, and familiar addresses that strangers' failures cannot lock.

* Every failed password or code adds 1 to the score of the account (as typed) and of the
  address it came from; a score leaks one failure per `lockout_decay_seconds`, so occasional
  mistakes are forgotten and an attacker's trickle never adds up.
* From `lockout_threshold` failures on, each further failure delays the next attempt by
  `lockout_base_seconds`, doubling up to `lockout_max_seconds`. During a delay attempts are
  refused at once (RESOURCE_EXHAUSTED, no password hashed) and not counted, so hammering does
  not make the delay longer: every delay ends by itself.
* An account's attempts from an address it completed a login from before (password and second
  factor, within `familiar_days`) are counted apart, and not against that address. A stranger's
  failures, from anywhere else, never delay the owner at their usual address; an administrator
  can lift every delay (UnlockUser).
"""

from datetime import datetime, timedelta

import grpc
from prometheus_client import Counter
from sqlalchemy import delete
from sqlalchemy.orm import Session

from services.auth.models import LoginContext, LoginFailure
from services.auth.settings import AuthSettings
from services.common.errors import DomainError

ANY_CONTEXT = "*"

REFUSED = Counter(
    "crm_auth_login_throttled_total",
    "Login steps refused before any check: delayed after failures, or too many hashes at once.",
    ["reason"],
)


class Throttled(DomainError):
    """Too many attempts (or too many at once): try again after `retry_after` seconds."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


Key = tuple[str, str]


def _familiar(session: Session, settings: AuthSettings, employee_id: str, source: str, now: datetime) -> bool:
    if not source or not employee_id:
        return False
    seen = session.get(LoginContext, (employee_id[:64], source[:128]))
    return seen is not None and seen.last_success_at > now - timedelta(days=settings.familiar_days)


def keys_for(
    *, session: Session, settings: AuthSettings, employee_id: str, source: str, now: datetime
) -> list[Key]:
    """The (key, context) scores an attempt by this account from this address counts against."""
    if _familiar(session, settings, employee_id, source, now):
        return [(f"user:{employee_id}", f"src:{source}")]
    found = [(f"user:{employee_id}", ANY_CONTEXT)]
    if source:
        found.append((f"ip:{source}", ANY_CONTEXT))
    return found


def check(*, session: Session, keys: list[Key], now: datetime) -> None:
    """Throttled while any of the scores has a delay running."""
    rows = [session.get(LoginFailure, key) for key in keys]
    until = max((r.locked_until for r in rows if r is not None and r.locked_until), default=None)
    if until is not None and until > now:
        wait = max(1, int((until - now).total_seconds() + 0.999))
        REFUSED.labels("delayed").inc()
        raise Throttled(f"too many failed attempts; try again in {wait} seconds", wait)


def fail(*, session: Session, settings: AuthSettings, keys: list[Key], now: datetime) -> None:
    """Count a failure against each score; from the threshold on, start a doubling delay."""
    for key, context in keys:
        threshold = settings.lockout_threshold if key.startswith("user:") else settings.source_threshold
        row = session.get(LoginFailure, (key, context), with_for_update=True)
        if row is None:
            row = LoginFailure(key=key, context=context, score=0.0, updated_at=now)
            session.add(row)
        elapsed = max(0.0, (now - row.updated_at).total_seconds())
        row.score = max(0.0, row.score - elapsed / settings.lockout_decay_seconds) + 1
        row.updated_at = now
        # Rounded: a burst's failures are a few milliseconds' leak short of whole numbers.
        over = int(row.score + 0.5) - threshold
        if over >= 0:
            seconds = min(settings.lockout_base_seconds * 2 ** min(over, 30), settings.lockout_max_seconds)
            row.locked_until = now + timedelta(seconds=seconds)
    session.flush()


def succeed(*, session: Session, employee_id: str, source: str, keys: list[Key], now: datetime) -> None:
    """A completed login: its account's score is cleared and the address becomes familiar."""
    for key, context in keys:
        if key.startswith("user:"):
            session.execute(
                delete(LoginFailure).where(LoginFailure.key == key, LoginFailure.context == context)
            )
    if source:
        seen = session.get(LoginContext, (employee_id, source[:128]), with_for_update=True)
        if seen is None:
            session.add(LoginContext(employee_id=employee_id, source=source[:128], last_success_at=now))
        else:
            seen.last_success_at = now
    session.flush()


def unlock(*, session: Session, employee_id: str) -> None:
    """Lift every delay of the account, in every context."""
    session.execute(delete(LoginFailure).where(LoginFailure.key == f"user:{employee_id}"))


def locked_until(*, session: Session, employee_id: str, now: datetime) -> datetime | None:
    """When the account's delay for unfamiliar addresses ends, if one is running."""
    row = session.get(LoginFailure, (f"user:{employee_id}", ANY_CONTEXT))
    if row is not None and row.locked_until is not None and row.locked_until > now:
        return row.locked_until
    return None
