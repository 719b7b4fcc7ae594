"""The locustfile as a smoke test: every journey runs against a fresh stack with zero failures."""

import csv
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from faker import Faker

from scripts.stack import ROOT, Stack
from services.profile.demo import customer_payload

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
JOURNEYS = ("browse and open", "sales follow-up", "capture a lead", "search and tag")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seeded_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack over SQLite with a few customers for the journeys to find."""
    with Stack(data_dir=tmp_path_factory.mktemp("load")) as stack:
        rng, faker = random.Random(3), Faker("zh_CN")
        with httpx.Client(base_url=stack.gateway_url, timeout=10) as api:
            for _ in range(40):
                body = json.loads(json.dumps(customer_payload(rng, faker=faker), default=str))
                api.post("/api/v1/customers", json=body).raise_for_status()
        yield stack


def test_every_journey_runs_without_failures(seeded_stack: Stack, tmp_path: Path) -> None:
    """Locust, headless for a few seconds: exit 0, zero failures, each journey's steps ran."""
    prefix = tmp_path / "locust"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "-H",
            seeded_stack.gateway_url,
            "-u",
            "5",
            "-r",
            "5",
            "-t",
            "8s",
            "--stop-timeout",
            "5",
            "--only-summary",
            "--csv",
            str(prefix),
        ],
        cwd=ROOT,
        env={**os.environ, "CRM_LOAD_THINK_TIME": "0.05"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(f"{prefix}_stats.csv", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["Name"] != "Aggregated"]
    assert rows, proc.stderr[-3000:]
    failures = Path(f"{prefix}_failures.csv").read_text(encoding="utf-8")
    assert sum(int(r["Failure Count"]) for r in rows) == 0, failures
    ran = {r["Name"]: int(r["Request Count"]) for r in rows}
    for journey in JOURNEYS:
        assert any(name.startswith(f"{journey}:") and n > 0 for name, n in ran.items()), (journey, ran)
    for step in ("browse and open: open 360 view", "sales follow-up: log interaction"):
        assert ran.get(step, 0) > 0, (step, ran)
    assert ran.get("sales follow-up: patch stage", 0) > 0, ran
