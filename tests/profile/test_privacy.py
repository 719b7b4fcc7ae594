"""Personal data at rest: sealed per customer, tamper-evident, rotatable; consents and erasure.

On SQLite and PostgreSQL, with a real local key file and a separate key store.
"""

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.common import field_rules
from services.common.db import Database
from services.common.errors import InvalidArgument, NotFound, PermissionDenied
from services.common.identity import Caller
from services.common.keys import DecryptionFailed
from services.profile import journal, migrate, privacy, related, sealing, service
from services.profile.keyring import KeyDestroyed, Keyring
from services.profile.models import ERASED, Customer
from tests.conftest import customer_data

PHONE = "13912345678"
EMAIL = "li.na@mingzhi-precision.cn"
ADDRESS = "上海市浦东新区张江路 88 号 3 幢"
CONTACT = "欧阳娜娜"


def personal_customer(db: Database, caller: Caller, **overrides: Any) -> Customer:
    contact = {"name": CONTACT, "phones": [f"+86 {PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}"], "emails": [EMAIL]}
    data = customer_data(**{"address": ADDRESS, "contacts": [contact], **overrides})
    with db.session_scope() as session:
        return service.create(session=session, caller=caller, data=data)


def raw_dump(db: Database) -> str:
    """Every value of every archive table, as the database holds it."""
    chunks = []
    with db.engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):  # noqa: S608 - table names from the schema
                chunks.append(json.dumps([str(v) for v in row], ensure_ascii=False))
    return "\n".join(chunks)


def test_the_database_holds_no_plaintext_personal_data(db: Database, admin: Caller) -> None:
    customer = personal_customer(db, admin, notes="采购经理的父亲病重，暂缓拜访")
    person = personal_customer(
        db, admin, name="李娜", kind="individual", gender="female", birthday="1986-04-12"
    )
    with db.session_scope() as session:
        related.create_interaction(
            session=session,
            caller=admin,
            customer_id=customer.id,
            data={
                "channel": "phone",
                "occurred_at": "2024-05-10T15:00:00+08:00",
                "summary": "客户称下月搬家到杭州",
            },
        )
        related.create_service_record(
            session=session,
            caller=admin,
            customer_id=customer.id,
            data={
                "category": "complaint",
                "subject": "交货延迟",
                "description": "客户家住上海市徐汇区，情绪激动",
            },
        )
    with db.session_scope() as session:
        service.update(
            session=session,
            caller=admin,
            customer_id=customer.id,
            expected_version=1,
            patch={"address": "北京市海淀区中关村大街 1 号"},
            paths=["address"],
        )
    dump = raw_dump(db)
    for secret in (
        PHONE,
        PHONE[-4:] + '"',
        EMAIL,
        "张江路",
        "中关村大街",
        CONTACT,
        "1986-04-12",
        "病重",
        "搬家",
        "徐汇区",
    ):
        assert secret not in dump
    assert customer.id in dump and "上海明辉精密机械有限公司" in dump  # what is not personal stays searchable
    with db.session_scope(readonly=True) as session:
        again = service.customer_to_dict(service.get(session=session, caller=admin, customer_id=customer.id))
        history = journal.history(session, customer_id=customer.id, before_position=None, limit=5)
        old_address = {c["field"]: c["old"] for c in history[0].changes}["address"]
        assert service.get(session=session, caller=admin, customer_id=person.id).birthday == "1986-04-12"
    assert again["address"] == "北京市海淀区中关村大街 1 号"
    assert again["contacts"][0]["name"] == CONTACT and again["contacts"][0]["emails"] == [EMAIL]
    assert old_address == ADDRESS


def test_a_ciphertext_moved_to_another_record_or_altered_does_not_open(db: Database, admin: Caller) -> None:
    victim = personal_customer(db, admin)
    other = personal_customer(db, admin, name="杭州远望电子有限公司")
    with db.engine.begin() as conn:
        stolen = conn.execute(
            sa.text("SELECT sealed FROM customers WHERE id = :id"), {"id": victim.id}
        ).scalar()
        conn.execute(
            sa.text("UPDATE customers SET sealed = :s WHERE id = :id"), {"s": stolen, "id": other.id}
        )
    with db.session_scope(readonly=True) as session, pytest.raises(DecryptionFailed) as moved:
        service.get(session=session, caller=admin, customer_id=other.id).address  # noqa: B018
    assert f"customer:{other.id}#customer" in moved.value.message

    with db.engine.begin() as conn:
        sealed = conn.execute(
            sa.text("SELECT sealed FROM contacts WHERE customer_id = :id"), {"id": victim.id}
        ).scalar()
        flipped = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
        conn.execute(
            sa.text("UPDATE contacts SET sealed = :s WHERE customer_id = :id"),
            {"s": flipped, "id": victim.id},
        )
    with db.session_scope(readonly=True) as session, pytest.raises(DecryptionFailed) as altered:
        service.customer_to_dict(service.get(session=session, caller=admin, customer_id=victim.id))
    assert "altered" in altered.value.message and f"customer:{victim.id}#contact:" in altered.value.message


def test_customers_are_found_by_exact_phone_or_email_without_decrypting(
    db: Database, admin: Caller, rep: Caller, other_rep: Caller
) -> None:
    mine = personal_customer(db, rep)
    personal_customer(
        db, other_rep, name="杭州远望电子有限公司", contacts=[{"name": "王强", "phones": ["13800000000"]}]
    )

    def find(caller: Caller, **filters: str) -> list[str]:
        with db.session_scope(readonly=True) as session:
            rows, _ = service.list_customers(
                session=session, caller=caller, filters=filters, order_by="", size=50, token=""
            )
            return [r.id for r in rows]

    assert find(admin, phone=PHONE) == [mine.id]
    assert find(admin, phone="+86 139-1234-5678") == [mine.id]
    assert find(admin, email=EMAIL.upper()) == [mine.id]
    assert find(admin, phone="13912345670") == []
    assert find(other_rep, phone=PHONE) == []  # outside their scope
    masked = Caller(id="K1001", roles=("marketing",), scope="org", masked_fields=("contact",))
    with pytest.raises(PermissionDenied):
        find(masked, phone=PHONE)
    with db.session_scope() as session:
        related.create_contact(
            session=session, caller=rep, customer_id=mine.id, data={"name": "赵敏", "emails": ["zhao@x.cn"]}
        )
    assert find(admin, email="zhao@x.cn") == [mine.id]


def test_rotation_rewraps_in_the_background_while_reads_and_writes_go_on(
    db: Database, keyring: Keyring, admin: Caller
) -> None:
    ids = [personal_customer(db, admin, name=f"客户{i}号有限公司").id for i in range(30)]
    keyring.provider.rotate()
    assert keyring.versions() == {1: 30}
    errors: list[BaseException] = []
    stop = threading.Event()

    def work() -> None:
        try:
            n = 0
            while not stop.is_set():
                with db.session_scope(readonly=True) as session:
                    for customer_id in ids[n % 30 :: 7]:
                        assert (
                            service.get(session=session, caller=admin, customer_id=customer_id).address
                            == ADDRESS
                        )
                ids.append(personal_customer(db, admin, name=f"新客户{n}号有限公司").id)
                n += 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    try:
        moved = sum(keyring.rewrap_all(batch=4))
    finally:
        stop.set()
        worker.join()
    assert not errors, errors
    assert moved >= 30
    versions = keyring.versions()
    assert set(versions) == {2} and versions[2] == len(ids)
    keyring.provider.retire(1)
    keyring._cache.clear()  # noqa: SLF001 - prove reads unwrap again under the new version only
    with db.session_scope(readonly=True) as session:
        assert all(service.get(session=session, caller=admin, customer_id=i).address == ADDRESS for i in ids)


def test_consents_are_recorded_checked_and_withdrawn(db: Database, rep: Caller) -> None:
    customer = personal_customer(db, rep)
    give = {"purpose": "marketing", "channel": "web_form", "evidence": "form WF-7781"}
    with db.session_scope() as session:
        consent = privacy.give_consent(session=session, caller=rep, customer_id=customer.id, data=give)
    with db.session_scope() as session, pytest.raises(InvalidArgument) as bad:
        privacy.give_consent(
            session=session,
            caller=rep,
            customer_id=customer.id,
            data={**give, "purpose": "spam", "evidence": ""},
        )
    assert {v.field for v in bad.value.violations} == {"purpose", "evidence"}
    with db.session_scope(readonly=True) as session:
        current = service.get(session=session, caller=rep, customer_id=customer.id)
        assert current.consented_purposes == ["marketing"] and current.version == 1
        listed = privacy.list_consents(session=session, caller=rep, customer_id=customer.id)
        assert [(c.purpose, c.evidence, c.recorded_by) for c in listed] == [
            ("marketing", "form WF-7781", rep.id)
        ]
        assert "form WF-7781" not in raw_dump(db)
    with db.session_scope() as session:
        privacy.withdraw_consent(session=session, caller=rep, customer_id=customer.id, consent_id=consent.id)
    with db.session_scope() as session, pytest.raises(InvalidArgument):
        privacy.withdraw_consent(session=session, caller=rep, customer_id=customer.id, consent_id=consent.id)
    with db.session_scope(readonly=True) as session:
        assert service.get(session=session, caller=rep, customer_id=customer.id).consented_purposes == []
        actions = [
            r.action for r in journal.history(session, customer_id=customer.id, before_position=None, limit=9)
        ]
    assert actions == ["consent.withdrawn", "consent.given", "customer.created"]


def test_erasure_removes_everything_and_shreds_the_key(db: Database, keyring: Keyring, admin: Caller) -> None:
    customer = personal_customer(db, admin)
    keep = personal_customer(db, admin, name="杭州远望电子有限公司")
    with db.session_scope() as session:
        related.create_interaction(
            session=session,
            caller=admin,
            customer_id=customer.id,
            data={"channel": "phone", "occurred_at": "2024-05-10T15:00:00+08:00", "summary": "回访"},
        )
        privacy.give_consent(
            session=session,
            caller=admin,
            customer_id=customer.id,
            data={"purpose": "analytics", "channel": "paper", "evidence": "signed page 3"},
        )
    with db.engine.connect() as conn:
        backup = conn.execute(
            sa.text("SELECT sealed FROM contacts WHERE customer_id = :id"), {"id": customer.id}
        ).scalar()
    events: list[tuple[str, str, Any]] = []
    result = privacy.erase_and_shred(
        db,
        keyring,
        lambda action, target, **kw: events.append((action, target, kw)),
        caller=admin,
        customer_id=customer.id,
        reason="PIPL 2024-117",
    )
    assert (
        result["key_destroyed"] and result["removed"]["contacts"] == 1 and result["removed"]["consents"] == 1
    )
    assert events == [("privacy.erase", f"customer:{customer.id}", {"details": {"reason": "PIPL 2024-117"}})]
    dump = raw_dump(db)
    assert customer.id in dump  # the tombstone: that an erasure happened, nothing more
    with db.session_scope(readonly=True) as session:
        with pytest.raises(NotFound):
            service.get(session=session, caller=admin, customer_id=customer.id, include_deleted=True)
        rows, _ = journal.read_feed(session, after_position=0, limit=100)
        mine = [r for r in rows if r.customer_id == customer.id]
        assert [r.action for r in mine] == [ERASED] and mine[0].snapshot == {} and mine[0].sealed is None
        assert service.get(session=session, caller=admin, customer_id=keep.id).address == ADDRESS
    # A copy taken before the erasure no longer opens: its key is gone for good.
    with pytest.raises(KeyDestroyed):
        keyring.key(customer.id)
    with pytest.raises(KeyDestroyed):
        keyring.ensure(customer.id)
    assert backup is not None
    with pytest.raises(NotFound):
        privacy.erase_and_shred(
            db, keyring, lambda *a, **kw: None, caller=admin, customer_id=customer.id, reason=""
        )


def test_retention_finds_churned_customers_past_the_period(db: Database, admin: Caller) -> None:
    churned = personal_customer(db, admin, status="churned")
    personal_customer(db, admin, name="杭州远望电子有限公司", status="deal")
    later = service.now() + timedelta(days=400)
    with db.session_scope(readonly=True) as session:
        assert privacy.due_for_retention(session=session, days=365, at=later) == [churned.id]
        assert privacy.due_for_retention(session=session, days=365) == []
        assert privacy.due_for_retention(session=session, days=0, at=later) == []


def test_rows_written_before_encryption_are_sealed_by_the_migration(tmp_path: Any, keyring: Keyring) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = migrate.config(url)
    from alembic import command

    command.upgrade(config, "0004")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO customers (id, name, kind, industry_code, region_code, address, scale, tier,"
                " deal_amount_12m_fen, status, stage, owner_id, source_channel, birthday, preferences,"
                " interests, custom_fields, version, created_at, updated_at, created_by, updated_by,"
                " loyalty_points, notes) VALUES ('C20240501001', '旧客户有限公司', 'company', '3411',"
                " '310115', :address, 'small', 'C', 0, 'potential', 'lead', 'S1001', 'manual',"
                " '1980-01-02', '{}', '[]', '{}', 1, '2024-05-01 00:00:00', '2024-05-01 00:00:00',"
                " 'S1001', 'S1001', 0, '女儿在北京读大学')"
            ),
            {"address": ADDRESS},
        )
        conn.execute(
            sa.text(
                "INSERT INTO contacts (id, customer_id, name, phones, emails, wechat, is_primary, departed,"
                " created_at) VALUES ('k1', 'C20240501001', :name, :phones, '[]', NULL, 1, 0,"
                " '2024-05-01 00:00:00')"
            ),
            {"name": CONTACT, "phones": json.dumps([PHONE])},
        )
        conn.execute(
            sa.text(
                "INSERT INTO revisions (position, customer_id, action, actor, at, version, changes, snapshot)"
                " VALUES (1, 'C20240501001', 'customer.created', 'S1001', '2024-05-01 00:00:00', 1,"
                " :changes, :snapshot)"
            ),
            {
                "changes": json.dumps([{"field": "address", "old": None, "new": ADDRESS}]),
                "snapshot": '{"id": "x"}',
            },
        )
        conn.execute(
            sa.text(
                "INSERT INTO interactions (id, customer_id, channel, type, occurred_at, summary, by_user,"
                " created_at) VALUES ('i1', 'C20240501001', 'phone', 'follow_up', '2024-05-02 00:00:00',"
                " '电话回访：客户住院中', 'S1001', '2024-05-02 00:00:00')"
            )
        )
    migrate.upgrade(url)
    assert sealing.seal_legacy_rows(engine, keyring) == 4
    assert sealing.seal_legacy_rows(engine, keyring) == 0
    db = Database(url, service="profile", session_info={"keyring": keyring})
    dump = raw_dump(db)
    assert ADDRESS not in dump and CONTACT not in dump and "女儿" not in dump and "住院" not in dump
    with db.session_scope(readonly=True) as session:
        customer = session.get(Customer, "C20240501001")
        assert customer is not None
        assert customer.address == ADDRESS and customer.birthday == "1980-01-02"
        assert customer.notes == "女儿在北京读大学"
        assert (
            related.view(session=session, caller=Caller(id="a", scope="all"), customer_id=customer.id)[
                "recent_interactions"
            ][0]["summary"]
            == "电话回访：客户住院中"
        )
        assert customer.contacts[0].name == CONTACT and customer.contacts[0].phones == [PHONE]
        [revision] = journal.history(session, customer_id="C20240501001", before_position=None, limit=5)
        assert revision.changes[0]["new"] == ADDRESS
    db.dispose()
    engine.dispose()


def test_id_numbers_are_checked_sealed_found_and_masked(db: Database, admin: Caller) -> None:
    person = {"name": "李娜", "kind": "individual"}
    with db.session_scope() as session, pytest.raises(InvalidArgument) as bad:
        service.create(
            session=session, caller=admin, data=customer_data(**person, id_number="110105194912310021")
        )
    assert [v.field for v in bad.value.violations] == ["id_number"]
    with db.session_scope() as session, pytest.raises(InvalidArgument):
        service.create(session=session, caller=admin, data=customer_data(id_number="11010519491231002X"))
    customer = personal_customer(db, admin, **person, id_number="11010519491231002x")
    assert "11010519491231002" not in raw_dump(db)

    def find(caller: Caller, value: str) -> list[str]:
        with db.session_scope(readonly=True) as session:
            rows, _ = service.list_customers(
                session=session, caller=caller, filters={"id_number": value}, order_by="", size=5, token=""
            )
            return [r.id for r in rows]

    assert find(admin, "11010519491231002X") == [customer.id]
    masked = Caller(id="V1001", roles=("service",), scope="org", masked_fields=("contact",))
    hidden = Caller(id="K1001", roles=("marketing",), scope="org", hidden_fields=("contact",))
    with db.session_scope(readonly=True) as session:
        data = service.customer_to_dict(service.get(session=session, caller=admin, customer_id=customer.id))
    assert data["id_number"] == "11010519491231002X"

    assert field_rules.customer(data, masked)["id_number"] == "110105********002X"
    assert field_rules.customer(data, hidden)["id_number"] is None
    with pytest.raises(PermissionDenied):
        find(masked, "11010519491231002X")
