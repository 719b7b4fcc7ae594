"""Local single-node search engines (OpenSearch, Elasticsearch) built from Maven Central jars.

`engines/` is a Maven project with one module per engine and pinned versions. On first use it is
built (`mvn -q package`) into `.cache/engines/<engine>-<version>/`; Maven Central is reached only
then, never when a node starts. A node runs on 127.0.0.1 with a 512 MB heap; its folder holds
`data/`, `logs/node.log`, `config/` and `node.json` (pid, ports, URL).

    python -m scripts.engines build [opensearch|elasticsearch ...]
    python -m scripts.engines start opensearch --port 9200 --data var/opensearch
    python -m scripts.engines stop --data var/opensearch

Tests and `scripts/stack.py` use `start()` and `Node`.
"""

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from scripts.stack import ROOT, free_port

SOURCES = ROOT / "engines"
CACHE = ROOT / ".cache" / "engines"
HEAP = "512m"  # CRM_ENGINES_HEAP overrides it (the benchmarks give 1g at 1,000,000 customers)
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0


class EngineUnavailable(RuntimeError):
    """This machine cannot build or run the engine (no suitable Java or Maven)."""


@dataclass(frozen=True)
class Engine:
    """One engine: its Maven module, the version pinned there, its main class and Java."""

    name: str
    main_class: str
    # Oldest Java the engine runs on: 2.19 OpenSearch runs on 17, Elasticsearch 9 needs 21.
    java: int

    @property
    def version(self) -> str:
        """The engine version pinned in its module's pom.xml."""
        pom = (SOURCES / self.name / "pom.xml").read_text()
        found = re.search(rf"<{self.name}\.version>([^<]+)</{self.name}\.version>", pom)
        if not found:
            raise RuntimeError(f"engines/{self.name}/pom.xml pins no {self.name}.version")
        return found.group(1)

    @property
    def folder(self) -> Path:
        """Where the built launcher and its jars live."""
        return CACHE / f"{self.name}-{self.version}"

    def jvm_options(self) -> list[str]:
        """Options an official distribution's jvm.options would give, for a small heap."""
        heap = os.environ.get("CRM_ENGINES_HEAP", HEAP)
        options = [
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:MaxDirectMemorySize=256m",
            "-XX:+UseG1GC",
            "-XX:-OmitStackTraceInFastThrow",
            "-Xss1m",
            "-Djava.awt.headless=true",
            "-Dfile.encoding=UTF-8",
            "-Djna.nosys=true",
            "-Dio.netty.noUnsafe=true",
            "-Dio.netty.noKeySetOptimization=true",
            "-Dio.netty.recycler.maxCapacityPerThread=0",
            "-Dlog4j.shutdownHookEnabled=false",
            "-Dlog4j2.disable.jmx=true",
        ]
        if self.java >= 21:
            options.append("--enable-native-access=ALL-UNNAMED")
        return options


ENGINES = {
    "opensearch": Engine("opensearch", "crm.engines.opensearch.SingleNode", java=17),
    "elasticsearch": Engine("elasticsearch", "crm.engines.elasticsearch.SingleNode", java=21),
}


# -- tools -----------------------------------------------------------------------------------------


def _java_feature(home: Path) -> int:
    """The feature version (17, 21, 25) of the JDK at home, from its `release` file; 0 if unknown."""
    release = home / "release"
    if not release.exists():
        return 0
    found = re.search(r'^JAVA_VERSION="(\d+)', release.read_text(), re.MULTILINE)
    return int(found.group(1)) if found else 0


def _jdk_candidates() -> Iterator[Path]:
    for variable in ("CRM_ENGINES_JAVA_HOME", "JAVA_HOME"):
        if value := os.environ.get(variable):
            yield Path(value)
    if java := shutil.which("java"):
        yield Path(java).resolve().parent.parent
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        yield from sorted(jvm.iterdir(), key=_java_feature)


def java_home(engine: Engine) -> Path:
    """A JDK (with javac) new enough for the engine: the oldest that fits, so 17 stays the default."""
    seen = []
    for home in _jdk_candidates():
        feature = _java_feature(home)
        seen.append(f"{home} ({feature or '?'})")
        if feature >= engine.java and (home / "bin" / "javac").exists():
            return home
    raise EngineUnavailable(
        f"{engine.name} needs a JDK {engine.java} or later with javac; found {', '.join(seen) or 'none'}"
        " (set CRM_ENGINES_JAVA_HOME)"
    )


def _maven() -> str:
    maven = shutil.which("mvn")
    if maven is None:
        raise EngineUnavailable("Maven (mvn) is not installed: it builds the local engines")
    return maven


# -- building --------------------------------------------------------------------------------------


def _fingerprint(engine: Engine) -> str:
    """A hash of everything the build reads: the poms and the sources of the module and the launcher."""
    digest = hashlib.sha256()
    files = [
        SOURCES / "pom.xml",
        *sorted((SOURCES / "launcher").rglob("*")),
        *sorted((SOURCES / engine.name).rglob("*")),
    ]
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(SOURCES)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _lock() -> Iterator[None]:
    """One build at a time across processes (parallel test runs share the cache)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build(engine: Engine) -> Path:
    """Build the engine's launcher and gather its jars, unless the cache is current; its folder."""
    stamp = engine.folder / "stamp"
    fingerprint = _fingerprint(engine)
    if stamp.exists() and stamp.read_text() == fingerprint:
        return engine.folder
    home = java_home(engine)
    maven = _maven()
    with _lock():
        if stamp.exists() and stamp.read_text() == fingerprint:
            return engine.folder
        shutil.rmtree(engine.folder, ignore_errors=True)
        done = subprocess.run(
            [
                maven,
                "-q",
                "-B",
                "-f",
                str(SOURCES / "pom.xml"),
                "-pl",
                engine.name,
                "-am",
                f"-Dengines.cache={CACHE}",
                "package",
            ],
            env={**os.environ, "JAVA_HOME": str(home)},
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"building {engine.name} failed:\n{(done.stdout + done.stderr)[-4000:]}")
        stamp.write_text(fingerprint)
    return engine.folder


# -- running ---------------------------------------------------------------------------------------


@dataclass
class Node:
    """A running single-node engine: where it listens, its folder and its process."""

    engine: str
    version: str
    home: Path
    http_port: int
    transport_port: int
    pid: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The node's HTTP address."""
        return f"http://127.0.0.1:{self.http_port}"

    def alive(self) -> bool:
        """Whether the node's process still runs."""
        if self.process is not None:
            return self.process.poll() is None
        return _alive(self.pid)

    def log_tail(self, size: int = 3000) -> str:
        """The end of the node's log."""
        log = self.home / "logs" / "node.log"
        return log.read_text(errors="replace")[-size:] if log.exists() else ""

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Block until the cluster is yellow or green; RuntimeError with the log if it is not."""
        deadline = time.monotonic() + timeout
        health = f"{self.url}/_cluster/health?wait_for_status=yellow&timeout=1s"
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(
                    f"{self.engine} exited while starting; its log ends with:\n{self.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError, ValueError):
                reply = httpx.get(health, timeout=3)
                if reply.status_code == 200 and reply.json().get("status") in ("yellow", "green"):
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"{self.engine} was not ready in {timeout:.0f}s; its log ends with:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop cleanly (SIGTERM closes the node), or kill it after timeout."""
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            if not self._wait_exit(timeout):
                os.kill(self.pid, signal.SIGKILL)
                self._wait_exit(timeout)
        (self.home / "node.json").unlink(missing_ok=True)

    def kill(self) -> None:
        """Kill the JVM at once (kill -9): a crash, for tests of recovery."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            self._wait_exit(STOP_TIMEOUT)

    def _wait_exit(self, timeout: float) -> bool:
        if self.process is not None:
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = time.monotonic() + timeout
        while _alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        return not _alive(self.pid)

    def restart(self, timeout: float = START_TIMEOUT) -> "Node":
        """Start the engine again on the same ports and folder (its data kept)."""
        again = start(
            self.engine,
            home=self.home,
            port=self.http_port,
            transport_port=self.transport_port,
            detach=self.process is None,
            timeout=timeout,
        )
        self.pid, self.process = again.pid, again.process
        return self


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def start(
    name: str,
    *,
    home: Path,
    port: int = 0,
    transport_port: int = 0,
    detach: bool = False,
    timeout: float = START_TIMEOUT,
) -> Node:
    """Build if needed, start a single node with its folder at home, and wait until it is ready.

    Attached (the default), the node also stops when this process goes away (it watches its
    standard input); detached, it runs on until `stop`.
    """
    engine = ENGINES[name]
    folder = build(engine)
    java = java_home(engine) / "bin" / "java"
    home = Path(home).resolve()
    for sub in ("logs", "tmp"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    port, transport_port = port or free_port(), transport_port or free_port()
    command = [
        str(java),
        *engine.jvm_options(),
        f"-Djava.io.tmpdir={home / 'tmp'}",
        "-cp",
        f"{folder / 'build' / 'node.jar'}{os.pathsep}{folder / 'lib' / '*'}",
        engine.main_class,
        *("--home", str(home), "--data", str(home / "data")),
        *("--http-port", str(port), "--transport-port", str(transport_port)),
        *("--watch-stdin", "false" if detach else "true"),
    ]
    with open(home / "logs" / "node.log", "ab") as log:
        process = subprocess.Popen(
            command,
            cwd=home,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL if detach else subprocess.PIPE,
            start_new_session=detach,
        )
    node = Node(name, engine.version, home, port, transport_port, process.pid, None if detach else process)
    node.wait_ready(timeout)
    if detach:
        (home / "node.json").write_text(
            json.dumps(
                {
                    "engine": name,
                    "version": engine.version,
                    "pid": process.pid,
                    "http_port": port,
                    "transport_port": transport_port,
                    "url": node.url,
                }
            )
        )
    return node


def running(home: Path) -> Node | None:
    """The detached node whose folder is home, if it still runs."""
    state_file = Path(home).resolve() / "node.json"
    if not state_file.exists():
        return None
    state = json.loads(state_file.read_text())
    node = Node(
        state["engine"],
        state["version"],
        state_file.parent,
        state["http_port"],
        state["transport_port"],
        state["pid"],
    )
    return node if node.alive() else None


def main() -> None:
    """Command line: build, start, stop."""
    parser = argparse.ArgumentParser(prog="python -m scripts.engines")
    commands = parser.add_subparsers(dest="command", required=True)
    built = commands.add_parser("build", help="build the launchers (downloads jars on first use)")
    built.add_argument(
        "engines", nargs="*", metavar="engine", help=f"one of {', '.join(ENGINES)} (default: all)"
    )
    started = commands.add_parser("start", help="start a detached single node and wait until it is ready")
    started.add_argument("engine", choices=list(ENGINES))
    started.add_argument("--port", type=int, default=0, help="HTTP port (default: a free one)")
    started.add_argument("--transport-port", type=int, default=0)
    started.add_argument("--data", type=Path, required=True, help="the node's folder (data, logs, config)")
    stopped = commands.add_parser("stop", help="stop the node started with this folder")
    stopped.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()
    try:
        if args.command == "build":
            unknown = set(args.engines) - set(ENGINES)
            if unknown:
                parser.error(f"unknown engines {sorted(unknown)}; choose from {', '.join(ENGINES)}")
            for name in args.engines or ENGINES:
                print(f"{name} {ENGINES[name].version}: {build(ENGINES[name])}")
        elif args.command == "start":
            if node := running(args.data):
                print(f"already running: {node.engine} {node.version} at {node.url} (pid {node.pid})")
                return
            began = time.monotonic()
            node = start(
                args.engine, home=args.data, port=args.port, transport_port=args.transport_port, detach=True
            )
            elapsed = time.monotonic() - began
            print(f"{node.engine} {node.version} is up at {node.url} in {elapsed:.1f}s (pid {node.pid})")
        elif node := running(args.data):
            node.stop()
            print("stopped")
        else:
            print("not running")
    except EngineUnavailable as exc:
        sys.exit(str(exc))


if __name__ == "__main__":
    main()
