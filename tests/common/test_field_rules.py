"""The one table of field groups: every field of every contract is in it, every service uses it,
and its rules remove, mask and redact what they say."""

import pytest

from crm.profile.v1 import profile_pb2
from crm.search.v1 import search_pb2
from crm.tagging.v1 import tagging_pb2
from services.common import field_rules as rules
from services.common.errors import PermissionDenied
from services.common.identity import Caller
from services.gateway import schemas
from services.search import documents
from services.tagging import conditions

SEES_ALL = Caller(id="A1", scope="all")
NO_MONEY = Caller(id="K1", scope="all", hidden_fields=("financial",))
MASKED = Caller(id="V1", scope="all", masked_fields=("contact", "financial"))
BLIND = Caller(id="P1", kind="client", scope="all", hidden_fields=rules.GROUPS)


def fields(message: type) -> set[str]:
    return {f.name for f in message.DESCRIPTOR.fields}


def test_every_field_of_every_contract_has_a_group_or_is_public_on_purpose() -> None:
    assert fields(profile_pb2.Customer) == set(rules.CUSTOMER)
    assert fields(profile_pb2.Contact) == set(rules.CONTACT_FIELDS)
    assert fields(profile_pb2.CustomerView) - {"customer"} == set(rules.VIEW)
    # Search hits and segment members show customer fields under the same names.
    assert fields(search_pb2.CustomerHit) - {"contacts", "tags", "score", "highlights"} <= set(rules.CUSTOMER)
    member = fields(tagging_pb2.SegmentMember) - {"customer_id", "member_since", "tags"}
    assert member <= set(rules.CUSTOMER)
    assert set(schemas.CustomerRead.model_fields) <= set(rules.CUSTOMER)
    assert set(rules.RECORDS) == {"contacts", "interactions", "orders", "contracts", "service_records"}


def test_search_and_tagging_query_fields_carry_the_tables_groups() -> None:
    for name, spec in documents.FIELDS.items():
        if name in rules.CUSTOMER:
            assert spec.group == rules.CUSTOMER[name], name
    for name, (_, _, group) in conditions.FIELDS.items():
        if name in rules.CUSTOMER:
            assert group == rules.CUSTOMER[name], name
    assert documents.FIELDS["tier"].group == rules.FINANCIAL


CUSTOMER = {
    "id": "C20240501001",
    "name": "上海明辉精密机械有限公司",
    "tier": "A",
    "deal_amount_12m": "520000.00",
    "credit_limit": "100000.00",
    "last_order_at": "2024-05-01T00:00:00Z",
    "address": "上海市浦东新区世纪大道100号",
    "birthday": None,
    "id_number": "11010519491231002X",
    "stage": "deal",
    "contacts": [
        {"name": "张伟", "phones": ["13812345678"], "emails": ["zhangwei@minghui.cn"], "wechat": "zw"}
    ],
}


def test_hidden_groups_are_null_and_contacts_keep_only_their_names() -> None:
    assert rules.customer(CUSTOMER, SEES_ALL) == CUSTOMER
    money = rules.customer(CUSTOMER, NO_MONEY)
    assert (money["tier"], money["deal_amount_12m"], money["credit_limit"]) == (None, None, None)
    assert money["contacts"] == CUSTOMER["contacts"] and money["stage"] == "deal"
    blind = rules.customer(CUSTOMER, BLIND)
    assert blind["contacts"] == [{"name": "张伟", "phones": [], "emails": [], "wechat": None}]
    assert (blind["address"], blind["id_number"], blind["last_order_at"]) == (None, None, None)


def test_masked_contacts_show_in_part_and_masked_money_not_at_all() -> None:
    shown = rules.customer(CUSTOMER, MASKED)
    assert shown["contacts"][0] == {
        "name": "张伟",
        "phones": ["138****5678"],
        "emails": ["z***@minghui.cn"],
        "wechat": "***",
    }
    assert shown["id_number"] == "110105********002X" and shown["address"] is None
    assert shown["deal_amount_12m"] is None and shown["tier"] is None


def test_history_redacts_groups_and_related_records_the_caller_may_not_see() -> None:
    entries = [
        {"field": "credit_limit", "old": "1.00", "new": "2.00"},
        {"field": "contracts[7]", "old": None, "new": {"amount": "88000.00"}},
        {"field": "orders[3]", "old": None, "new": {"amount": "10.00"}},
        {"field": "contacts[2].phones", "old": ["13800000000"], "new": ["13900000000"]},
        {"field": "stage", "old": "lead", "new": "deal"},
    ]
    redacted = {e["field"] for e in rules.changes(entries, NO_MONEY) if e.get("redacted")}
    assert redacted == {"credit_limit", "contracts[7]"}
    redacted = {e["field"] for e in rules.changes(entries, MASKED) if e.get("redacted")}
    assert redacted == {"credit_limit", "contracts[7]", "contacts[2].phones"}
    assert rules.changes(entries, SEES_ALL) == entries


def test_blocked_groups_cannot_be_queried_and_whole_records_need_their_group() -> None:
    for caller, group in ((NO_MONEY, rules.FINANCIAL), (MASKED, rules.CONTACT), (MASKED, rules.FINANCIAL)):
        with pytest.raises(PermissionDenied):
            rules.require_use(caller, group, "a filter")
    rules.require_use(NO_MONEY, rules.CONTACT, "a filter")
    rules.require_use(BLIND, rules.PUBLIC, "a filter")
    with pytest.raises(PermissionDenied):
        rules.require_group(MASKED, rules.FINANCIAL)  # masked money is no money
    rules.require_group(MASKED, rules.CONTACT)
    view = {"contracts": [{"amount": "1.00"}], "order_count": 3, "interaction_count": 2}
    assert rules.view(view, NO_MONEY) == {"contracts": [], "order_count": 3, "interaction_count": 2}
    assert rules.view(view, BLIND) == {"contracts": [], "order_count": None, "interaction_count": 2}
