"""The search benchmark's load generator, run as its own process (see bench.search_latency).

`python -m bench.search_load JOB.json RESULT.json` runs one job and writes its result:

- `grpc_mix`: a weighted mix of searches and suggestions sent straight to the search service
  over gRPC (grpc.aio, one HTTP/2 channel), open loop at a fixed rate;
- `http_mix`: the same mix through the gateway's REST API (bench.loadgen's raw keep-alive
  HTTP/1.1 connections), open loop at a fixed rate;
- `write_visibility`: `http_mix` plus customers created through POST /api/v1/customers at a
  fixed rate, and a checker that measures how long each new customer takes to be found by search.

Open loop means requests start on a fixed schedule whatever the server's pace, and latency is
counted from each request's *scheduled* start (no coordinated omission); requests still
unanswered 2 s after the window are counted at their lower-bound latency.
"""

import asyncio
import json
import random
import sys
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.loadgen import Connection, CpuWindow, HttpError, get_request, post_request

# What a load request answers: (ok, number of hits or -1 when unknown, parsed body or None).
Outcome = tuple[bool, int, Any]


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds (nearest-rank), and the count."""
    ordered = sorted(values)

    def pick(q: float) -> float:
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000

    return {
        "count": len(ordered),
        "p50_ms": pick(0.50),
        "p95_ms": pick(0.95),
        "p99_ms": pick(0.99),
        "max_ms": ordered[-1] * 1000 if ordered else float("nan"),
    }


class Pool:
    """At most `limit` keep-alive HTTP connections, handed out one request at a time."""

    def __init__(self, host: str, port: int, limit: int = 128) -> None:
        self.host, self.port, self.limit = host, port, limit
        self.idle: list[Connection] = []
        self.waiting: list[asyncio.Future[Connection]] = []
        self.opened = 0

    async def request(self, raw: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
        """Send raw on a free connection."""
        if self.idle:
            conn = self.idle.pop()
        elif self.opened < self.limit:
            self.opened += 1
            conn = Connection(self.host, self.port)
        else:
            waiter: asyncio.Future[Connection] = asyncio.get_running_loop().create_future()
            self.waiting.append(waiter)
            conn = await waiter
        try:
            return await conn.request(raw)
        finally:
            while self.waiting:
                waiter = self.waiting.pop(0)
                if not waiter.done():
                    waiter.set_result(conn)
                    break
            else:
                self.idle.append(conn)


class Mix:
    """Per-kind latencies, failures and hit counts of one open-loop window."""

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.failures: dict[str, int] = defaultdict(int)
        self.empty: dict[str, int] = defaultdict(int)
        self.samples: list[str] = []
        self.completed = 0

    def fail(self, kind: str, what: str) -> None:
        """Count a failure, keeping the first few for the report."""
        self.failures[kind] += 1
        if len(self.samples) < 5:
            self.samples.append(f"{kind}: {what[:300]}")

    def summary(self, seconds: float) -> dict[str, Any]:
        """Per-kind and overall percentiles, achieved rate, failures."""
        every = [v for values in self.latencies.values() for v in values]
        kinds = {
            kind: {**percentiles(values), "failures": self.failures[kind], "empty": self.empty[kind]}
            for kind, values in sorted(self.latencies.items())
        }
        for kind, count in self.failures.items():
            kinds.setdefault(kind, {**percentiles([]), "failures": count, "empty": 0})
        return {
            "overall": {**percentiles(every), "failures": sum(self.failures.values())},
            "kinds": kinds,
            "completed": self.completed,
            "rate": self.completed / seconds if seconds else 0.0,
            "failure_samples": self.samples,
        }


async def open_loop(
    *,
    rate: float,
    warmup: float,
    duration: float,
    items: list[dict[str, Any]],
    send: Callable[[dict[str, Any]], Awaitable[Outcome]],
    cpu: CpuWindow | None = None,
    seed: int = 7,
    drain: float = 2.0,
) -> tuple[Mix, dict[str, Any]]:
    """Send random items on a fixed schedule; latency counts from each scheduled start."""
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    mix = Mix()
    start = loop.time() + 0.05
    measure_from, end = start + warmup, start + warmup + duration
    pending: dict[asyncio.Task[None], tuple[float, str]] = {}
    scheduled = 0

    async def one(due: float, item: dict[str, Any], in_window: bool) -> None:
        try:
            ok, hits, _ = await send(item)
        except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
            mix.fail(item["kind"], repr(exc))
            return
        done = loop.time()
        if not ok:
            mix.fail(item["kind"], "bad answer")
            return
        if in_window:
            mix.latencies[item["kind"]].append(done - due)
            if hits == 0:
                mix.empty[item["kind"]] += 1
        if measure_from <= done <= end:
            mix.completed += 1

    total = int(rate * (warmup + duration))
    for n in range(total):
        due = start + n / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        in_window = due >= measure_from
        if in_window and not scheduled and cpu is not None:
            cpu.start()
            loop.call_at(end, cpu.stop)
        scheduled += in_window
        item = rng.choice(items)
        task = asyncio.create_task(one(due, item, in_window))
        pending[task] = (due if in_window else -1.0, item["kind"])
        task.add_done_callback(pending.pop)
    await asyncio.sleep(max(0.0, end - loop.time()))
    if pending:
        await asyncio.wait(list(pending), timeout=max(0.0, end + drain - loop.time()))
    now = loop.time()
    unfinished = [(due, kind) for due, kind in pending.values() if due >= 0]
    for task in list(pending):
        task.cancel()
    for due, kind in unfinished:
        mix.latencies[kind].append(now - due)
    return mix, {"scheduled": scheduled, "unfinished": len(unfinished), "target_rate": rate}


# -- gRPC, straight to the search service -----------------------------------------------------


def grpc_sender(address: str) -> tuple[Callable[[dict[str, Any]], Awaitable[Outcome]], Callable[[], Any]]:
    """A send function over one grpc.aio channel, and the channel's close."""
    import grpc
    from google.protobuf import json_format

    import bench  # noqa: F401 - puts gen/ on the path
    from crm.search.v1 import search_pb2 as pb
    from crm.search.v1 import search_pb2_grpc
    from services.common.identity import Caller
    from services.gateway.settings import GatewaySettings

    channel = grpc.aio.insecure_channel(address)
    stub = search_pb2_grpc.SearchServiceStub(channel)
    # The gateway's development identity: page tokens are sealed for one caller, and the deep
    # pages walked here are then requested through the gateway as well as directly.
    metadata = Caller(
        id=GatewaySettings().dev_caller_id, roles=("admin",), scope="all", permissions=("*",)
    ).to_metadata()
    built: dict[int, Any] = {}

    async def send(item: dict[str, Any]) -> Outcome:
        message = built.get(id(item))
        if message is None:
            cls = pb.SearchCustomersRequest if item["rpc"] == "search" else pb.SuggestCustomersRequest
            message = built[id(item)] = json_format.ParseDict(item["grpc"], cls())
        if item["rpc"] == "search":
            reply = await stub.SearchCustomers(message, metadata=metadata, timeout=30)
            return True, len(reply.hits), reply
        suggestions = await stub.SuggestCustomers(message, metadata=metadata, timeout=30)
        return True, len(suggestions.suggestions), suggestions

    return send, channel.close


# -- HTTP, through the gateway -----------------------------------------------------------------


def http_request(host: str, port: int, item: dict[str, Any]) -> bytes:
    """The raw request of a mix item (search: POST JSON; suggest: GET)."""
    if item["rpc"] == "search":
        body = json.dumps(item["http"], ensure_ascii=False).encode()
        return post_request(host, port, "/api/v1/search/customers", body)
    query = urllib.parse.urlencode(item["http"])
    return get_request(host, port, f"/api/v1/search/suggest?{query}")


def http_sender(pool: Pool) -> Callable[[dict[str, Any]], Awaitable[Outcome]]:
    """A send function over the pool; items carry their pre-built `raw` bytes."""

    async def send(item: dict[str, Any]) -> Outcome:
        status, _, body = await pool.request(item["raw"])
        if status != 200:
            raise HttpError(f"HTTP {status}: {body[:200]!r}")
        data = json.loads(body)
        return True, len(data["items"]), data

    return send


def _prepare_http(job: dict[str, Any]) -> list[dict[str, Any]]:
    items = job["items"]
    for item in items:
        item["raw"] = http_request(job["host"], job["port"], item)
    return items


async def run_grpc_mix(job: dict[str, Any]) -> dict[str, Any]:
    """The mix straight to the search service."""
    send, close = grpc_sender(job["address"])
    cpu = CpuWindow(job.get("pids", {}))
    mix, extra = await open_loop(
        rate=job["rate"],
        warmup=job["warmup"],
        duration=job["duration"],
        items=job["items"],
        send=send,
        cpu=cpu,
    )
    await close()
    return {**mix.summary(job["duration"]), **extra, "cpu": cpu.report()}


async def run_http_mix(job: dict[str, Any]) -> dict[str, Any]:
    """The mix through the gateway."""
    pool = Pool(job["host"], job["port"])
    cpu = CpuWindow(job.get("pids", {}))
    mix, extra = await open_loop(
        rate=job["rate"],
        warmup=job["warmup"],
        duration=job["duration"],
        items=_prepare_http(job),
        send=http_sender(pool),
        cpu=cpu,
    )
    return {**mix.summary(job["duration"]), **extra, "connections": pool.opened, "cpu": cpu.report()}


async def run_write_visibility(job: dict[str, Any]) -> dict[str, Any]:
    """Searches at one rate, creates at another, and the time each creation takes to be found.

    Every created customer's name holds the run's marker (rare characters no generated name
    has). Every `check_interval` the checker sends ONE search for the marker, newest first
    (sort -created_at, 100 per page): each pending customer it returns is visible, and its
    latency is counted from the moment its create was acknowledged (201) and, separately, from
    the moment the create was sent. One search per tick instead of one per pending customer
    keeps the checker's own load at 1/check_interval searches per second.
    """
    host, port = job["host"], job["port"]
    loop = asyncio.get_running_loop()
    search_pool, write_pool, check_pool = Pool(host, port), Pool(host, port), Pool(host, port, 4)
    cpu = CpuWindow(job.get("pids", {}))
    bodies = [json.dumps(b, ensure_ascii=False).encode() for b in job["bodies"]]
    pending: dict[str, tuple[float, float]] = {}  # id -> (sent, acknowledged)
    seen_ack: list[float] = []
    seen_sent: list[float] = []
    created: list[dict[str, str]] = []
    write_fail: list[str] = []
    write_latency: list[float] = []
    check_fail: list[str] = []
    checks = 0
    writing_done = asyncio.Event()

    async def write_one(due: float, body: bytes, name: str) -> None:
        try:
            status, _, answer = await write_pool.request(post_request(host, port, "/api/v1/customers", body))
        except HttpError as exc:
            write_fail.append(str(exc))
            return
        acked = loop.time()
        if status != 201:
            write_fail.append(f"HTTP {status}: {answer[:200]!r}")
            return
        customer_id = json.loads(answer)["id"]
        write_latency.append(acked - due)
        created.append({"id": customer_id, "name": name})
        created_ids.add(customer_id)
        if customer_id not in found_early:
            pending[customer_id] = (due, acked)
        else:  # the checker saw it before the 201 came back
            seen_ack.append(0.0)
            seen_sent.append(found_early.pop(customer_id) - due)
            resolved.add(customer_id)

    found_early: dict[str, float] = {}
    created_ids: set[str] = set()
    resolved: set[str] = set()

    async def writer() -> None:
        # Writes run through the searches' measured window (after their warm-up).
        start = loop.time() + 0.05 + job["warmup"]
        tasks = []
        for n in range(min(len(bodies), int(job["write_rate"] * job["duration"]))):
            due = start + n / job["write_rate"]
            await asyncio.sleep(max(0.0, due - loop.time()))
            body = bodies[n]
            tasks.append(asyncio.create_task(write_one(due, body, job["bodies"][n]["name"])))
        await asyncio.gather(*tasks)
        writing_done.set()

    marker_search = post_request(
        host,
        port,
        "/api/v1/search/customers",
        json.dumps(
            {"query": job["marker"], "sort": "-created_at", "page_size": 100}, ensure_ascii=False
        ).encode(),
    )

    async def checker() -> None:
        nonlocal checks
        deadline = None
        while True:
            tick = loop.time()
            if writing_done.is_set():
                deadline = deadline or tick + job["settle"]
                if not pending or tick > deadline:
                    return
            try:
                status, _, answer = await check_pool.request(marker_search)
                checks += 1
                if status != 200:
                    raise HttpError(f"HTTP {status}: {answer[:200]!r}")
                now = loop.time()
                for hit in json.loads(answer)["items"]:
                    entry = pending.pop(hit["id"], None)
                    if entry is not None:
                        seen_sent.append(now - entry[0])
                        seen_ack.append(now - entry[1])
                        resolved.add(hit["id"])
                    elif hit["id"] not in created_ids:
                        found_early.setdefault(hit["id"], now)
            except (HttpError, KeyError, ValueError) as exc:
                check_fail.append(str(exc))
            await asyncio.sleep(max(0.0, tick + job["check_interval"] - loop.time()))

    async def searches() -> tuple[Mix, dict[str, Any]]:
        return await open_loop(
            rate=job["rate"],
            warmup=job["warmup"],
            duration=job["duration"],
            items=_prepare_http(job),
            send=http_sender(search_pool),
            cpu=cpu,
            seed=11,
        )

    (mix, extra), _, _ = await asyncio.gather(searches(), writer(), checker())
    # Then: is each of a sample of the new customers found by a search for its own full name?
    rng = random.Random(3)
    sample = rng.sample(created, min(job["verify"], len(created)))
    verified, first = 0, 0
    for entry in sample:
        raw = post_request(
            host,
            port,
            "/api/v1/search/customers",
            json.dumps({"query": entry["name"], "page_size": 5}, ensure_ascii=False).encode(),
        )
        status, _, answer = await check_pool.request(raw)
        ids = [h["id"] for h in json.loads(answer)["items"]] if status == 200 else []
        verified += entry["id"] in ids
        first += bool(ids) and ids[0] == entry["id"]
    return {
        "searches": {**mix.summary(job["duration"]), **extra, "cpu": cpu.report()},
        "writes": {
            "created": len(created),
            "rate": len(created) / job["duration"],
            "failures": len(write_fail),
            "failure_samples": write_fail[:5],
            "latency": percentiles(write_latency),
        },
        "visibility_from_ack": percentiles(seen_ack),
        "visibility_from_send": percentiles(seen_sent),
        "never_seen": len(pending),
        "checks": checks,
        "check_failures": len(check_fail),
        "check_failure_samples": check_fail[:5],
        "verify": {"sampled": len(sample), "found_by_name": verified, "first_hit": first},
    }


_KINDS = {"grpc_mix": run_grpc_mix, "http_mix": run_http_mix, "write_visibility": run_write_visibility}


def main() -> None:
    """Run the job in argv[1], write the result to argv[2]."""
    job = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    started = time.perf_counter()
    result = asyncio.run(_KINDS[job["kind"]](job))
    result["wall_s"] = time.perf_counter() - started
    Path(sys.argv[2]).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
