"""A person's rights through the REST API, with every service running: encrypted at rest,
consents, export, and an erasure that reaches search and shreds the key.

Runs on SQLite and PostgreSQL (the `stack` fixture), search on the embedded engine.
"""

import json
import sqlite3
from typing import Any

import httpx
import psycopg
import pytest

from scripts.stack import Stack
from services.common.keys import LocalKeyProvider
from services.profile.keyring import KeyDestroyed, Keyring, keystore_url
from tests.conftest import customer_data
from tests.waiting import eventually

PHONE = "13698765432"
EMAIL = "ouyang.min@huaxin-med.cn"
ADDRESS = "广东省深圳市南山区科技园南路 18 号"
CONTACT = "欧阳敏"
SALES = {"X-Dev-Caller": "S7001", "X-Dev-Roles": "sales", "X-Dev-Scope": "own"}
MARKETING = {"X-Dev-Caller": "K7001", "X-Dev-Roles": "marketing", "X-Dev-Scope": "org"}


def create_person(api: httpx.Client, **overrides: Any) -> dict[str, Any]:
    contact = {"name": CONTACT, "phones": [PHONE], "emails": [EMAIL]}
    body = customer_data(
        **{"name": "深圳华信医疗器械有限公司", "address": ADDRESS, "contacts": [contact], **overrides}
    )
    reply = api.post("/api/v1/customers", json=body)
    assert reply.status_code == 201, reply.text
    return reply.json()


def archive_dump(stack: Stack) -> str:
    """Every value the archive's database holds, as text (what a stolen backup would show)."""
    if stack.database_url:
        url = stack.database_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url) as conn:
            tables = [
                r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ]
            rows = [row for t in tables for row in conn.execute(f'SELECT * FROM "{t}"')]  # noqa: S608
    else:
        with sqlite3.connect(stack.data_dir / "profile.db") as conn:
            rows = [(line,) for line in conn.iterdump()]
    return "\n".join(json.dumps([str(v) for v in row], ensure_ascii=False) for row in rows)


def lookup(api: httpx.Client, **body: str) -> list[str]:
    reply = api.post("/api/v1/customers/lookup", json=body)
    assert reply.status_code == 200, reply.text
    return [c["id"] for c in reply.json()["items"]]


def search_ids(api: httpx.Client, query: str) -> list[str]:
    reply = api.post("/api/v1/search/customers", json={"query": query})
    assert reply.status_code == 200, reply.text
    return [hit["id"] for hit in reply.json()["items"]]


def test_personal_data_is_encrypted_at_rest_and_found_by_exact_phone(stack: Stack, api: httpx.Client) -> None:
    customer = create_person(api)
    assert api.get(f"/api/v1/customers/{customer['id']}").json()["contacts"][0]["phones"] == [PHONE]
    dump = archive_dump(stack)
    assert customer["id"] in dump
    for secret in (PHONE, EMAIL, "科技园南路", CONTACT):
        assert secret not in dump
    found = api.get("/api/v1/customers", params={"phone": f"+86 {PHONE}"}).json()["items"]
    assert [c["id"] for c in found] == [customer["id"]]
    assert (
        api.get("/api/v1/customers", params={"email": EMAIL.upper()}).json()["items"][0]["id"]
        == customer["id"]
    )


def test_consents_through_the_api(api: httpx.Client) -> None:
    customer = create_person(api, owner_id="S7001")
    base = f"/api/v1/customers/{customer['id']}/consents"
    consent = {"purpose": "marketing", "channel": "web_form", "evidence": "form WF-2024-0501-7781"}
    refused = api.post(base, json=consent, headers=MARKETING)
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    bad = api.post(base, json={**consent, "purpose": "telemarketing", "evidence": ""}, headers=SALES)
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"purpose", "evidence"}
    assert api.get(base).json()["items"] == []
    given = api.post(base, json=consent, headers=SALES)
    assert given.status_code == 201, given.text
    assert given.json()["recorded_by"] == "S7001" and given.json()["active"] is True
    assert api.get(f"/api/v1/customers/{customer['id']}").json()["consented_purposes"] == ["marketing"]
    assert [c["evidence"] for c in api.get(base, headers=MARKETING).json()["items"]] == [consent["evidence"]]
    withdrawn = api.post(f"{base}/{given.json()['id']}/withdraw", headers=SALES)
    assert withdrawn.status_code == 200 and withdrawn.json()["active"] is False
    assert api.post(f"{base}/{given.json()['id']}/withdraw", headers=SALES).status_code == 422
    assert api.get(f"/api/v1/customers/{customer['id']}").json()["consented_purposes"] == []


def test_export_holds_everything_about_the_person(api: httpx.Client) -> None:
    customer = create_person(api)
    base = f"/api/v1/customers/{customer['id']}"
    api.post(
        f"{base}/interactions",
        json={"channel": "phone", "occurred_at": "2024-05-10T15:00:00+08:00", "summary": "回访"},
    )
    api.post(
        f"{base}/orders",
        json={
            "product": "监护仪",
            "quantity": 2,
            "amount": "36000.00",
            "ordered_at": "2024-05-11T10:00:00+08:00",
        },
    )
    api.post(
        f"{base}/consents", json={"purpose": "analytics", "channel": "paper", "evidence": "signed page 2"}
    )
    tag = api.post("/api/v1/tags", json={"name": "隐私导出测试"})
    assert tag.status_code == 201, tag.text
    assert eventually(lambda: api.get(f"{base}/tags").status_code == 200)  # tagging has the customer
    assert api.post(f"{base}/tags", json={"tag_ids": [tag.json()["id"]]}).status_code == 200
    assert api.post(f"{base}/privacy/export", headers=SALES).status_code == 403

    def logged() -> set[str]:
        reply = api.get("/api/v1/audit/events", params={"target": f"customer:{customer['id']}"})
        return {e["action"] for e in reply.json()["items"]}

    assert eventually(lambda: "consent.give" in logged(), 5)  # changes' events are shipped just after
    reply = api.post(f"{base}/privacy/export")
    assert reply.status_code == 200, reply.text
    export = reply.json()
    archive = export["archive"]
    assert export["format"] == "crm.privacy-export/v1" and export["customer_id"] == customer["id"]
    assert (
        archive["customer"]["contacts"][0]["phones"] == [PHONE] and archive["customer"]["address"] == ADDRESS
    )
    assert [i["summary"] for i in archive["interactions"]] == ["回访"]
    assert [o["product"] for o in archive["orders"]] == ["监护仪"]
    assert [c["evidence"] for c in archive["consents"]] == ["signed page 2"]
    assert [h["action"] for h in archive["history"]][:1] == ["customer.created"]
    assert {"customer.create", "consent.give", "privacy.export"} <= {
        e["action"] for e in export["access_log"]
    }
    assert [t["name"] for t in export["tags"]["current"]] == ["隐私导出测试"]
    assert [h["action"] for h in export["tags"]["history"]] == ["assigned"]


def test_erasure_reaches_every_service_and_shreds_the_key(stack: Stack, api: httpx.Client) -> None:
    customer = create_person(api, name="深圳欧阳敏诊所")
    base = f"/api/v1/customers/{customer['id']}"
    api.post(
        f"{base}/interactions",
        json={"channel": "visit", "occurred_at": "2024-05-10T15:00:00+08:00", "summary": "拜访"},
    )
    assert eventually(lambda: customer["id"] in search_ids(api, PHONE[-4:]))
    tag = api.post("/api/v1/tags", json={"name": "待删除客户"}).json()
    assert eventually(lambda: api.get(f"{base}/tags").status_code == 200)
    assert api.post(f"{base}/tags", json={"tag_ids": [tag["id"]]}).status_code == 200
    before = archive_dump(stack)  # a backup taken before the erasure
    assert (
        api.post(f"{base}/privacy/erase", json={"reason": "PIPL 2024-117"}, headers=SALES).status_code == 403
    )
    reply = api.post(f"{base}/privacy/erase", json={"reason": "PIPL 2024-117"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["key_destroyed"] is True and reply.json()["removed"]["interactions"] == 1

    assert api.get(base).status_code == 404
    assert api.get(f"{base}/history").status_code == 404
    assert api.post(f"{base}/privacy/export").status_code == 404
    assert customer["id"] not in lookup(api, phone=PHONE)
    assert eventually(
        lambda: customer["id"] not in search_ids(api, PHONE[-4:]) + search_ids(api, "欧阳敏诊所")
    )
    assert api.post(f"{base}/privacy/erase").status_code == 404
    # Tagging forgets the customer too, tag history included.
    assert eventually(lambda: api.get(f"{base}/tags").status_code == 404)
    assert api.get(f"{base}/tags/history").status_code == 404

    events = api.get(
        "/api/v1/audit/events", params={"action": "privacy.erase", "target": f"customer:{customer['id']}"}
    )
    [event] = events.json()["items"]
    assert event["details"] == {"reason": "PIPL 2024-117"} and PHONE not in json.dumps(
        event, ensure_ascii=False
    )

    # The backup still holds the ciphertext, but its key is gone: nothing in it opens any more.
    assert customer["id"] in before and PHONE not in before
    ring = Keyring(
        LocalKeyProvider(stack.data_dir / "keys" / "keyfile.json"), keystore_url("", stack.data_dir)
    )
    try:
        with pytest.raises(KeyDestroyed):
            ring.key(customer["id"])
    finally:
        ring.dispose()
