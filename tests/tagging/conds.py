"""Short builders of crm.common.v1.Condition trees for tests."""

from typing import Any

from crm.common.v1 import common_pb2 as c


def field(name: str, **test: Any) -> c.Condition:
    """A field test: any_of=[...], all_of=[...], none_of=[...], range={...} or exists=bool."""
    ((kind, value),) = test.items()
    built = c.FieldTest(field=name)
    if kind == "range":
        built.range.CopyFrom(c.Range(**value))
    elif kind == "exists":
        built.exists = value
    else:
        getattr(built, kind).values.extend(value)
    return c.Condition(field=built)


def all_(*children: c.Condition) -> c.Condition:
    """AND."""
    return c.Condition(all=c.ConditionList(conditions=list(children)))


def any_(*children: c.Condition) -> c.Condition:
    """OR."""
    return c.Condition(any=c.ConditionList(conditions=list(children)))


def not_(child: c.Condition) -> c.Condition:
    """NOT."""
    return c.Condition(**{"not": child})


def behavior(source: str, range: dict[str, str], **kw: Any) -> c.Condition:  # noqa: A002
    """A behaviour aggregate test."""
    return c.Condition(behavior=c.BehaviorTest(source=source, range=c.Range(**range), **kw))
