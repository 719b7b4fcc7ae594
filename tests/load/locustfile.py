"""User journeys against the gateway, for load tests and as a smoke test.

Three named, weighted journeys, with realistic Chinese company and contact data:

- browse and open (weight 6): list customers with a filter, open one, open its 360 view;
- sales follow-up (weight 3): open a customer, log an interaction, move its stage with
  If-Match from the ETag; a 412 (the interaction itself bumped the version, or a colleague
  changed the record) is answered by reading again and retrying once; a second 412 is a real
  conflict with a colleague, counted as "patch stage (conflict, gave up)", not as a failure;
- capture a lead (weight 1): create a customer with one to three contacts;
- search and tag (weight 2): search by a name fragment, open a hit, put a campaign tag on it
  (creating the tag once if it is missing) and read its tags back.

Every request is named "<journey>: <step>", so the statistics read per journey.

Headless, against a running gateway (`make up` starts one on :8000):

    .venv/bin/locust -f tests/load/locustfile.py --headless -H http://127.0.0.1:8000 \\
        -u 20 -r 5 -t 60s --only-summary --csv var/locust

The process exits 1 if any request failed. CRM_LOAD_THINK_TIME (seconds, default 3) is the
longest pause between two journeys of one user; the smoke test sets it near zero.
tests/load/test_locust_smoke.py runs this file against a fresh stack.
"""

import json
import os
import random
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, task

_ROOT = Path(__file__).resolve().parents[2]
for _path in (str(_ROOT), str(_ROOT / "gen")):
    if _path not in sys.path:
        sys.path.append(_path)

from faker import Faker  # noqa: E402

from services.profile.demo import OWNERS, customer_payload  # noqa: E402

API = "/api/v1/customers"
CAMPAIGN_TAGS = ("展会跟进", "新品推介", "年底回访")
STAGES = ("lead", "intent", "proposal", "deal", "repeat", "loyal")
SUMMARIES = (
    "电话回访，客户关注交期，约下周二再沟通",
    "上门拜访，演示新款设备，采购经理有意向",
    "微信沟通报价，客户希望再降 3%",
    "客户来电咨询售后保修政策",
    "发送产品资料和案例，等待技术部评估",
    "参加客户年度供应商大会，确认明年采购计划",
)
THINK_TIME = float(os.environ.get("CRM_LOAD_THINK_TIME", "3"))


class KnownCustomers:
    """IDs seen in answers, shared by the users of this process, so journeys open real records."""

    def __init__(self, limit: int = 5000) -> None:
        self._ids: list[str] = []
        self._limit = limit
        self._lock = threading.Lock()

    def add(self, *ids: str) -> None:
        """Remember some customer IDs."""
        with self._lock:
            for customer_id in ids:
                if len(self._ids) < self._limit:
                    self._ids.append(customer_id)
                else:
                    self._ids[random.randrange(self._limit)] = customer_id

    def pick(self, rng: random.Random) -> str | None:
        """A remembered ID, or None before any was seen."""
        with self._lock:
            return rng.choice(self._ids) if self._ids else None


KNOWN = KnownCustomers()


class CrmUser(FastHttpUser):
    """A sales or service employee working in the CRM through the REST API."""

    wait_time = between(THINK_TIME / 10, THINK_TIME)

    def on_start(self) -> None:
        """Give the user its own data generator."""
        self.rng = random.Random()
        self.faker = Faker("zh_CN")

    def _list_filter(self) -> dict[str, Any]:
        choice = self.rng.random()
        if choice < 0.4:
            return {"stage": self.rng.choice(STAGES[:3]), "order_by": "-updated_at"}
        if choice < 0.7:
            return {"owner_id": self.rng.choice(OWNERS), "order_by": "-last_follow_up_at"}
        if choice < 0.85:
            return {"status": "deal", "order_by": "-deal_amount_12m"}
        return {"kind": "company", "scale": self.rng.choice(("medium", "large"))}

    def _open(self, journey: str, customer_id: str) -> tuple[dict[str, Any], str] | None:
        name = f"{journey}: open customer"
        with self.client.get(f"{API}/{customer_id}", name=name, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"open {customer_id}: HTTP {r.status_code} {r.text[:200]}")
                return None
            return r.json(), r.headers.get("etag") or ""

    @task(6)
    def browse_and_open(self) -> None:
        """Browse and open: a filtered list, one customer from it, then its 360 view."""
        journey = "browse and open"
        params = {**self._list_filter(), "page_size": 20}
        with self.client.get(API, params=params, name=f"{journey}: list customers", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"list: HTTP {r.status_code} {r.text[:200]}")
                return
            items = r.json()["items"]
        KNOWN.add(*(item["id"] for item in items))
        customer_id = self.rng.choice(items)["id"] if items else KNOWN.pick(self.rng)
        if customer_id is None or self._open(journey, customer_id) is None:
            return
        with self.client.get(
            f"{API}/{customer_id}/view", name=f"{journey}: open 360 view", catch_response=True
        ) as r:
            if r.status_code != 200:
                r.failure(f"view {customer_id}: HTTP {r.status_code} {r.text[:200]}")

    @task(3)
    def sales_follow_up(self) -> None:
        """Sales follow-up: open a customer, log the call, move the stage (If-Match, one retry)."""
        journey = "sales follow-up"
        customer_id = KNOWN.pick(self.rng)
        if customer_id is None:
            self.capture_lead()
            return
        opened = self._open(journey, customer_id)
        if opened is None:
            return
        customer, etag = opened
        occurred = datetime.now(UTC) - timedelta(minutes=self.rng.randint(1, 240))
        interaction = {
            "channel": self.rng.choice(("phone", "visit", "wechat", "email", "meeting")),
            "type": "follow_up",
            "occurred_at": occurred.isoformat(),
            "summary": self.rng.choice(SUMMARIES),
            "by_user": customer.get("owner_id") or self.rng.choice(OWNERS),
        }
        with self.client.post(
            f"{API}/{customer_id}/interactions",
            json=interaction,
            name=f"{journey}: log interaction",
            catch_response=True,
        ) as r:
            if r.status_code != 201:
                r.failure(f"interaction: HTTP {r.status_code} {r.text[:200]}")
                return
        stage = self.rng.choice([s for s in STAGES if s != customer["stage"]])
        for attempt in ("patch stage", "patch stage (retry)"):
            with self.client.request(
                "PATCH",
                f"{API}/{customer_id}",
                json={"stage": stage},
                headers={"If-Match": etag},
                name=f"{journey}: {attempt}",
                catch_response=True,
            ) as r:
                if r.status_code == 200:
                    return
                if r.status_code != 412:
                    r.failure(f"{attempt}: HTTP {r.status_code} {r.text[:200]}")
                    return
                # The version moved on since we read it: optimistic locking working as designed.
                # Read again and retry once; a second conflict means a colleague is busy on the
                # same record, so the user gives up (counted apart, not as a failure).
                r.success()
                if attempt != "patch stage":
                    r.request_meta["name"] = f"{journey}: patch stage (conflict, gave up)"
                    return
            reopened = self._open(journey, customer_id)
            if reopened is None:
                return
            etag = reopened[1]

    @task(1)
    def capture_lead(self) -> None:
        """Capture a lead: create a customer from a web form, trade show or referral."""
        journey = "capture a lead"
        body = customer_payload(self.rng, faker=self.faker)
        body.update(status="potential", stage="lead")
        payload = json.loads(json.dumps(body, default=str, ensure_ascii=False))
        name = f"{journey}: create customer"
        with self.client.post(API, json=payload, name=name, catch_response=True) as r:
            if r.status_code != 201:
                r.failure(f"create: HTTP {r.status_code} {r.text[:200]}")
                return
            KNOWN.add(r.json()["id"])

    def _campaign_tag(self, journey: str) -> str | None:
        """The id of a campaign tag, created on first use (another user may win the race: 409)."""
        name = self.rng.choice(CAMPAIGN_TAGS)
        with self.client.get(
            "/api/v1/tags", params={"group": "活动"}, name=f"{journey}: list tags", catch_response=True
        ) as r:
            if r.status_code != 200:
                r.failure(f"tags: HTTP {r.status_code} {r.text[:200]}")
                return None
            found = [t["id"] for t in r.json()["items"] if t["name"] == name]
        if found:
            return str(found[0])
        with self.client.post(
            "/api/v1/tags",
            json={"name": name, "group": "活动"},
            name=f"{journey}: create tag",
            catch_response=True,
        ) as r:
            if r.status_code == 201:
                return str(r.json()["id"])
            if r.status_code != 409:
                r.failure(f"create tag: HTTP {r.status_code} {r.text[:200]}")
            else:
                r.success()
        return None

    @task(2)
    def search_and_tag(self) -> None:
        """Search and tag: find customers by a name fragment, open one, tag it for a campaign."""
        journey = "search and tag"
        body = {"query": self.rng.choice(("有限", "科技", "公司", "集团")), "page_size": 10}
        with self.client.post(
            "/api/v1/search/customers", json=body, name=f"{journey}: search", catch_response=True
        ) as r:
            if r.status_code != 200:
                r.failure(f"search: HTTP {r.status_code} {r.text[:200]}")
                return
            hits = [h["id"] for h in r.json()["items"]]
        customer_id = self.rng.choice(hits) if hits else None
        if customer_id is None or self._open(journey, customer_id) is None:
            return
        tag_id = self._campaign_tag(journey)
        if tag_id is None:
            return
        with self.client.post(
            f"{API}/{customer_id}/tags",
            json={"tag_ids": [tag_id]},
            name=f"{journey}: tag customer",
            catch_response=True,
        ) as r:
            if r.status_code == 404:
                # Created a moment ago: the tagging service has not read it from the feed yet.
                r.success()
                return
            if r.status_code != 200:
                r.failure(f"tag: HTTP {r.status_code} {r.text[:200]}")
                return
            if tag_id not in {t["tag_id"] for t in r.json()["tags"]}:
                r.failure(f"tag {tag_id} missing from {customer_id}'s tags")
