"""Search over N generated customers, measured against SPEC section 5.

    python -m bench.search_latency [--customers 1000000] [--duration 30] [--rate 100]
                                   [--write-rate 50] [--backends tantivy,opensearch]
                                   [--json results.json]

Each backend in --backends is measured in turn on the same generated data and query mix.

1. Generates N realistic customer snapshots (Chinese company and person names, real GB/T 4754
   industry and GB/T 2260 region codes, mainland mobiles; 2 worker processes build the index
   documents, pinyin included) and indexes them with the search service's own backend before
   any service starts: TantivyBackend into <data>/search, or ClusterBackend into a local
   single-node OpenSearch / Elasticsearch (scripts.engines, heap from CRM_ENGINES_HEAP, 512m by
   default) in bulk requests of --cluster-batch documents: build time, documents/s, size.
2. Starts profile, search and gateway as processes (scripts.stack.Stack) on that data folder.
3. Sends a weighted mix of fuzzy (typo), partial-name, full-pinyin, initials, phone-fragment,
   combined (text + conditions + facets), filter-only deep-page (page 5, -deal_amount_12m) and
   suggestion requests, open loop at a steady rate: first straight to the search service over
   gRPC, then through the gateway. p50/p95/p99 per kind and overall, achieved rate, errors.
4. Repeats the gateway mix while customers are created through POST /api/v1/customers at
   --write-rate, and measures how long each new customer takes to show up in search.

The load generator (bench.search_load, its own process) runs on the SAME cores as the services;
its CPU share is printed next to theirs. Exit status 0 whatever the figures; 1 if a request failed.
"""

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.gateway_throughput import customer_payloads, machine
from scripts.stack import ROOT, Stack

TARGET_P95_MS = 30.0
TARGET_P99_MS = 60.0
TARGET_VISIBLE_P99_S = 2.0
# Marker in every name created during the write-load phase; no generated name has these.
MARKER = "鑫垚淼犇"
# Query kinds and their weights in the mix.
WEIGHTS = {
    "fuzzy_typo": 15,
    "partial_name": 15,
    "pinyin_full": 12,
    "initials": 8,
    "phone_last4": 8,
    "phone_middle": 7,
    "combined": 15,
    "filter_deep_page": 10,
    "suggest": 10,
}
_TYPO_CHARS = "华明海峰信达恒通宏昌盛兴隆泰安康瑞祥永利新天嘉德源鑫晨光建国伟刚强军平东文辉力"
_COMPANY_SUFFIXES = ("集团有限公司", "股份有限公司", "有限责任公司", "有限公司")
_CHANNELS = ("web_form", "ecommerce", "social", "trade_show", "referral", "manual", "import", "api", "other")
PER_DAY = 910  # customers per ID day: IDs stay C<yyyymmdd><3 digits>
FIRST_DAY = date(2021, 1, 1)


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the report."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)  # noqa: T201


# -- data ----------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def snapshot(index: int, rng: random.Random) -> dict[str, Any]:
    """Customer number `index` as the profile feed's snapshot (what documents.build reads)."""
    from services.profile import demo

    classes, class_cum = demo._industry_table()
    regions, region_cum = demo._region_table()
    industry = demo._choice_weighted(rng, classes, class_cum)
    region = demo._choice_weighted(rng, regions, region_cum)
    day = FIRST_DAY + timedelta(days=index // PER_DAY)
    created = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=rng.randrange(86_400))
    company = rng.random() < 0.8
    roll = rng.random()
    status = "potential" if roll < 0.52 else "deal" if roll < 0.90 else "churned"
    stage = {
        "potential": rng.choice(("lead", "lead", "intent", "proposal")),
        "deal": rng.choice(("deal", "deal", "repeat", "loyal")),
        "churned": "churned",
    }[status]
    amount = round(rng.lognormvariate(11.0, 1.4), 2) if status == "deal" else 0.0
    tier = "A" if amount >= 500_000 else "B" if amount >= 100_000 else "C"
    if company:
        name = demo.company_name(rng, industry, region)[0]
        contacts = [demo.person_name(rng) for _ in range(rng.choice((1, 1, 1, 2, 2, 3)))]
    else:
        person = demo.person_name(rng)
        name = person[0]
        contacts = [person]
    snap: dict[str, Any] = {
        "id": f"C{day:%Y%m%d}{index % PER_DAY + 1:03d}",
        "name": name,
        "kind": "company" if company else "individual",
        "industry_code": industry,
        "region_code": region,
        "tier": tier,
        "deal_amount_12m": f"{amount:.2f}",
        "status": status,
        "stage": stage,
        "owner_id": demo.OWNERS[rng.randrange(len(demo.OWNERS))],
        "source_channel": rng.choice(_CHANNELS),
        "version": str(rng.randint(1, 6)),
        "created_at": _iso(created),
        "updated_at": _iso(created + timedelta(days=rng.randrange(300))),
        "contacts": [
            {
                "name": contact_name,
                "phones": [demo.mobile(rng) for _ in range(2 if rng.random() < 0.12 else 1)],
                "emails": [f"{pinyin}{rng.randint(1, 999)}@qq.com"] if rng.random() < 0.4 else [],
            }
            for contact_name, pinyin in contacts
        ],
    }
    if company:
        snap["scale"] = rng.choice(("small", "small", "medium", "large"))
    if status == "deal":
        snap["last_order_at"] = _iso(created + timedelta(days=rng.randrange(1, 400)))
    return snap


def build_chunk(task: tuple[int, int, int, int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Index documents of customers start..start+count, and every step-th one as a query sample."""
    from services.search import documents

    start, count, seed, step = task
    rng = random.Random(seed * 1_000_003 + start)
    docs, samples = [], []
    for index in range(start, start + count):
        doc = documents.build(snapshot(index, rng))
        docs.append(doc)
        if index % step == 0:
            samples.append(
                {
                    "id": doc["id"],
                    "name": doc["name"],
                    "kind": doc["kind"],
                    "pinyin": doc["name_pinyin"][0] if doc["name_pinyin"] else "",
                    "initials": doc["name_initials"][0] if doc["name_initials"] else "",
                    "phones": doc["phones"],
                    "section": doc["industry_path"][0],
                    "province": doc["region_province"],
                    "tier": doc["tier"],
                    "amount": doc["deal_amount_12m"] / 100,
                }
            )
    return docs, samples


def build_index(
    folder: Path, customers: int, seed: int, workers: int, batch: int, engine: Any = None
) -> dict[str, Any]:
    """Generate and index the customers (into the embedded index, or the engine's when a local
    OpenSearch / Elasticsearch node is given); returns timings, size and query samples."""
    if engine is not None:
        return _build_cluster_index(engine, customers, seed, workers, batch)
    from services.search.tantivy_backend import TantivyBackend

    chunk = 5000
    step = max(1, customers // 6000)
    tasks = [(s, min(chunk, customers - s), seed, step) for s in range(0, customers, chunk)]
    backend = TantivyBackend(folder)
    started = time.perf_counter()
    samples: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    done = 0
    apply_seconds = 0.0
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for docs, found in pool.imap(build_chunk, tasks):
            samples += found
            pending += docs
            done += len(docs)
            if len(pending) >= batch or done == customers:
                t0 = time.perf_counter()
                backend.apply(pending, [], 0)
                apply_seconds += time.perf_counter() - t0
                pending = []
                rate = done / (time.perf_counter() - started)
                log(f"indexed {done:,} / {customers:,} ({rate:,.0f} documents/s)")
    indexed = time.perf_counter() - started
    t0 = time.perf_counter()
    count = backend.count()
    backend.close()  # waits for the merges, releases the writer lock
    merged = time.perf_counter() - t0
    del backend
    generation = folder / (folder / "current").read_text().strip()
    size = sum(f.stat().st_size for f in generation.rglob("*") if f.is_file())
    segments = len({f.stem for f in generation.glob("*.store")})
    total = time.perf_counter() - started
    return {
        "documents": count,
        "seconds": total,
        "index_seconds": indexed,
        "merge_wait_seconds": merged,
        "apply_seconds": apply_seconds,
        "documents_per_s": customers / total,
        "bytes": size,
        "segments": segments,
        "workers": workers,
        "batch": batch,
        "samples": samples,
    }


def _build_cluster_index(engine: Any, customers: int, seed: int, workers: int, batch: int) -> dict[str, Any]:
    """The same documents written the way the search service writes them (ClusterBackend.apply:
    one refreshed bulk request per batch) into the index behind the service's alias."""
    from services.search.cluster_backend import ClusterBackend
    from services.search.settings import SearchSettings

    chunk = 5000
    step = max(1, customers // 6000)
    tasks = [(s, min(chunk, customers - s), seed, step) for s in range(0, customers, chunk)]
    # One node: no replica to wait for.
    backend = ClusterBackend(engine.engine, engine.url, SearchSettings().index_alias, replicas=0)
    started = time.perf_counter()
    samples: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    done = 0
    apply_seconds = 0.0
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for docs, found in pool.imap(build_chunk, tasks):
            samples += found
            pending += docs
            done += len(docs)
            while len(pending) >= batch or (pending and done == customers):
                t0 = time.perf_counter()
                backend.apply(pending[:batch], [], 0)
                apply_seconds += time.perf_counter() - t0
                pending = pending[batch:]
            if done % 50_000 == 0 or done == customers:
                rate = done / (time.perf_counter() - started)
                log(f"indexed {done:,} / {customers:,} ({rate:,.0f} documents/s)")
    indexed = time.perf_counter() - started
    # No force merge: the index is left as the service's own writes would leave it.
    merged = 0.0
    count = backend.count()
    client = backend._client  # noqa: SLF001 - the bench reads the engine's own statistics
    primaries = client.indices.stats(index=backend.index)["_all"]["primaries"]
    backend.close()
    total = time.perf_counter() - started
    return {
        "documents": count,
        "seconds": total,
        "index_seconds": indexed,
        "merge_wait_seconds": merged,
        "apply_seconds": apply_seconds,
        "documents_per_s": customers / total,
        "bytes": int(primaries["store"]["size_in_bytes"]),
        "segments": int(primaries["segments"]["count"]),
        "workers": workers,
        "batch": batch,
        "samples": samples,
    }


# -- the query mix -------------------------------------------------------------------------------


def _strip_suffix(name: str) -> str:
    for suffix in _COMPANY_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _han(text: str) -> bool:
    return all("\u4e00" <= ch <= "\u9fff" for ch in text)


def _condition_proto(node: dict[str, Any]) -> dict[str, Any]:
    """A gateway condition tree in its protobuf JSON form."""
    for kind in ("all", "any"):
        if kind in node:
            return {kind: {"conditions": [_condition_proto(c) for c in node[kind]]}}
    test: dict[str, Any] = {"field": node["field"]}
    for name in ("any_of", "all_of", "none_of"):
        if name in node:
            test[name] = {"values": node[name]}
    if "range" in node:
        test["range"] = node["range"]
    return {"field": test}


def _search(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    grpc_body = {k: v for k, v in body.items() if k != "filter"}
    if "filter" in body:
        grpc_body["filter"] = _condition_proto(body["filter"])
    return {"kind": kind, "rpc": "search", "http": body, "grpc": grpc_body}


def _query(kind: str, s: dict[str, Any], rng: random.Random) -> dict[str, Any] | None:
    """One request of a kind built from a sampled customer (None if it does not fit)."""
    name, company = s["name"], s["kind"] == "company"
    if kind == "fuzzy_typo":
        core = _strip_suffix(name) if company else name
        spots = [i for i, ch in enumerate(core) if _han(ch)]
        if len(core) < 3 or not spots:
            return None
        i = rng.choice(spots[1:] or spots)
        typo = rng.choice([c for c in _TYPO_CHARS if c != core[i]])
        return _search(kind, {"query": name[:i] + typo + name[i + 1 :]})
    if kind == "partial_name":
        core = _strip_suffix(name)
        if not company or len(core) < 5:
            return None
        i = rng.randrange(0, len(core) - 3)
        return _search(kind, {"query": core[i : i + rng.choice((3, 4, 4, 5))]})
    if kind == "pinyin_full":
        if not s["pinyin"]:
            return None
        text = s["pinyin"] if not company else s["pinyin"][: rng.randint(8, 14)]
        return _search(kind, {"query": text})
    if kind == "initials":
        if not s["initials"]:
            return None
        text = s["initials"] if not company else s["initials"][: rng.randint(4, 6)]
        return _search(kind, {"query": text})
    if kind in ("phone_last4", "phone_middle"):
        phone = rng.choice(s["phones"])
        if kind == "phone_last4":
            return _search(kind, {"query": phone[-4:]})
        i = rng.randint(3, 5)
        return _search(kind, {"query": phone[i : i + rng.choice((4, 5, 6))]})
    if kind == "combined":
        core = _strip_suffix(name)
        if not company or len(core) < 5:
            return None
        i = rng.randrange(0, len(core) - 2)
        amount = s["amount"]
        low, high = int(amount * 0.5), int(amount * 2) + 1000
        conditions = [
            {"field": "industry_code", "any_of": [s["section"]]},
            {"field": "region_code", "any_of": [s["province"]]},
            {"field": "tier", "any_of": sorted({s["tier"], rng.choice("ABC")})},
            {"field": "deal_amount_12m", "range": {"gte": str(low), "lte": str(high)}},
        ]
        body = {
            "query": core[i : i + rng.choice((2, 3, 4))],
            "filter": {"all": conditions},
            "facets": ["industry", "region", "tier"],
        }
        return _search(kind, body)
    if kind == "suggest":
        if rng.random() < 0.6 or not s["pinyin"]:
            prefix = name[: rng.randint(2, 4)]
        else:
            prefix = s["pinyin"][: rng.randint(3, 6)]
        return {
            "kind": kind,
            "rpc": "suggest",
            "http": {"q": prefix, "limit": 8},
            "grpc": {"prefix": prefix, "limit": 8},
        }
    raise ValueError(kind)


def deep_page_items(address: str, samples: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """Filter-only searches sorted by -deal_amount_12m, on page 5 (tokens got from pages 1-4)."""
    import grpc
    from google.protobuf import json_format

    from crm.search.v1 import search_pb2 as pb
    from crm.search.v1 import search_pb2_grpc
    from services.common.identity import Caller
    from services.gateway.settings import GatewaySettings

    # The gateway's development identity: page tokens are sealed for one caller, and the deep
    # pages walked here are then requested through the gateway as well as directly.
    metadata = Caller(
        id=GatewaySettings().dev_caller_id, roles=("admin",), scope="all", permissions=("*",)
    ).to_metadata()
    items = []
    with grpc.insecure_channel(address) as channel:
        stub = search_pb2_grpc.SearchServiceStub(channel)
        for s in rng.sample(samples, 40):
            if rng.random() < 0.5:
                conditions = [
                    {"field": "region_code", "any_of": [s["province"]]},
                    {"field": "tier", "any_of": ["A", "B"]},
                ]
            else:
                conditions = [
                    {"field": "industry_code", "any_of": [s["section"]]},
                    {"field": "status", "any_of": ["deal"]},
                ]
            body: dict[str, Any] = {
                "filter": {"all": conditions},
                "sort": "-deal_amount_12m",
                "page_size": 20,
            }
            token = ""
            for _ in range(4):
                request = json_format.ParseDict(
                    _search("x", {**body, "page_token": token})["grpc"], pb.SearchCustomersRequest()
                )
                token = stub.SearchCustomers(request, metadata=metadata, timeout=120).next_page_token
                if not token:
                    break
            if token:
                items.append(_search("filter_deep_page", {**body, "page_token": token}))
    return items


def query_mix(samples: list[dict[str, Any]], deep: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """About 4,000 requests in the mix's proportions (a run draws from them at random)."""
    rng = random.Random(seed)
    items: list[dict[str, Any]] = []
    for kind, weight in WEIGHTS.items():
        made: list[dict[str, Any]] = []
        while len(made) < weight * 40:
            if kind == "filter_deep_page":
                made.append(rng.choice(deep))
                continue
            item = _query(kind, rng.choice(samples), rng)
            if item is not None:
                made.append(item)
        items += made
    return items


def new_customers(count: int, seed: int) -> list[dict[str, Any]]:
    """Create bodies whose names carry the marker and a unique number."""
    bodies = customer_payloads(count, seed)
    rng = random.Random(seed)
    for n, body in enumerate(bodies):
        base = _strip_suffix(body["name"]) if body["kind"] == "company" else body["name"]
        body["name"] = f"{base}{MARKER}{n:05d}{rng.choice('甲乙丙丁')}号有限公司"
        body["kind"] = "company"
        body.pop("gender", None)
        body.pop("birthday", None)
        body.pop("loyalty_points", None)
        body.pop("id_number", None)
    return bodies


# -- running -------------------------------------------------------------------------------------


def run_job(work: Path, job: dict[str, Any]) -> dict[str, Any]:
    """Run one load job in its own process and return its result."""
    job_file, result_file = work / f"job-{job['kind']}.json", work / f"result-{job['kind']}.json"
    job_file.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "bench.search_load", job_file, result_file], cwd=ROOT, check=True)
    result: dict[str, Any] = json.loads(result_file.read_text(encoding="utf-8"))
    return result


@contextlib.contextmanager
def _engine(backend: str, work: Path) -> Iterator[Any]:
    """A local single-node engine for a cluster backend (scripts.engines), or None for tantivy."""
    if backend == "tantivy":
        yield None
        return
    from scripts import engines

    log(f"starting a local {backend} node ({os.environ.get('CRM_ENGINES_HEAP', engines.HEAP)} heap)")
    node = engines.start(backend, home=work / backend)
    try:
        yield node
    finally:
        node.stop()


def measure(args: argparse.Namespace, work: Path, backend: str) -> dict[str, Any]:
    """Every phase on one search backend; returns the raw results."""
    results: dict[str, Any] = {
        "machine": machine(),
        "backend": backend,
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    with _engine(backend, work) as node:
        if node is not None:
            results["engine"] = f"{node.engine} {node.version}"
        _measure(args, work, node, results)
    return results


def _measure(args: argparse.Namespace, work: Path, node: Any, results: dict[str, Any]) -> None:
    data_dir = work / "data"
    log(f"generating and indexing {args.customers:,} customers with {args.workers} workers")
    batch = args.batch if node is None else args.cluster_batch
    build = build_index(data_dir / "search", args.customers, args.seed, args.workers, batch, node)
    samples = build.pop("samples")
    results["build"] = build
    log(
        f"index built: {build['documents']:,} documents in {build['seconds']:.0f} s, "
        f"{build['bytes'] / 2**20:,.0f} MiB"
    )
    writes = int(args.write_rate * args.duration) + 10
    bodies = new_customers(writes, args.seed + 1)
    log("starting profile, search and gateway")
    t0 = time.perf_counter()
    env = {"CRM_LOG_LEVEL": "WARNING"}
    if node is not None:
        env |= {"CRM_SEARCH_BACKEND": node.engine, f"{node.engine.upper()}_URL": node.url}
    with Stack(data_dir=data_dir, env=env) as stack:
        results["stack_start_seconds"] = time.perf_counter() - t0
        pids = {name: proc.pid for name, proc in stack.processes.items()}
        rng = random.Random(args.seed)
        log("walking pages 1-4 of the deep-page searches")
        deep = deep_page_items(stack.search_address, samples, rng)
        items = query_mix(samples, deep, args.seed)
        results["mix"] = {kind: sum(1 for i in items if i["kind"] == kind) for kind in WEIGHTS}
        common = {"rate": args.rate, "warmup": args.warmup, "duration": args.duration, "pids": pids}
        log(f"direct gRPC: {args.rate:g} req/s for {args.duration:g} s after {args.warmup:g} s warm-up")
        results["direct"] = run_job(
            work, {"kind": "grpc_mix", "address": stack.search_address, "items": items, **common}
        )
        http = {"host": "127.0.0.1", "port": stack.gateway_port, "items": items, **common}
        log(f"through the gateway: {args.rate:g} req/s for {args.duration:g} s")
        results["gateway"] = run_job(work, {"kind": "http_mix", **http})
        log(
            f"gateway searches at {args.rate:g} req/s + creates at {args.write_rate:g}/s "
            f"for {args.duration:g} s"
        )
        results["write_load"] = run_job(
            work,
            {
                "kind": "write_visibility",
                **http,
                "bodies": bodies,
                "write_rate": args.write_rate,
                "marker": MARKER,
                "check_interval": 0.1,
                "settle": 15.0,
                "verify": 50,
            },
        )


# -- the report ----------------------------------------------------------------------------------


def _ms(r: dict[str, Any]) -> str:
    return f"{r['p50_ms']:,.1f} / {r['p95_ms']:,.1f} / {r['p99_ms']:,.1f} ms"


def _cpu(r: dict[str, Any]) -> str:
    share = r["cpu"]["core_share"]
    names = ("search", "gateway", "profile", "loadgen", "others")
    return ", ".join(f"{name} {share[name] * 100:.0f}%" for name in names if name in share)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _kinds(title: str, r: dict[str, Any]) -> list[str]:
    lines = [f"{title}: p50 / p95 / p99 per kind (count, failures, answers with no hit)"]
    for kind, k in r["kinds"].items():
        lines.append(
            f"  {kind:<17} {_ms(k):>28}  n={k['count']:<5} failed={k['failures']:<3} no-hit={k['empty']}"
        )
    return lines


def report(results: dict[str, Any]) -> str:
    """The table against the SPEC targets."""
    m, a, b = results["machine"], results["args"], results["build"]
    direct, gateway, wl = results["direct"], results["gateway"], results["write_load"]
    searches, writes = wl["searches"], wl["writes"]
    vis = wl["visibility_from_ack"]
    rate = float(a["rate"])
    steady = gateway["rate"] >= 0.98 * rate
    rows = [
        (
            "index build",
            f"{b['documents']:,} docs in {b['seconds']:.0f} s = {b['documents_per_s']:,.0f} docs/s",
            "-",
            "",
        ),
        ("  index size on disk", f"{b['bytes'] / 2**20:,.0f} MiB, {b['segments']} segments", "-", ""),
        (f"direct gRPC at {rate:g} req/s: achieved", f"{direct['rate']:.1f} req/s", "-", ""),
        ("  p50 / p95 / p99 (all kinds)", _ms(direct["overall"]), "-", ""),
        (
            f"gateway at {rate:g} req/s: achieved",
            f"{gateway['rate']:.1f} req/s",
            f"{rate:g} req/s",
            _verdict(steady),
        ),
        ("  p50 / p95 / p99 (all kinds)", _ms(gateway["overall"]), "", ""),
        (
            "  p95",
            f"{gateway['overall']['p95_ms']:,.1f} ms",
            f"<= {TARGET_P95_MS:g} ms",
            _verdict(gateway["overall"]["p95_ms"] <= TARGET_P95_MS),
        ),
        (
            "  p99",
            f"{gateway['overall']['p99_ms']:,.1f} ms",
            f"<= {TARGET_P99_MS:g} ms",
            _verdict(gateway["overall"]["p99_ms"] <= TARGET_P99_MS),
        ),
        (f"under writes: searches at {rate:g} req/s achieved", f"{searches['rate']:.1f} req/s", "-", ""),
        ("  search p50 / p95 / p99", _ms(searches["overall"]), "-", ""),
        (
            f"  creates at {a['write_rate']} /s: achieved",
            f"{writes['rate']:.1f} /s",
            f"{a['write_rate']} /s",
            _verdict(writes["rate"] >= 0.98 * float(a["write_rate"])),
        ),
        ("  create latency p50 / p95 / p99", _ms(writes["latency"]), "-", ""),
        ("  visible in search p50 / p95 / p99", _ms(vis), "-", ""),
        (
            "  visible in search p99 (from 201)",
            f"{vis['p99_ms'] / 1000:,.2f} s",
            f"<= {TARGET_VISIBLE_P99_S:g} s",
            _verdict(vis["p99_ms"] / 1000 <= TARGET_VISIBLE_P99_S and wl["never_seen"] == 0),
        ),
        ("  visible p50 / p95 / p99 (from POST sent)", _ms(wl["visibility_from_send"]), "-", ""),
    ]
    width = max(len(r[0]) for r in rows)
    engine = results.get("engine") or "tantivy (embedded)"
    lines = [
        f"Search latency on {engine}: {b['documents']:,} customers, open loop at {rate:g} req/s, "
        f"{a['duration']} s per run after {a['warmup']} s warm-up",
        f"Machine: {m['cpus']} cores ({m['cpu_model']}), {m['memory']}, Python {m['python']}, {m['date']}, "
        f"load average before the run {m['load_average_at_start']}",
        "The load generator (bench.search_load: asyncio, raw HTTP/1.1 keep-alive, grpc.aio) runs on the SAME "
        f"{m['cpus']} cores as the services.",
        "",
        f"{'measure':<{width}}  {'measured':>46}  {'SPEC target':>12}  result",
        "-" * (width + 72),
    ]
    lines += [f"{n:<{width}}  {v:>46}  {t:>12}  {r}" for n, v, t, r in rows]
    lines += [""]
    lines += _kinds("Direct gRPC", direct)
    lines += _kinds("Through the gateway", gateway)
    lines += _kinds("Through the gateway, under writes", searches)
    lines += [
        "",
        "CPU, share of one core (200% = both cores):",
        f"  direct gRPC:   {_cpu(direct)}",
        f"  gateway:       {_cpu(gateway)}",
        f"  under writes:  {_cpu(searches)}",
        f"Build: {b['index_seconds']:.0f} s generating + indexing ({b['workers']} document workers, "
        f"commits every {b['batch']:,}; {b['apply_seconds']:.0f} s inside "
        f"{'ClusterBackend' if results.get('engine') else 'TantivyBackend'}.apply), "
        f"{b['merge_wait_seconds']:.0f} s waiting for merges; "
        f"stack started in {results['stack_start_seconds']:.1f} s",
        f"Open loop: direct {direct['scheduled']} scheduled / {direct['unfinished']} unfinished; gateway "
        f"{gateway['scheduled']} / {gateway['unfinished']} ({gateway['connections']} connections); "
        f"under writes {searches['scheduled']} / {searches['unfinished']}",
        f"Visibility: {writes['created']} created, {wl['never_seen']} never seen, {wl['checks']} checker "
        f"searches (one per 100 ms: marker text, newest first); {wl['verify']['found_by_name']} of "
        f"{wl['verify']['sampled']} sampled new customers found by a search for their full name "
        f"({wl['verify']['first_hit']} as the first hit)",
    ]
    failures = _failures(results)
    lines.append(f"Failed requests: {failures}")
    for key, r in (("direct", direct), ("gateway", gateway), ("under writes", searches)):
        lines += [f"  {key}: {s}" for s in r["failure_samples"]]
    lines += [f"  create: {s}" for s in writes["failure_samples"]]
    lines += [f"  checker: {s}" for s in wl["check_failure_samples"]]
    return "\n".join(lines)


def _failures(results: dict[str, Any]) -> int:
    wl = results["write_load"]
    return int(
        results["direct"]["overall"]["failures"]
        + results["gateway"]["overall"]["failures"]
        + wl["searches"]["overall"]["failures"]
        + wl["writes"]["failures"]
        + wl["check_failures"]
    )


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.search_latency", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--customers", type=int, default=1_000_000, help="customers to generate and index")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds before each run")
    parser.add_argument("--rate", type=float, default=100.0, help="offered searches per second")
    parser.add_argument("--write-rate", type=float, default=50.0, help="customers created per second")
    parser.add_argument("--workers", type=int, default=2, help="processes building index documents")
    parser.add_argument(
        "--batch", type=int, default=100_000, help="documents per index commit while building"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument(
        "--keep", type=Path, help="keep the run's folder (index, logs) here instead of deleting it"
    )
    parser.add_argument(
        "--backends",
        default="tantivy",
        help="comma-separated, run in turn on the same data: tantivy, opensearch, elasticsearch "
        "(a local node from scripts.engines; CRM_ENGINES_HEAP sets its heap)",
    )
    parser.add_argument(
        "--cluster-batch", type=int, default=5000, help="documents per bulk request on a cluster backend"
    )
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - {"tantivy", "opensearch", "elasticsearch"}
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    runs = []
    for backend in backends:
        work = Path(tempfile.mkdtemp(prefix=f"crm-bench-search-{backend}-"))
        try:
            started = time.monotonic()
            results = measure(args, work, backend)
            results["total_seconds"] = time.monotonic() - started
        finally:
            if args.keep:
                shutil.move(str(work), str(args.keep / backend))
            else:
                shutil.rmtree(work, ignore_errors=True)
        print(report(results) + "\n", flush=True)  # noqa: T201
        log(f"{backend} done in {results['total_seconds']:.0f} s")
        runs.append(results)
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2, ensure_ascii=False), encoding="utf-8")
    raise SystemExit(1 if any(_failures(r) for r in runs) else 0)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
