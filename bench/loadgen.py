"""A lean HTTP/1.1 load generator for the benchmarks, run as its own process.

`python -m bench.loadgen JOB.json RESULT.json` runs one job and writes its result. A job is one of
`create` (POST every body once, with C concurrent clients), `closed` (K clients each sending
GETs back to back for a duration) and `open` (GETs started on a fixed schedule, whatever the
server's pace, so latency is counted from when a request *should* have gone out; no coordinated
omission).

The generator shares the machine's cores with the services it measures, so it is built to be
cheap per request: plain asyncio streams, keep-alive connections, one pre-built request line
per path and a minimal response parser (status line, Content-Length or chunked body). It costs
a fraction of what httpx.AsyncClient does per request; its own CPU use is reported next to the
services' so the reader can see what it took from them.
"""

import asyncio
import json
import os
import random
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK")


class HttpError(Exception):
    """The connection broke or the response could not be parsed."""


class Connection:
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        """Close the socket (a later request reconnects)."""
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def request(self, raw: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
        """Send one pre-built request; return status, lower-cased headers and body."""
        try:
            if self._writer is None:
                await self._open()
            assert self._reader is not None and self._writer is not None
            self._writer.write(raw)
            head = await self._reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            status = int(lines[0].split(b" ", 2)[1])
            headers: dict[bytes, bytes] = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(b":")
                    headers[name.strip().lower()] = value.strip()
            if b"content-length" in headers:
                body = await self._reader.readexactly(int(headers[b"content-length"]))
            elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
                body = await self._chunked()
            else:
                body = b""
            if headers.get(b"connection", b"").lower() == b"close":
                self.close()
            return status, headers, body
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            self.close()
            raise HttpError(repr(exc)) from exc

    async def _chunked(self) -> bytes:
        assert self._reader is not None
        parts = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)


def get_request(host: str, port: int, path: str) -> bytes:
    """The bytes of a keep-alive GET."""
    return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/json\r\n\r\n".encode()


def post_request(host: str, port: int, path: str, body: bytes) -> bytes:
    """The bytes of a keep-alive JSON POST."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/json\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def machine_busy_seconds() -> float:
    """CPU seconds all processes on the machine have spent busy so far (Linux /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / _TICKS


@dataclass
class Recorder:
    """Latencies and failures of one measured window."""

    expected: tuple[int, ...]
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    samples: list[str] = field(default_factory=list)

    def fail(self, what: str) -> None:
        """Count a failed request, keeping the first few for the report."""
        self.failures += 1
        if len(self.samples) < 5:
            self.samples.append(what[:300])

    def check(self, status: int, body: bytes, latency: float, record: bool) -> bool:
        """Record a response; False when its status was not expected."""
        if status not in self.expected:
            self.fail(f"HTTP {status}: {body[:200]!r}")
            return False
        if record:
            self.latencies.append(latency)
        return True


class CpuWindow:
    """CPU used by this process and the watched services between start() and stop()."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self._start: dict[str, float] = {}
        self.wall = 0.0
        self.used: dict[str, float] = {}

    def start(self) -> None:
        """Begin the window."""
        self._start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self._start["loadgen"] = time.process_time()
        self._start["machine"] = machine_busy_seconds()
        self._t0 = time.perf_counter()

    def stop(self) -> None:
        """End the window."""
        self.wall = time.perf_counter() - self._t0
        now = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        now["loadgen"] = time.process_time()
        now["machine"] = machine_busy_seconds()
        self.used = {name: now[name] - self._start[name] for name in now}
        # Whatever else ran on the machine meanwhile (other jobs skew the figures; say so).
        self.used["others"] = max(
            0.0, self.used["machine"] - sum(used for name, used in self.used.items() if name != "machine")
        )

    def report(self) -> dict[str, Any]:
        """CPU seconds and share of one core per process."""
        return {
            "wall_s": self.wall,
            "cpu_s": self.used,
            "core_share": {name: used / self.wall for name, used in self.used.items()} if self.wall else {},
        }


async def run_create(job: dict[str, Any]) -> dict[str, Any]:
    """POST every body once with `concurrency` clients; return ids, latencies, CPU."""
    host, port = job["host"], job["port"]
    bodies = [json.dumps(b, ensure_ascii=False).encode() for b in job["bodies"]]
    rec = Recorder(expected=(201,))
    ids: list[str] = []
    cpu = CpuWindow(job.get("pids", {}))
    queue = iter(range(len(bodies)))

    async def client() -> None:
        conn = Connection(host, port)
        for index in queue:
            raw = post_request(host, port, "/api/v1/customers", bodies[index])
            started = time.perf_counter()
            try:
                status, _, body = await conn.request(raw)
            except HttpError as exc:
                rec.fail(str(exc))
                continue
            if rec.check(status, body, time.perf_counter() - started, True):
                ids.append(json.loads(body)["id"])
        conn.close()

    cpu.start()
    await asyncio.gather(*(client() for _ in range(job["concurrency"])))
    cpu.stop()
    return {"ids": ids, **_summary(rec, cpu.wall, len(rec.latencies)), "cpu": cpu.report()}


async def run_closed(job: dict[str, Any]) -> dict[str, Any]:
    """K clients send GETs on random ids back to back; after a warm-up, measure for a duration."""
    host, port, ids = job["host"], job["port"], job["ids"]
    requests = [get_request(host, port, f"/api/v1/customers/{i}") for i in ids]
    rec = Recorder(expected=(200,))
    cpu = CpuWindow(job.get("pids", {}))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    measure_from, measure_to = t0 + job["warmup"], t0 + job["warmup"] + job["duration"]
    count = 0

    async def client(seed: int) -> None:
        nonlocal count
        rng = random.Random(seed)
        conn = Connection(host, port)
        while True:
            started = loop.time()
            if started >= measure_to:
                break
            try:
                status, _, body = await conn.request(rng.choice(requests))
            except HttpError as exc:
                rec.fail(str(exc))
                continue
            in_window = started >= measure_from
            if rec.check(status, body, loop.time() - started, in_window) and in_window:
                count += 1
        conn.close()

    async def window() -> None:
        await asyncio.sleep(max(0.0, measure_from - loop.time()))
        cpu.start()
        await asyncio.sleep(max(0.0, measure_to - loop.time()))
        cpu.stop()

    await asyncio.gather(window(), *(client(n) for n in range(job["concurrency"])))
    return {**_summary(rec, job["duration"], count), "concurrency": job["concurrency"], "cpu": cpu.report()}


async def run_open(job: dict[str, Any]) -> dict[str, Any]:
    """Start GETs at a fixed rate; latency counts from each request's scheduled start."""
    host, port, ids = job["host"], job["port"], job["ids"]
    rate, warmup, duration = float(job["rate"]), job["warmup"], job["duration"]
    requests = [get_request(host, port, f"/api/v1/customers/{i}") for i in ids]
    rng = random.Random(7)
    rec = Recorder(expected=(200,))
    cpu = CpuWindow(job.get("pids", {}))
    loop = asyncio.get_running_loop()
    idle: list[Connection] = []
    waiting: deque[asyncio.Future[Connection]] = deque()
    opened = 0
    max_connections = job.get("max_connections", 128)
    pending: dict[asyncio.Task[None], float] = {}
    completed = 0
    start = loop.time() + 0.05
    measure_from, end = start + warmup, start + warmup + duration

    async def acquire() -> Connection:
        nonlocal opened
        if idle:
            return idle.pop()
        if opened < max_connections:
            opened += 1
            return Connection(host, port)
        waiter: asyncio.Future[Connection] = loop.create_future()
        waiting.append(waiter)
        return await waiter

    def release(conn: Connection) -> None:
        while waiting:
            waiter = waiting.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        idle.append(conn)

    async def one(due: float, raw: bytes, in_window: bool) -> None:
        nonlocal completed
        conn = await acquire()
        try:
            status, _, body = await conn.request(raw)
        except HttpError as exc:
            rec.fail(str(exc))
            release(conn)
            return
        release(conn)
        done = loop.time()
        # Throughput counts answers that arrived inside the window, whenever they were scheduled.
        if rec.check(status, body, done - due, in_window) and measure_from <= done <= end:
            completed += 1

    total = int(rate * (warmup + duration))
    scheduled_in_window = 0
    for n in range(total):
        due = start + n / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        in_window = due >= measure_from
        if in_window and not scheduled_in_window:
            cpu.start()
            loop.call_at(end, cpu.stop)
        scheduled_in_window += in_window
        task = asyncio.create_task(one(due, rng.choice(requests), in_window))
        pending[task] = due if in_window else -1.0
        task.add_done_callback(pending.pop)
    # Give stragglers a short grace, then count what is still queued at its lower-bound latency.
    drain = job.get("drain", 2.0)
    await asyncio.sleep(max(0.0, end - loop.time()))  # the CPU window closes at `end`
    if pending:
        await asyncio.wait(list(pending), timeout=max(0.0, end + drain - loop.time()))
    now = loop.time()
    unfinished = [due for due in pending.values() if due >= 0]
    for task in list(pending):
        task.cancel()
    rec.latencies.extend(now - due for due in unfinished)
    summary = _summary(rec, duration, completed)
    return {
        **summary,
        "target_rate": rate,
        "scheduled": scheduled_in_window,
        "unfinished": len(unfinished),
        "connections": opened,
        "cpu": cpu.report(),
    }


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))
    return sorted_values[index]


def _summary(rec: Recorder, seconds: float, completed: int) -> dict[str, Any]:
    values = sorted(rec.latencies)
    return {
        "completed": completed,
        "failures": rec.failures,
        "failure_samples": rec.samples,
        "seconds": seconds,
        "rate": completed / seconds if seconds else 0.0,
        "p50_ms": _percentile(values, 0.50) * 1000,
        "p95_ms": _percentile(values, 0.95) * 1000,
        "p99_ms": _percentile(values, 0.99) * 1000,
        "max_ms": (values[-1] * 1000) if values else float("nan"),
    }


_KINDS = {"create": run_create, "closed": run_closed, "open": run_open}


def main() -> None:
    """Run the job in argv[1], write the result to argv[2]."""
    job = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    result = asyncio.run(_KINDS[job["kind"]](job))
    Path(sys.argv[2]).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
