"""Anomaly rules over the audit stream: each new event is checked as it is recorded.

Rules (thresholds are deliberately plain, tuned per installation through AuthSettings later):
* failed_logins     — 5 refused logins for one employee ID within 15 minutes;
* repeated_denials  — 5 refused calls by one caller within 10 minutes;
* mass_viewing      — 200 distinct customers shown to one person or partner within an hour, by
  single reads and by the lists, searches and segment reads that returned them (the threshold
  is CRM_AUTH_MASS_VIEWING_THRESHOLD);
* off_hours         — a person working with customer data outside 07:00-21:00 business time;
* new_location      — a person's session used from an address none of their earlier events came from;
* refresh_token_reuse — a spent refresh token presented again: the session was likely stolen
  (its whole family is revoked at once).
An open alert of the same kind for the same actor is added to rather than repeated. Nobody
acknowledges an alert about their own actions (separation of duties).
"""

import threading
import uuid
from collections import OrderedDict
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, event, func, select, union
from sqlalchemy.orm import Session

from services.auth.models import AuditEvent, AuditEventCustomer, SecurityAlert
from services.auth.settings import AuthSettings
from services.common.errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied

BUSINESS_TIMEZONE = ZoneInfo("Asia/Shanghai")
WORKING_HOURS = (7, 21)
# Reads of one customer, named in the event's target.
READ_ACTIONS = ("customer.read", "customer.view", "customer.history")
_CUSTOMER_TARGET = "customer:"


@dataclass(frozen=True)
class Rule:
    kind: str
    window: timedelta
    threshold: int
    summary: str


FAILED_LOGINS = Rule("failed_logins", timedelta(minutes=15), 5, "{count} refused logins within 15 minutes")
REPEATED_DENIALS = Rule(
    "repeated_denials", timedelta(minutes=10), 5, "{count} refused calls within 10 minutes"
)
MASS_VIEWING = Rule("mass_viewing", timedelta(hours=1), 200, "{count} customers shown within an hour")
OFF_HOURS = Rule("off_hours", timedelta(hours=12), 1, "customer data used outside working hours")
NEW_LOCATION = Rule("new_location", timedelta(hours=12), 1, "used from a new address: {source}")
REFRESH_REUSE = Rule(
    "refresh_token_reuse",
    timedelta(hours=12),
    1,
    "a spent refresh token was presented again from {source}: the session may be stolen and was ended",
)


@dataclass(frozen=True)
class Rules:
    """The rules an installation tunes through its settings."""

    mass_viewing: Rule = MASS_VIEWING

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> "Rules":
        """The rules with the installation's thresholds."""
        return cls(mass_viewing=replace(MASS_VIEWING, threshold=settings.mass_viewing_threshold))


DEFAULT_RULES = Rules()


def _count(session: Session, rule: Rule, actor: str, at: datetime, *conditions: Any) -> int:
    """Matching events in the rule's window, counted no further than ten times its threshold:
    every recorded event runs these checks, so their cost must not grow with a busy actor."""
    window = (
        select(AuditEvent.seq)
        .where(AuditEvent.actor == actor, AuditEvent.at > at - rule.window, *conditions)
        .limit(rule.threshold * 10)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(window)) or 0)


def _shown_statement() -> Any:
    """Distinct customers an actor's successful reads returned since a time: single reads (target
    customer:<id>) and listing reads (their customer rows) alike, each kind no further back than
    its newest `cap` rows. Built once: constructing it cost more than running it."""
    recent = (
        AuditEvent.actor == bindparam("actor"),
        AuditEvent.at > bindparam("since"),
        AuditEvent.outcome == "success",
    )
    listed = (
        select(AuditEventCustomer.customer_id.label("customer_id"))
        .join(AuditEvent, AuditEvent.seq == AuditEventCustomer.seq)
        .where(*recent)
        .order_by(AuditEvent.at.desc())
        .limit(bindparam("cap"))
        .subquery()
    )
    single = (
        select(func.substr(AuditEvent.target, len(_CUSTOMER_TARGET) + 1).label("customer_id"))
        .where(*recent, AuditEvent.action.in_(READ_ACTIONS), AuditEvent.target.startswith(_CUSTOMER_TARGET))
        .order_by(AuditEvent.at.desc())
        .limit(bindparam("cap"))
        .subquery()
    )
    shown = union(select(listed.c.customer_id), select(single.c.customer_id)).subquery()
    return select(func.count()).select_from(shown)


_SHOWN = _shown_statement()


def _customers_shown(session: Session, rule: Rule, actor: str, at: datetime) -> int:
    """Distinct customers shown to the actor within the rule's window: one statement over the
    (actor, at) index reading at most five times the threshold of rows of each kind, so its cost
    does not grow with a busy actor (an actor who reads the same customers over and over more
    than that within the window is counted over their latest reads only)."""
    cap = rule.threshold * 5
    return int(session.scalar(_SHOWN, {"actor": actor, "since": at - rule.window, "cap": cap}) or 0)


class _KnownAddresses:
    """(log, person, address) triples already in a committed log: never a new location again,
    so their events need no look-up. Bounded; filled only after a commit, so a rolled-back
    event teaches nothing."""

    def __init__(self, size: int = 50_000) -> None:
        self._pairs: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def __contains__(self, pair: object) -> bool:
        with self._lock:
            return pair in self._pairs

    def learn_on_commit(self, session: Session, pairs: set[tuple[str, str, str]]) -> None:
        def learn(_: Session) -> None:
            with self._lock:
                for pair in pairs:
                    self._pairs[pair] = None
                    self._pairs.move_to_end(pair)
                while len(self._pairs) > self._size:
                    self._pairs.popitem(last=False)

        if pairs:
            event.listen(session, "after_commit", learn, once=True)


_known = _KnownAddresses()


def _new_location(session: Session, row: dict[str, Any]) -> bool:
    earlier = (AuditEvent.actor == row["actor"], AuditEvent.seq < row["seq"])
    seen_before = session.scalar(select(AuditEvent.seq).where(*earlier).limit(1)) is not None
    from_here = session.scalar(
        select(AuditEvent.seq).where(*earlier, AuditEvent.source == row["source"]).limit(1)
    )
    return seen_before and from_here is None


def _raise(
    session: Session,
    rule: Rule,
    row: dict[str, Any],
    count: int,
    raised: dict[tuple[str, str], SecurityAlert],
) -> None:
    """Open an alert, or add to the actor's open one; `raised` holds those touched in this batch."""
    existing = (
        raised.get((rule.kind, row["actor"]))
        or session.scalars(
            select(SecurityAlert).where(
                SecurityAlert.kind == rule.kind,
                SecurityAlert.actor == row["actor"],
                SecurityAlert.status == "open",
                SecurityAlert.updated_at > row["at"] - rule.window,
            )
        ).first()
    )
    summary = rule.summary.format(count=count, source=row.get("source", ""))
    if existing is not None:
        existing.count, existing.last_seq = count, row["seq"]
        existing.updated_at, existing.summary = row["at"], summary
        raised[rule.kind, row["actor"]] = existing
        return
    raised[rule.kind, row["actor"]] = alert = SecurityAlert(
        id=str(uuid.uuid4()),
        kind=rule.kind,
        actor=row["actor"],
        summary=summary,
        first_seq=row["seq"],
        last_seq=row["seq"],
        count=count,
        raised_at=row["at"],
        updated_at=row["at"],
        status="open",
    )
    session.add(alert)


def evaluate(
    session: Session,
    rows: list[dict[str, Any]],
    *,
    rules: Rules = DEFAULT_RULES,
    listing: AbstractSet[int] = frozenset(),
) -> None:
    """Check freshly recorded events (already flushed) against every rule; `listing` holds the
    seqs of those that listed the customers they returned.

    A batch often holds many events of one person from one address (a busy search session):
    their address is checked once, and their alerts are looked up once; an address the person
    is known to have used before is not looked up at all. Customers shown are counted once per
    person and batch, after their last read in it: the batch's events share one time, so that
    count is what each of their reads would have counted by then.
    """
    raised: dict[tuple[str, str], SecurityAlert] = {}
    viewers: dict[str, dict[str, Any]] = {}
    located: set[tuple[str, str, str]] = set()
    log = session.get_bind().url.render_as_string()
    for row in rows:
        action, outcome, actor, at = row["action"], row["outcome"], row["actor"], row["at"]
        if action == "auth.refresh_reuse":
            _raise(session, REFRESH_REUSE, row, 1, raised)
        if action == "auth.login" and outcome == "denied":
            count = _count(
                session,
                FAILED_LOGINS,
                actor,
                at,
                AuditEvent.action == "auth.login",
                AuditEvent.outcome == "denied",
            )
            if count >= FAILED_LOGINS.threshold:
                _raise(session, FAILED_LOGINS, row, count, raised)
        elif outcome == "denied":
            count = _count(
                session,
                REPEATED_DENIALS,
                actor,
                at,
                AuditEvent.outcome == "denied",
                AuditEvent.action != "auth.login",
            )
            if count >= REPEATED_DENIALS.threshold:
                _raise(session, REPEATED_DENIALS, row, count, raised)
        # The platform's own services read customers in bulk by design (indexing, evaluating).
        reads = action in READ_ACTIONS or row["seq"] in listing
        if reads and outcome == "success" and row["actor_kind"] != "service":
            viewers[actor] = row
        local_hour = at.astimezone(BUSINESS_TIMEZONE).hour
        outside = not WORKING_HOURS[0] <= local_hour < WORKING_HOURS[1]
        if outside and row["actor_kind"] == "user" and action.startswith("customer."):
            _raise(session, OFF_HOURS, row, 1, raised)
        pair = (log, actor, row["source"])
        if row["actor_kind"] == "user" and row["source"] and pair not in located:
            # Later events from the same address in this batch have it as an earlier address.
            located.add(pair)
            if pair not in _known and _new_location(session, row):
                _raise(session, NEW_LOCATION, row, 1, raised)
    for actor, row in viewers.items():
        count = _customers_shown(session, rules.mass_viewing, actor, row["at"])
        if count >= rules.mass_viewing.threshold:
            _raise(session, rules.mass_viewing, row, count, raised)
    _known.learn_on_commit(session, located)


def list_alerts(*, session: Session, status: str, limit: int) -> list[SecurityAlert]:
    """Alerts, newest first, optionally only open or only acknowledged ones."""
    if status not in ("", "open", "acknowledged"):
        raise InvalidArgument("invalid filter", [FieldViolation("status", "must be open or acknowledged")])
    stmt = select(SecurityAlert)
    if status:
        stmt = stmt.where(SecurityAlert.status == status)
    return list(session.scalars(stmt.order_by(SecurityAlert.raised_at.desc()).limit(max(1, min(limit, 500)))))


def acknowledge(*, session: Session, alert_id: str, by: str, at: datetime) -> SecurityAlert:
    """Mark an alert as seen by someone on the security team, never by the person it is about."""
    alert = session.get(SecurityAlert, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} not found")
    if alert.actor == by:
        raise PermissionDenied("this alert is about your own actions: someone else must acknowledge it")
    if alert.status != "acknowledged":
        alert.status, alert.acknowledged_by, alert.acknowledged_at = "acknowledged", by, at
    return alert
