"""Customer create and read throughput through the gateway, measured against SPEC section 5.

    python -m bench.gateway_throughput [--customers 2000] [--duration 20] [--rate 1000]
                                       [--database sqlite|postgresql] [--json results.json]

Starts the profile service and the gateway as real processes (tracing on, spans exported to a
JSON-lines file), creates customers through POST /api/v1/customers, then reads random ones with
GET /api/v1/customers/{id}: first as fast as K concurrent clients go (closed loop), then at a
fixed offered rate (open loop, latency counted from each request's scheduled start). Finally it
restarts the services with OTEL_SDK_DISABLED=true and repeats the closed-loop read to price
tracing. The load generator (bench.loadgen) is a separate process on the SAME cores as the
services; its CPU use is printed next to theirs.

Exit status is 0 whatever the figures (this is a measurement); 1 if any request failed.
"""

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scripts.stack import ROOT, Stack

TARGET_READ_RATE = 1500.0
TARGET_P99_MS = 20.0
TARGET_TRACING_COST = 5.0
PHASES = ("create", "read_max_traced", "read_open", "read_max_untraced")


def customer_payloads(count: int, seed: int) -> list[dict[str, Any]]:
    """`count` realistic, distinct new-customer bodies, JSON-ready."""
    rng = random.Random(seed)
    try:
        from faker import Faker

        from services.profile.demo import customer_payload
    except ImportError:  # the demo data module is optional; fall back to the test payload
        from tests.conftest import customer_data

        return [customer_data(name=f"测试客户{seed}-{n}有限公司") for n in range(count)]
    faker = Faker("zh_CN")
    return [json.loads(json.dumps(customer_payload(rng, faker=faker), default=str)) for _ in range(count)]


@contextmanager
def database(kind: str, admin_url: str) -> Iterator[str]:
    """The profile database URL: empty for SQLite in the data folder, or a fresh PostgreSQL one."""
    if kind == "sqlite":
        yield ""
        return
    import psycopg

    name = f"crm_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    server = admin_url.split("://", 1)[1].rsplit("/", 1)[0]
    try:
        yield f"postgresql+psycopg://{server}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_job(work: Path, job: dict[str, Any]) -> dict[str, Any]:
    """Run one load job in its own process and return its result."""
    job_file, result_file = work / f"job-{job['kind']}.json", work / f"result-{job['kind']}.json"
    job_file.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "bench.loadgen", job_file, result_file], cwd=ROOT, check=True)
    result: dict[str, Any] = json.loads(result_file.read_text(encoding="utf-8"))
    return result


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory = f"{mem_kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        memory = "unknown"
    return {
        "cpus": str(os.cpu_count()),
        "cpu_model": model,
        "memory": memory,
        "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_at_start": " ".join(f"{v:.2f}" for v in os.getloadavg()),
    }


def _stack(data_dir: Path, url: str, env: dict[str, str]) -> Stack:
    return Stack(data_dir=data_dir, database_url=url, env={"CRM_LOG_LEVEL": "WARNING", **env})


def _target(stack: Stack) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": stack.gateway_port,
        "pids": {name: proc.pid for name, proc in stack.processes.items()},
    }


def measure(args: argparse.Namespace, url: str, work: Path) -> dict[str, Any]:
    """Every phase of the benchmark; returns the raw results."""
    results: dict[str, Any] = {"machine": machine(), "args": vars(args)}
    bodies = customer_payloads(args.customers, args.seed)
    data_dir, spans = work / "data", work / "spans.jsonl"
    read = {"warmup": args.warmup, "duration": args.duration}

    log(f"starting the services over {args.database}, tracing on (spans -> {spans.name})")
    with _stack(data_dir, url, {"CRM_TRACE_FILE": str(spans)}) as stack:
        log(f"creating {args.customers} customers with {args.create_concurrency} clients")
        create = run_job(
            work,
            {"kind": "create", **_target(stack), "bodies": bodies, "concurrency": args.create_concurrency},
        )
        ids = create.pop("ids")
        results["create"] = create
        if not ids:
            raise SystemExit(f"no customer was created: {create['failure_samples']}")
        log(f"reading as fast as {args.concurrency} clients go for {args.duration}s (tracing on)")
        results["read_max_traced"] = run_job(
            work, {"kind": "closed", **_target(stack), "ids": ids, "concurrency": args.concurrency, **read}
        )
        log(f"reading at an offered {args.rate:g} req/s for {args.duration}s (tracing on)")
        results["read_open"] = run_job(
            work, {"kind": "open", **_target(stack), "ids": ids, "rate": args.rate, **read}
        )
    time.sleep(0.5)
    results["spans_exported"] = sum(1 for _ in spans.open(encoding="utf-8")) if spans.exists() else 0

    log("restarting the services with OTEL_SDK_DISABLED=true")
    with _stack(data_dir, url, {"OTEL_SDK_DISABLED": "true"}) as stack:
        log(f"reading as fast as {args.concurrency} clients go for {args.duration}s (tracing off)")
        results["read_max_untraced"] = run_job(
            work, {"kind": "closed", **_target(stack), "ids": ids, "concurrency": args.concurrency, **read}
        )
    return results


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the report."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)  # noqa: T201


def _ms(r: dict[str, Any]) -> str:
    return f"{r['p50_ms']:.1f} / {r['p95_ms']:.1f} / {r['p99_ms']:.1f} ms"


def _cpu(r: dict[str, Any]) -> str:
    share = r["cpu"]["core_share"]
    names = ("gateway", "profile", "loadgen", "others")
    parts = [f"{name} {share[name] * 100:.0f}%" for name in names if name in share]
    return ", ".join(parts) + f"  (of one core; {os.cpu_count()} cores = {100 * (os.cpu_count() or 1)}%)"


def report(results: dict[str, Any]) -> str:
    """The comparison table with PASS/MISS per SPEC line."""
    m, a = results["machine"], results["args"]
    create, traced, opened = results["create"], results["read_max_traced"], results["read_open"]
    untraced = results["read_max_untraced"]
    cost = (untraced["rate"] - traced["rate"]) / untraced["rate"] * 100 if untraced["rate"] else float("nan")
    achieved_ok = opened["rate"] >= 0.98 * opened["target_rate"]
    rows: list[tuple[str, str, str, str]] = [
        (f"create, {a['create_concurrency']} clients", f"{create['rate']:,.0f} req/s", "-", ""),
        ("  create latency p50 / p95 / p99", _ms(create), "-", ""),
        (
            f"read max, tracing on, {a['concurrency']} clients",
            f"{traced['rate']:,.0f} req/s",
            f">= {TARGET_READ_RATE:,.0f} req/s",
            _verdict(traced["rate"] >= TARGET_READ_RATE),
        ),
        ("  latency p50 / p95 / p99", _ms(traced), "-", ""),
        (
            f"read at {opened['target_rate']:,.0f} req/s offered: achieved",
            f"{opened['rate']:,.0f} req/s",
            f"{opened['target_rate']:,.0f} req/s",
            _verdict(achieved_ok),
        ),
        (
            "  p99 latency from scheduled start",
            f"{opened['p99_ms']:,.1f} ms",
            f"<= {TARGET_P99_MS:g} ms",
            _verdict(achieved_ok and opened["p99_ms"] <= TARGET_P99_MS),
        ),
        ("  latency p50 / p95 / p99", _ms(opened), "-", ""),
        (f"read max, tracing off, {a['concurrency']} clients", f"{untraced['rate']:,.0f} req/s", "-", ""),
        (
            "tracing cost (metrics on in both runs)",
            f"{cost:.1f} %",
            f"<= {TARGET_TRACING_COST:g} %",
            _verdict(cost <= TARGET_TRACING_COST),
        ),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [
        f"Gateway customer throughput: {a['database']}, {a['customers']:,} customers, "
        f"{a['duration']:g} s per read run after {a['warmup']:g} s warm-up",
        f"Machine: {m['cpus']} cores ({m['cpu_model']}), {m['memory']}, Python {m['python']}, {m['date']}, "
        f"load average before the run {m['load_average_at_start']}",
        "The load generator (bench.loadgen: asyncio, raw HTTP/1.1 keep-alive) runs on the SAME "
        f"{m['cpus']} cores as the services.",
        "",
        f"{'measure':<{width}}  {'measured':>22}  {'SPEC target':>16}  result",
        "-" * (width + 52),
    ]
    lines += [f"{n:<{width}}  {value:>22}  {target:>16}  {verdict}" for n, value, target, verdict in rows]
    lines += [
        "",
        "CPU per process (others = anything else on the machine, which skews the figures):",
        f"CPU during read max, tracing on:  {_cpu(traced)}",
        f"CPU during read max, tracing off: {_cpu(untraced)}",
        f"CPU during open-loop read:        {_cpu(opened)}",
        f"CPU during create:                {_cpu(create)}",
        f"Open loop: {opened['scheduled']:,} scheduled, {opened['completed']:,} completed, "
        f"{opened['unfinished']:,} still queued at the end (counted at their lower-bound latency), "
        f"{opened['connections']} connections",
        f"Spans exported while tracing was on: {results['spans_exported']:,}",
    ]
    failures = sum(results[k]["failures"] for k in PHASES)
    lines.append(f"Failed requests: {failures}")
    for key in PHASES:
        for sample in results[key]["failure_samples"]:
            lines.append(f"  {key}: {sample}")
    if not results["spans_exported"]:
        lines.append("WARNING: no span reached the trace file; the tracing-on figures did not trace.")
    return "\n".join(lines)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.gateway_throughput", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--customers", type=int, default=2000, help="customers to create first")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured per read run")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds before each read run")
    parser.add_argument("--rate", type=float, default=1000.0, help="offered rate of the open-loop run")
    parser.add_argument("--concurrency", type=int, default=8, help="clients of the closed-loop reads")
    parser.add_argument("--create-concurrency", type=int, default=8, help="clients creating customers")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("CRM_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="maintenance database of the PostgreSQL server (a fresh database is made and dropped)",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp,
        database(args.database, args.pg_admin_url) as url,
    ):
        started = time.monotonic()
        results = measure(args, url, Path(tmp))
        results["total_seconds"] = time.monotonic() - started
    args_json = {k: str(v) if isinstance(v, Path) else v for k, v in results["args"].items()}
    results["args"] = args_json
    print(report(results))  # noqa: T201
    log(f"done in {results['total_seconds']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    failed = sum(results[k]["failures"] for k in PHASES)
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
