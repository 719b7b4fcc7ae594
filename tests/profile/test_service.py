"""Domain rules of the customer archive, on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.common.db import Database
from services.common.errors import AlreadyExists, Conflict, InvalidArgument, NotFound, PermissionDenied
from services.common.identity import Caller
from services.profile import custom_fields, journal, related, service
from services.profile.models import Customer, Revision
from services.profile.settings import ProfileSettings
from tests.conftest import customer_data

SETTINGS = ProfileSettings()


def create(db: Database, caller: Caller, **overrides: object) -> Customer:
    with db.session_scope() as session:
        return service.create(session=session, caller=caller, data=customer_data(**overrides))


def fields_of(error: InvalidArgument) -> set[str]:
    return {v.field for v in error.violations}


def count_customers(db: Database) -> int:
    from sqlalchemy import func, select

    with db.session_scope(readonly=True) as session:
        return session.scalar(select(func.count()).select_from(Customer)) or 0


def test_ids_follow_the_date_and_daily_sequence(db: Database, admin: Caller) -> None:
    day = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    ids = []
    for _ in range(3):
        with db.session_scope() as session:
            ids.append(service.create(session=session, caller=admin, data=customer_data(), at=day).id)
    with db.session_scope() as session:
        next_day = service.create(
            session=session, caller=admin, data=customer_data(), at=day + timedelta(days=1)
        )
    assert ids == ["C20240501001", "C20240501002", "C20240501003"]
    assert next_day.id == "C20240502001"
    # 2024-05-02 20:00 UTC is already 05-03 in Beijing: the ID follows the business day.
    with db.session_scope() as session:
        late = service.create(
            session=session, caller=admin, data=customer_data(), at=datetime(2024, 5, 2, 20, tzinfo=UTC)
        )
    assert late.id == "C20240503001"


def test_create_normalizes_and_records_who(db: Database, rep: Caller) -> None:
    customer = create(
        db, rep, contacts=[{"name": " 李娜 ", "phones": ["+86 139-1234-5678", "(021) 6234 5678"]}]
    )
    assert customer.owner_id == "S1001"
    assert customer.created_by == "S1001" and customer.version == 1 and customer.tier == "C"
    contact = customer.contacts[0]
    assert contact.name == "李娜"
    assert contact.phones == ["13912345678", "021-62345678"]
    assert contact.is_primary


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"industry_code": "9999"}, "industry_code"),
        ({"region_code": "999999"}, "region_code"),
        ({"kind": "alien"}, "kind"),
        ({"status": "happy"}, "status"),
        ({"contacts": []}, "contacts"),
        ({"contacts": [{"name": "王五", "phones": ["12345"]}]}, "contacts.0.phones.0"),
        ({"contacts": [{"name": "王五", "emails": ["not-an-email"]}]}, "contacts.0.emails.0"),
        ({"contacts": [{"name": "王五"}]}, "contacts.0"),
        ({"name": "长" * 201}, "name"),
        ({"gender": "male"}, ""),
        ({"unknown_field": 1}, "unknown_field"),
        ({"custom_fields": {"nope": 1}}, "custom_fields.nope"),
        # Control characters: PostgreSQL cannot store NUL, and logs and audit need plain text.
        ({"name": "上海\x00明辉"}, "name"),
        ({"notes": "ok\x07"}, "notes"),
        ({"interests": ["数控\x1b机床"]}, "interests"),
        ({"contacts": [{"name": "张\x00伟", "phones": ["13812345678"]}]}, "contacts.0.name"),
    ],
)
def test_invalid_input_is_refused_field_by_field_and_writes_nothing(
    db: Database, admin: Caller, overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        create(db, admin, **overrides)
    assert field in fields_of(caught.value) or (field == "" and caught.value.violations)
    assert count_customers(db) == 0


def test_industry_and_region_codes_come_from_the_standards(db: Database, admin: Caller) -> None:
    create(db, admin, industry_code="C", region_code="440305")  # 制造业 section; 深圳市南山区
    create(db, admin, industry_code="65", region_code="110105")  # 软件和信息技术服务业; 朝阳区
    with pytest.raises(InvalidArgument):
        create(db, admin, industry_code="98", region_code="110105")  # divisions end at 97


def test_update_checks_the_version_and_keeps_history(db: Database, admin: Caller) -> None:
    customer = create(db, admin)
    with db.session_scope() as session:
        updated = service.update(
            session=session,
            caller=admin,
            customer_id=customer.id,
            expected_version=1,
            patch={"stage": "intent", "notes": "关注交期"},
            paths=["stage", "notes"],
        )
    assert updated.version == 2
    with db.session_scope() as session, pytest.raises(Conflict):
        service.update(
            session=session,
            caller=admin,
            customer_id=customer.id,
            expected_version=1,
            patch={"stage": "proposal"},
            paths=["stage"],
        )
    with db.session_scope(readonly=True) as session:
        revisions = journal.history(session, customer_id=customer.id, before_position=None, limit=10)
        current = service.get(session=session, caller=admin, customer_id=customer.id)
    assert current.stage == "intent" and current.version == 2
    assert [r.action for r in revisions] == ["customer.updated", "customer.created"]
    assert revisions[0].actor == "u-admin"
    assert {(c["field"], c["old"], c["new"]) for c in revisions[0].changes} == {
        ("stage", "lead", "intent"),
        ("notes", None, "关注交期"),
    }


def test_update_cannot_touch_derived_fields_and_clearing_required_fields_fails(
    db: Database, admin: Caller
) -> None:
    customer = create(db, admin)
    for paths in (["tier"], ["version"], ["id"], []):
        with db.session_scope() as session, pytest.raises(InvalidArgument):
            service.update(
                session=session,
                caller=admin,
                customer_id=customer.id,
                expected_version=1,
                patch={},
                paths=paths,
            )
    with db.session_scope() as session, pytest.raises(InvalidArgument) as caught:
        service.update(
            session=session,
            caller=admin,
            customer_id=customer.id,
            expected_version=1,
            patch={"name": None},
            paths=["name"],
        )
    assert "name" in fields_of(caught.value)


def test_record_as_of_a_past_time(db: Database, admin: Caller) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    with db.session_scope() as session:
        customer = service.create(session=session, caller=admin, data=customer_data(), at=t0)
    with db.session_scope() as session:
        service.update(
            session=session,
            caller=admin,
            customer_id=customer.id,
            expected_version=1,
            patch={"name": "明辉机械集团"},
            paths=["name"],
            at=t0 + timedelta(days=30),
        )
    with db.session_scope(readonly=True) as session:
        then = service.get_as_of(
            session=session, caller=admin, customer_id=customer.id, at=t0 + timedelta(days=1)
        )
        now = service.get_as_of(
            session=session, caller=admin, customer_id=customer.id, at=t0 + timedelta(days=31)
        )
        with pytest.raises(NotFound):
            service.get_as_of(
                session=session, caller=admin, customer_id=customer.id, at=t0 - timedelta(days=1)
            )
    assert then["name"] == "上海明辉精密机械有限公司" and then["version"] == 1
    assert now["name"] == "明辉机械集团" and now["version"] == 2


def test_soft_delete_hides_and_restore_brings_back(db: Database, admin: Caller) -> None:
    customer = create(db, admin)
    with db.session_scope() as session:
        service.delete(session=session, caller=admin, customer_id=customer.id, expected_version=1)
    with db.session_scope(readonly=True) as session:
        with pytest.raises(NotFound):
            service.get(session=session, caller=admin, customer_id=customer.id)
        rows, _ = service.list_customers(
            session=session, caller=admin, filters={}, order_by="", size=10, token=""
        )
        assert rows == []
    with db.session_scope() as session:
        restored = service.restore(session=session, caller=admin, customer_id=customer.id)
        assert restored.deleted_at is None and restored.version == 3
    with db.session_scope() as session, pytest.raises(AlreadyExists):
        service.restore(session=session, caller=admin, customer_id=customer.id)


def test_a_rep_reaches_only_own_customers(db: Database, rep: Caller, other_rep: Caller) -> None:
    mine = create(db, rep)
    theirs = create(db, other_rep)
    with db.session_scope(readonly=True) as session:
        rows, _ = service.list_customers(
            session=session, caller=rep, filters={}, order_by="", size=50, token=""
        )
        assert [r.id for r in rows] == [mine.id]
        with pytest.raises(NotFound):  # not 403: existence does not leak
            service.get(session=session, caller=rep, customer_id=theirs.id)
    with db.session_scope() as session, pytest.raises(PermissionDenied):
        service.update(
            session=session,
            caller=rep,
            customer_id=mine.id,
            expected_version=1,
            patch={"owner_id": "S1002"},
            paths=["owner_id"],
        )
    with db.session_scope() as session, pytest.raises(PermissionDenied):
        service.create(session=session, caller=rep, data=customer_data(owner_id="S1002"))


def test_tier_follows_last_twelve_months_of_orders(db: Database, admin: Caller) -> None:
    customer = create(db, admin)
    now = datetime.now(UTC)

    def order(amount: str, days_ago: int) -> None:
        with db.session_scope() as session:
            related.create_order(
                session=session,
                caller=admin,
                settings=SETTINGS,
                customer_id=customer.id,
                data={
                    "product": "数控车床",
                    "amount": amount,
                    "ordered_at": (now - timedelta(days=days_ago)).isoformat(),
                },
            )

    order("400000.00", days_ago=400)  # outside the window
    order("120000.00", days_ago=30)
    with db.session_scope(readonly=True) as session:
        current = service.get(session=session, caller=admin, customer_id=customer.id)
        assert (current.tier, current.deal_amount_12m_fen) == ("B", 12_000_000)
    order("380000.00", days_ago=5)
    with db.session_scope(readonly=True) as session:
        current = service.get(session=session, caller=admin, customer_id=customer.id)
        assert (current.tier, service.yuan(current.deal_amount_12m_fen)) == ("A", "500000.00")
        assert now - current.last_order_at == timedelta(days=5)
    # A year on, the recent orders age out and a daily refresh lowers the tier.
    with db.session_scope() as session:
        changed = service.recompute_tiers(
            session=session, caller=admin, settings=SETTINGS, at=now + timedelta(days=366)
        )
    assert changed == 1
    with db.session_scope(readonly=True) as session:
        assert service.get(session=session, caller=admin, customer_id=customer.id).tier == "C"


def test_tier_thresholds_are_configurable() -> None:
    settings = ProfileSettings(CRM_TIER_A_THRESHOLD=Decimal(1000), CRM_TIER_B_THRESHOLD=Decimal(10))
    assert service.tier_for(100_000, settings) == "A"
    assert service.tier_for(1_000, settings) == "B"
    assert service.tier_for(999, settings) == "C"


def test_orders_with_the_same_external_id_are_stored_once(db: Database, admin: Caller) -> None:
    customer = create(db, admin)
    data = {
        "product": "刀具",
        "amount": "99.90",
        "ordered_at": "2024-05-01T10:00:00+08:00",
        "external_id": "TB-10001",
    }
    ids = set()
    for _ in range(2):
        with db.session_scope() as session:
            ids.add(
                related.create_order(
                    session=session, caller=admin, settings=SETTINGS, customer_id=customer.id, data=data
                ).id
            )
    assert len(ids) == 1


def test_interactions_move_last_follow_up_forward_only(db: Database, admin: Caller) -> None:
    customer = create(db, admin)
    for when in ("2024-05-02T10:00:00+08:00", "2024-04-01T10:00:00+08:00"):
        with db.session_scope() as session:
            related.create_interaction(
                session=session,
                caller=admin,
                customer_id=customer.id,
                data={"channel": "phone", "occurred_at": when, "summary": "回访"},
            )
    with db.session_scope(readonly=True) as session:
        current = service.get(session=session, caller=admin, customer_id=customer.id)
        view = related.view(session=session, caller=admin, customer_id=customer.id)
    assert current.last_follow_up_at == datetime(2024, 5, 2, 2, tzinfo=UTC)
    assert view["interaction_count"] == 2
    assert view["last_interaction_at"] == "2024-05-02T02:00:00Z"


def test_custom_fields_are_typed(db: Database, admin: Caller, rep: Caller) -> None:
    with db.session_scope() as session:
        custom_fields.create(
            session=session,
            caller=admin,
            data={"key": "erp_code", "label": "ERP 编码", "type": "string", "max_length": 8},
        )
        custom_fields.create(
            session=session,
            caller=admin,
            data={"key": "level", "label": "客户等级", "type": "enum", "options": ["金", "银"]},
        )
    with db.session_scope() as session, pytest.raises(PermissionDenied):
        custom_fields.create(session=session, caller=rep, data={"key": "x", "label": "x", "type": "string"})
    with db.session_scope() as session, pytest.raises(AlreadyExists):
        custom_fields.create(
            session=session, caller=admin, data={"key": "level", "label": "x", "type": "string"}
        )
    ok = create(db, admin, custom_fields={"erp_code": "E-001", "level": "金"})
    assert ok.custom_fields == {"erp_code": "E-001", "level": "金"}
    with pytest.raises(InvalidArgument) as caught:
        create(db, admin, custom_fields={"erp_code": "E-0000001", "level": "铜"})
    assert fields_of(caught.value) == {"custom_fields.erp_code", "custom_fields.level"}


def test_list_filters_sorts_and_pages_without_gaps(db: Database, admin: Caller) -> None:
    t0 = datetime(2024, 3, 1, tzinfo=UTC)
    for i, (industry, region) in enumerate(
        [("3411", "440305"), ("6511", "440304"), ("3411", "310115"), ("0111", "440305"), ("6511", "110105")]
    ):
        with db.session_scope() as session:
            service.create(
                session=session,
                caller=admin,
                at=t0 + timedelta(hours=i),
                data=customer_data(name=f"客户{i}", industry_code=industry, region_code=region),
            )

    def ids(filters: dict[str, object], order_by: str = "created_at", size: int = 2) -> list[str]:
        found, token = [], ""
        while True:
            with db.session_scope(readonly=True) as session:
                rows, token = service.list_customers(
                    session=session, caller=admin, filters=filters, order_by=order_by, size=size, token=token
                )
            found += [r.name for r in rows]
            if not token:
                return found

    assert ids({}) == ["客户0", "客户1", "客户2", "客户3", "客户4"]
    assert ids({}, "-created_at") == ["客户4", "客户3", "客户2", "客户1", "客户0"]
    assert ids({"region_code": ["440000"]}) == ["客户0", "客户1", "客户3"]  # 广东省 and below
    assert ids({"region_code": ["440300"]}) == ["客户0", "客户1", "客户3"]  # 深圳市
    assert ids({"industry_code": ["C"]}) == ["客户0", "客户2"]  # 制造业 section
    assert ids({"industry_code": ["65"], "region_code": ["440000"]}) == ["客户1"]
    assert ids({"name_contains": "户3"}) == ["客户3"]
    assert ids({"name_contains": "%"}) == []
    with pytest.raises(InvalidArgument):
        ids({}, "password")
    with pytest.raises(InvalidArgument):
        ids({"status": ["happy"]})
    with db.session_scope(readonly=True) as session, pytest.raises(InvalidArgument):
        service.list_customers(
            session=session, caller=admin, filters={}, order_by="", size=2, token="garbage"
        )


def test_every_change_enters_the_feed_once_in_order(db: Database, admin: Caller) -> None:
    customer = create(db, admin)
    with db.session_scope() as session:
        service.update(
            session=session,
            caller=admin,
            customer_id=customer.id,
            expected_version=1,
            patch={"stage": "intent"},
            paths=["stage"],
        )
    with db.session_scope() as session:
        related.create_contact(
            session=session,
            caller=admin,
            customer_id=customer.id,
            data={"name": "赵六", "phones": ["13700001111"], "is_primary": True},
        )
    with db.session_scope(readonly=True) as session:
        rows, head = journal.read_feed(session, after_position=0, limit=100)
        later, _ = journal.read_feed(session, after_position=rows[0].position, limit=100)
    assert [r.position for r in rows] == [1, 2, 3] and head == 3
    assert [r.action for r in rows] == ["customer.created", "customer.updated", "contact.created"]
    assert [r.version for r in rows] == [1, 2, 2]  # a new contact is no edit of the record
    assert [c["name"] for c in rows[2].snapshot["contacts"] if c["is_primary"]] == ["赵六"]
    assert [r.position for r in later] == [2, 3]


def test_a_failed_change_leaves_no_revision(db: Database, admin: Caller) -> None:
    customer = create(db, admin)
    with pytest.raises(Conflict), db.session_scope() as session:
        service.update(
            session=session,
            caller=admin,
            customer_id=customer.id,
            expected_version=7,
            patch={"stage": "intent"},
            paths=["stage"],
        )
    from sqlalchemy import func, select

    with db.session_scope(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Revision)) == 1
