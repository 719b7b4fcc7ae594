"""Starts and stops the platform's processes on this machine (embedded mode, tests, benchmarks).

`python -m scripts.stack up [--demo]` starts every service detached and prints where the API
is; `python -m scripts.stack down` stops them. Tests and benchmarks use the Stack class.
"""

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
# Start order: each service's dependencies come before it.
SERVICES = ("auth", "profile", "tagging", "search", "analytics", "gateway")
# Services that call other services, and the scopes their own API clients need.
SERVICE_CLIENTS = {
    "gateway": ("audit:write",),
    "profile": ("audit:write",),
    "tagging": ("feed:read", "customer:read", "related:read", "audit:write"),
    "search": ("feed:read", "customer:read", "tag:read", "audit:write"),
    "analytics": ("feed:read", "audit:write"),
}
# Background workers (Celery) started by `make up`: name -> command line after the interpreter.
WORKERS = {"tagging-worker": ("-m", "services.tagging", "worker", "--beat")}
PYTHON = sys.executable


# Listening ports come from below the kernel's ephemeral range (32768-60999 on Linux): a port the
# kernel hands out for bind(0) or an outgoing connection could otherwise be taken by another
# process between our check and the service's own bind.
_PORTS = range(20000, 32768)
# Ports this process handed out already: two services of one stack never get the same one.
_GIVEN: set[int] = set()


def free_port() -> int:
    """A TCP port nobody uses right now (on every interface), outside the ephemeral range."""
    for _ in range(200):
        port = random.choice(_PORTS)
        if port in _GIVEN:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))  # noqa: S104 - only probing; metrics listen on all
            except OSError:
                continue
        _GIVEN.add(port)
        return port
    raise RuntimeError("no free TCP port between 20000 and 32767")


def wait_grpc_serving(
    address: str, timeout: float = 30.0, credentials: grpc.ChannelCredentials | None = None
) -> None:
    """Block until the gRPC health service at address reports SERVING (over TLS with credentials)."""
    deadline = time.monotonic() + timeout
    channel = grpc.secure_channel(address, credentials) if credentials else grpc.insecure_channel(address)
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise TimeoutError(f"{address} did not become ready in {timeout}s")


def wait_http_ready(url: str, timeout: float = 30.0) -> None:
    """Block until GET url answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not become ready in {timeout}s")


@dataclass
class Stack:
    """Every service as its own process: profile, search, then the gateway in front."""

    data_dir: Path
    database_url: str = ""
    gateway_port: int = 0
    profile_port: int = 0
    profile_metrics_port: int = 0
    search_port: int = 0
    search_metrics_port: int = 0
    tagging_port: int = 0
    tagging_metrics_port: int = 0
    analytics_port: int = 0
    analytics_metrics_port: int = 0
    auth_port: int = 0
    # Tests reach services with the unsigned development identity; `make up` does not.
    dev_identity: bool = True
    env: dict[str, str] = field(default_factory=dict)
    # Extra variables for one service only (its own credentials, its CRM_GRPC_TLS_* files).
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    # What the stack presents to check services' health when they run mutual TLS.
    grpc_credentials: grpc.ChannelCredentials | None = None
    detached: bool = False
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self.gateway_port = self.gateway_port or free_port()
        self.profile_port = self.profile_port or free_port()
        self.profile_metrics_port = self.profile_metrics_port or free_port()
        self.search_port = self.search_port or free_port()
        self.search_metrics_port = self.search_metrics_port or free_port()
        self.auth_port = self.auth_port or free_port()
        self.tagging_port = self.tagging_port or free_port()
        self.tagging_metrics_port = self.tagging_metrics_port or free_port()
        self.analytics_port = self.analytics_port or free_port()
        self.analytics_metrics_port = self.analytics_metrics_port or free_port()

    @property
    def gateway_url(self) -> str:
        """Base URL of the REST gateway."""
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def profile_address(self) -> str:
        """host:port of the profile gRPC service."""
        return f"127.0.0.1:{self.profile_port}"

    @property
    def auth_address(self) -> str:
        """host:port of the auth gRPC service."""
        return f"127.0.0.1:{self.auth_port}"

    @property
    def tagging_address(self) -> str:
        """host:port of the tagging gRPC service."""
        return f"127.0.0.1:{self.tagging_port}"

    @property
    def analytics_address(self) -> str:
        """host:port of the analytics gRPC service."""
        return f"127.0.0.1:{self.analytics_port}"

    @property
    def search_address(self) -> str:
        """host:port of the search gRPC service."""
        return f"127.0.0.1:{self.search_port}"

    def _env(self, service: str) -> dict[str, str]:
        env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}",
            "CRM_DATA_DIR": str(self.data_dir),
            "OTEL_SERVICE_NAME": service,
            "PROFILE_ADDR": self.profile_address,
            "CRM_PROFILE_LISTEN_ADDRESS": self.profile_address,
            "SEARCH_ADDR": self.search_address,
            "TAGGING_ADDR": self.tagging_address,
            "CRM_TAGGING_LISTEN_ADDRESS": self.tagging_address,
            "ANALYTICS_ADDR": self.analytics_address,
            "CRM_ANALYTICS_LISTEN_ADDRESS": self.analytics_address,
            "AUTH_ADDR": self.auth_address,
            "CRM_AUTH_LISTEN_ADDRESS": self.auth_address,
            "CRM_DEV_IDENTITY": "true" if self.dev_identity else "false",
            "CRM_SEARCH_LISTEN_ADDRESS": self.search_address,
            "CRM_GATEWAY_PORT": str(self.gateway_port),
            **self.env,
            **self.service_env.get(service, {}),
        }
        if service in ("profile", "search", "tagging", "analytics"):
            env["CRM_METRICS_PORT"] = str(getattr(self, f"{service}_metrics_port"))
        if self.database_url:
            env["CRM_PROFILE_DATABASE_URL"] = self.database_url
        return env

    def start_service(self, service: str) -> None:
        """Start one service process and wait until it is ready."""
        logs = self.data_dir / "log"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"{service}.log", "ab") as log:
            proc = subprocess.Popen(
                [PYTHON, "-m", f"services.{service}"],
                cwd=ROOT,
                env=self._env(service),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=self.detached,
            )
        self.processes[service] = proc
        try:
            if service == "gateway":
                wait_http_ready(f"{self.gateway_url}/readyz")
            else:
                wait_grpc_serving(getattr(self, f"{service}_address"), credentials=self.grpc_credentials)
        except TimeoutError:
            self.stop()
            tail = (logs / f"{service}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{service} failed to start; its log ends with:\n{tail}") from None

    def start_worker(self, name: str) -> None:
        """Start a background worker (Celery); it is ready when it has connected to its broker."""
        logs = self.data_dir / "log"
        logs.mkdir(parents=True, exist_ok=True)
        service = name.removesuffix("-worker")
        with open(logs / f"{name}.log", "ab") as log:
            self.processes[name] = subprocess.Popen(
                [PYTHON, *WORKERS[name]],
                cwd=ROOT,
                env=self._env(service),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=self.detached,
            )

    def stop_service(self, service: str, sig: int = signal.SIGTERM) -> None:
        """Stop one service (SIGTERM drains; SIGKILL simulates a crash)."""
        proc = self.processes.pop(service, None)
        if proc is None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def migrate(self) -> None:
        """Create or upgrade every database schema."""
        for service in ("auth", "profile", "tagging", "analytics"):
            self.command(service, "migrate")

    def use_service_clients(self) -> None:
        """Give services that call others their own API clients (their secrets stay under run/)."""
        for service, scopes in SERVICE_CLIENTS.items():
            path = self.data_dir / "run" / f"{service}-client.json"
            self.command(
                "auth", "service-client", "--service", service, "--scopes", *scopes, "--output", str(path)
            )
            credentials = json.loads(path.read_text())
            self.service_env.setdefault(service, {}).update(
                {
                    "CRM_SERVICE_CLIENT_ID": credentials["client_id"],
                    "CRM_SERVICE_CLIENT_SECRET": credentials["client_secret"],
                }
            )

    def command(self, service: str, *args: str) -> str:
        """Run one of a service's commands (python -m services.<service> ...); its output."""
        done = subprocess.run(
            [PYTHON, "-m", f"services.{service}", *args],
            cwd=ROOT,
            env=self._env(service),
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout

    def start(self) -> "Stack":
        """Start every service in dependency order."""
        self.migrate()
        if not self.dev_identity:
            self.use_service_clients()
        for service in SERVICES:
            self.start_service(service)
        return self

    def stop(self) -> None:
        """Stop every worker and service, the gateway first."""
        for name in WORKERS:
            self.stop_service(name)
        for service in reversed(SERVICES):
            self.stop_service(service)

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _pid_file(data_dir: Path) -> Path:
    return data_dir / "run" / "stack.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


# Search engines `make up` starts itself for CRM_SEARCH_BACKEND, unless their URL names a cluster.
ENGINE_URLS = {"opensearch": "OPENSEARCH_URL", "elasticsearch": "ELASTICSEARCH_URL"}


def start_engine(data_dir: Path) -> dict[str, str]:
    """For CRM_SEARCH_BACKEND=opensearch|elasticsearch with no URL set, the local single node
    (scripts/engines.py, data under <data_dir>/<engine>) running; the variable naming it."""
    backend = os.environ.get("CRM_SEARCH_BACKEND", "tantivy")
    variable = ENGINE_URLS.get(backend)
    if variable is None or os.environ.get(variable):
        return {}
    from scripts import engines  # it imports this module, so only when an engine is wanted

    node = engines.running(data_dir / backend)
    if node is None:
        print(f"starting {backend} (its first start builds it from Maven Central jars) ...")
        try:
            node = engines.start(backend, home=data_dir / backend, detach=True)
        except engines.EngineUnavailable as exc:
            sys.exit(f"CRM_SEARCH_BACKEND={backend}: {exc}")
    return {variable: node.url}


def stop_engines(data_dir: Path) -> None:
    """Stop the local engines `up` started under data_dir."""
    folders = [data_dir / name for name in ENGINE_URLS if (data_dir / name / "node.json").exists()]
    if not folders:
        return
    from scripts import engines

    for folder in folders:
        if node := engines.running(folder):
            node.stop()
            print(f"stopped {node.engine}")


def up(data_dir: Path, port: int, demo: bool, customers: int) -> None:
    """Start the embedded platform detached, seed demo data once, print the addresses."""
    pid_file = _pid_file(data_dir)
    if pid_file.exists():
        state = json.loads(pid_file.read_text())
        if all(_alive(pid) for pid in state["pids"].values()):
            print(f"already running: API {state['api']}  docs {state['docs']}")
            return
        down(data_dir)
    engine = start_engine(data_dir)
    stack = Stack(data_dir=data_dir, gateway_port=port, detached=True, dev_identity=False, env=engine)
    stack.migrate()
    stack.use_service_clients()
    users = data_dir / "demo-users.json"
    if demo:
        stack.command("auth", "seed-demo", "--output", str(users))
        subprocess.run(
            [PYTHON, "-m", "services.profile", "seed-demo", "--customers", str(customers)],
            cwd=ROOT,
            env=stack._env("profile"),
            check=True,
        )
        stack.command("tagging", "seed-demo")
    for service in SERVICES:
        stack.start_service(service)
    for name in WORKERS:
        stack.start_worker(name)
    api, docs = f"{stack.gateway_url}/api/v1", f"{stack.gateway_url}/docs"
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(
        json.dumps({"api": api, "docs": docs, "pids": {n: p.pid for n, p in stack.processes.items()}})
    )
    print(f"CRM is up (embedded mode, data in {data_dir})")
    print(f"  API:     {api}")
    print(f"  Docs:    {docs}")
    print(
        f"  Metrics: {stack.gateway_url}/metrics (gateway), "
        f"http://127.0.0.1:{stack.profile_metrics_port}/metrics (profile), "
        f"http://127.0.0.1:{stack.search_metrics_port}/metrics (search), "
        f"http://127.0.0.1:{stack.tagging_metrics_port}/metrics (tagging), "
        f"http://127.0.0.1:{stack.analytics_metrics_port}/metrics (analytics)"
    )
    for variable, url in engine.items():
        backend = os.environ["CRM_SEARCH_BACKEND"]
        print(f"  Search:  {backend} at {url} ({variable}; data in {data_dir / backend})")
    if demo:
        print(f"  Users:   {users} (one per role); a token: .venv/bin/python -m scripts.login S1001")
    print(f"  Logs:    {data_dir / 'log'}   Stop with: make down")


def down(data_dir: Path) -> None:
    """Stop what `up` started (SIGTERM, then SIGKILL after 20 s), the local search engine last."""
    pid_file = _pid_file(data_dir)
    if not pid_file.exists():
        stop_engines(data_dir)
        print("not running")
        return
    pids = json.loads(pid_file.read_text())["pids"]
    for name in [*WORKERS, *reversed(SERVICES)]:
        pid = pids.get(name)
        if pid and _alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 20
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    pid_file.unlink()
    stop_engines(data_dir)
    print("stopped")


def main() -> None:
    """Command line: up or down."""
    parser = argparse.ArgumentParser(prog="python -m scripts.stack")
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "var")
    parser.add_argument("--port", type=int, default=int(os.environ.get("CRM_GATEWAY_PORT", 8000)))
    parser.add_argument("--demo", action="store_true", help="seed demo data on first start")
    parser.add_argument("--customers", type=int, default=3000)
    args = parser.parse_args()
    if args.command == "up":
        up(args.data_dir.resolve(), args.port, args.demo, args.customers)
    else:
        down(args.data_dir.resolve())


if __name__ == "__main__":
    main()
