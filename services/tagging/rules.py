"""Tag rules: a condition and the tag it gives to matching customers (and takes off those it
tagged that stop matching), dry runs, and applying a rule to some customers or to everyone."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from crm.common.v1 import common_pb2
from services.common.errors import FieldViolation, InvalidArgument, NotFound
from services.common.identity import Caller
from services.tagging import conditions
from services.tagging.models import Assignment, Customer, Rule, Tag
from services.tagging.service import apply_assignments, get_tag, now, text_problems

RULE_FIELDS = ("name", "tag_id", "condition", "enabled", "description")


def _bad(field: str, message: str) -> InvalidArgument:
    return InvalidArgument("invalid rule", [FieldViolation(field, message)])


def _clean_rule(
    session: Session, caller: Caller, data: dict[str, Any], paths: Sequence[str]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    violations = []
    for key in paths:
        values[key] = data.get(key)
    if "name" in values:
        values["name"] = str(values["name"] or "").strip()
        if not 1 <= len(values["name"]) <= 100:
            violations.append(FieldViolation("rule.name", "1 to 100 characters"))
    if "description" in values:
        values["description"] = str(values["description"] or "")
        if len(values["description"]) > 500:
            violations.append(FieldViolation("rule.description", "at most 500 characters"))
    violations += text_problems({k: values[k] for k in ("name", "description") if k in values}, "rule")
    if "enabled" in values:
        values["enabled"] = bool(values["enabled"])
    if violations:
        raise InvalidArgument("invalid rule", violations)
    if "tag_id" in values:
        get_tag(session=session, tag_id=str(values["tag_id"] or ""))
    if "condition" in values:
        cond = values["condition"]
        if not isinstance(cond, common_pb2.Condition) or cond.WhichOneof("kind") is None:
            raise _bad("rule.condition", "a rule needs a condition")
        conditions.validate(cond, caller, "rule.condition")
        values["condition"] = conditions.to_json(cond)
    return values


def list_rules(*, session: Session, caller: Caller) -> list[Rule]:
    """Every tag rule, by name."""
    return list(session.scalars(select(Rule).order_by(Rule.name)))


def get_rule(*, session: Session, rule_id: str) -> Rule:
    """A rule, or NotFound."""
    rule = session.get(Rule, rule_id) if rule_id else None
    if rule is None:
        raise NotFound(f"no tag rule {rule_id}")
    return rule


def create_rule(*, session: Session, caller: Caller, data: dict[str, Any]) -> Rule:
    """A new rule; when enabled it is applied to every customer at once."""
    values = _clean_rule(session, caller, data, RULE_FIELDS)
    at = now()
    rule = Rule(id=str(uuid.uuid4()), created_at=at, updated_at=at, created_by=caller.id, **values)
    session.add(rule)
    session.flush()
    if rule.enabled:
        apply_rule(session, rule=rule, at=at)
    return rule


def update_rule(
    *, session: Session, caller: Caller, rule_id: str, data: dict[str, Any], paths: list[str]
) -> Rule:
    """Change a rule; an enabled rule is re-applied to every customer at once."""
    unknown = [p for p in paths if p not in RULE_FIELDS]
    if not paths or unknown:
        raise _bad("update_mask", f"name the fields to change: {', '.join(RULE_FIELDS)}")
    rule = get_rule(session=session, rule_id=rule_id)
    values = _clean_rule(session, caller, data, paths)
    old_tag = rule.tag_id
    for key, value in values.items():
        setattr(rule, key, value)
    rule.updated_at = now()
    session.flush()
    if old_tag != rule.tag_id or not rule.enabled:
        _withdraw(session, rule_id=rule.id, tag_id=old_tag, at=rule.updated_at)
    if rule.enabled:
        apply_rule(session, rule=rule, at=rule.updated_at)
    return rule


def delete_rule(*, session: Session, caller: Caller, rule_id: str) -> None:
    """Delete a rule and take off the tags it put on."""
    rule = get_rule(session=session, rule_id=rule_id)
    _withdraw(session, rule_id=rule.id, tag_id=rule.tag_id, at=now())
    session.delete(rule)
    session.flush()


def _withdraw(session: Session, *, rule_id: str, tag_id: str, at: datetime) -> None:
    tag = session.get(Tag, tag_id)
    if tag is None:
        return
    ids = list(
        session.scalars(
            select(Assignment.customer_id).where(
                Assignment.tag_id == tag_id, Assignment.source == f"rule:{rule_id}"
            )
        )
    )
    apply_assignments(
        session, [(c, tag, "removed", f"rule:{rule_id}") for c in ids], actor=f"rule:{rule_id}", at=at
    )


def rule_plan(
    session: Session,
    *,
    rule: Rule,
    at: datetime,
    customer_ids: Sequence[str] | None = None,
    within: ColumnElement[bool] | None = None,
) -> tuple[list[str], list[str], int]:
    """Who the rule would tag and untag now (among customer_ids when given, and only customers
    `within` a record scope when given), and how many match."""
    tree = conditions.from_json(rule.condition)
    source = f"rule:{rule.id}"
    tagged_q = select(Assignment.customer_id, Assignment.source).where(Assignment.tag_id == rule.tag_id)
    if within is not None:
        tagged_q = tagged_q.join(Customer, Customer.id == Assignment.customer_id).where(within)
    if customer_ids is not None:
        matching: set[str] = set()
        tagged: dict[str, str] = {}
        ids = list(customer_ids)
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            cond = conditions.where(tree, caller=None, now=at, among=chunk)
            matching |= set(session.scalars(select(Customer.id).where(cond, Customer.id.in_(chunk))))
            tagged.update(
                {c: s for c, s in session.execute(tagged_q.where(Assignment.customer_id.in_(chunk)))}
            )
    else:
        matching = set(
            session.scalars(
                select(Customer.id).where(
                    conditions.where(tree, caller=None, now=at), true() if within is None else within
                )
            )
        )
        tagged = {c: s for c, s in session.execute(tagged_q)}
    to_assign = sorted(matching - set(tagged))
    to_remove = sorted(c for c, s in tagged.items() if s == source and c not in matching)
    return to_assign, to_remove, len(matching)


def apply_rule(
    session: Session,
    *,
    rule: Rule,
    at: datetime,
    customer_ids: Sequence[str] | None = None,
    reconcile: bool = True,
) -> set[str]:
    """Make the rule's tag match its condition (for customer_ids, or everyone); the customers changed."""
    tag = session.get(Tag, rule.tag_id)
    if tag is None or not rule.enabled:
        return set()
    to_assign, to_remove, _ = rule_plan(session, rule=rule, at=at, customer_ids=customer_ids)
    source = f"rule:{rule.id}"
    changes = [(c, tag, "assigned", source) for c in to_assign] + [
        (c, tag, "removed", source) for c in to_remove
    ]
    if customer_ids is None:
        rule.last_run_at = at
    return apply_assignments(session, changes, actor=source, at=at, reconcile=reconcile)


def dry_run(
    *, session: Session, caller: Caller, rule_id: str, data: dict[str, Any] | None
) -> tuple[int, int, int, list[str]]:
    """Counts of matching, to-be-tagged and to-be-untagged customers, and a sample; changes nothing."""
    if rule_id:
        rule = get_rule(session=session, rule_id=rule_id)
    else:
        values = _clean_rule(session, caller, data or {}, ("tag_id", "condition"))
        rule = Rule(id="dry-run", tag_id=values["tag_id"], condition=values["condition"], enabled=True)
    # The caller learns only of what they may see: customers in their record scope, and matches
    # on fields they may read (a count over a hidden amount is an oracle for it).
    conditions.validate(conditions.from_json(rule.condition), caller, "condition")
    to_assign, to_remove, matching = rule_plan(session, rule=rule, at=now(), within=conditions.scope(caller))
    return matching, len(to_assign), len(to_remove), to_assign[:10]


def enabled_rules(session: Session) -> list[Rule]:
    """Rules in force."""
    return list(session.scalars(select(Rule).where(Rule.enabled.is_(True)).order_by(Rule.created_at)))
