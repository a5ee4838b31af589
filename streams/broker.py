"""Lifecycle of the local single-node Kafka broker (KRaft, broker+controller in one JVM).

Used by ``patrolflow kafka up|status|down`` and by the pytest session fixture. The jars come
from Maven Central through ``deploy/kafka/pom.xml`` (no Docker, no release tarball needed);
everything the broker writes lives under ``Settings.cache_dir``, outside the repository:

    <cache_dir>/kafka-<version>/libs/     resolved jars (+ ``.resolved`` marker next to libs/)
    <cache_dir>/broker-<port>/            server.properties, broker.pid, broker.log, data/

With ``Settings.kafka_bootstrap`` set, an existing cluster is used and nothing is started.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from aiokafka.admin import AIOKafkaAdminClient

from streams import broker_sasl
from streams.broker_sasl import SaslSslListener
from streams.security import client_kwargs
from streams.settings import Settings

__all__ = [
    "LOG4J2_CONFIG",
    "POM",
    "BrokerError",
    "BrokerState",
    "BrokerStatus",
    "BrokerTimeoutError",
    "down",
    "parse_sha512",
    "render_server_properties",
    "resolve_jars",
    "status",
    "up",
    "wait_until_reachable",
]

# deploy/ is not a Python package: this works for the editable/source checkout the project uses.
DEPLOY_DIR = Path(__file__).resolve().parent.parent / "deploy" / "kafka"
POM = DEPLOY_DIR / "pom.xml"
LOG4J2_CONFIG = DEPLOY_DIR / "log4j2.properties"

_HOST = "127.0.0.1"
_NODE_ID = 1
_MAIN_CLASS = "kafka.Kafka"
_STORAGE_TOOL = "kafka.tools.StorageTool"
_TOOL_JVM_FLAGS = ("-Xmx256m",)  # the storage tool is a short-lived helper
_JVM_FLAGS = ("-server", "-XX:+UseG1GC", "-Djava.awt.headless=true", "-XX:+ExitOnOutOfMemoryError")
_MAVEN_TIMEOUT_S = 900.0  # first resolve downloads ~60 MB
_TOOL_TIMEOUT_S = 120.0
_PROBE_TIMEOUT_S = 5.0
_STATUS_TIMEOUT_S = 3.0
_POLL_INTERVAL_S = 0.25
_KILL_GRACE_S = 10.0
_LOG_TAIL_LINES = 40
_APACHE_ARCHIVE = "https://archive.apache.org/dist/kafka"
_START_MARK = "=== patrolflow broker start"
_REFUSALS = ("SaslAuthenticationFailed", "CERTIFICATE_VERIFY_FAILED")
_REFUSALS_BEFORE_GIVING_UP = 3

T = TypeVar("T")
Outcome = Literal["external", "started", "already-running"]

# Brokers started by this process: keeping the Popen lets down() reap the child (no zombie that
# looks alive) and avoids "subprocess still running" warnings when the object is collected.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class BrokerError(RuntimeError):
    """The local broker could not be resolved, started or stopped."""


class BrokerTimeoutError(BrokerError, TimeoutError):
    """No metadata answer before the deadline."""


@dataclass(frozen=True)
class BrokerState:
    """What ``up`` did."""

    outcome: Outcome
    bootstrap: str  # plain host:port[,host:port] for clients
    pid: int | None = None  # None: external, or an answering broker we did not start
    version: str | None = None  # Kafka version of a broker we started
    broker_dir: Path | None = None
    log_file: Path | None = None
    startup_s: float | None = None  # java launch to first metadata answer (when "started")

    @property
    def external(self) -> bool:
        return self.outcome == "external"

    @property
    def started(self) -> bool:
        return self.outcome == "started"

    @property
    def already_running(self) -> bool:
        return self.outcome == "already-running"


@dataclass(frozen=True)
class BrokerStatus:
    """What ``status`` found."""

    bootstrap: str
    reachable: bool  # a Kafka metadata request was answered
    external: bool
    pid: int | None  # our broker's live pid (pid file), None when not ours or not running
    broker_version: str | None  # known only for a broker this module started
    cluster_id: str | None
    broker_count: int | None
    detail: str


# --- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Paths:
    home: Path

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    @property
    def version_file(self) -> Path:
        return self.home / "broker.version"

    @property
    def log_file(self) -> Path:
        return self.home / "broker.log"

    @property
    def lock(self) -> Path:
        return self.home / ".lock"


def _paths(settings: Settings) -> _Paths:
    return _Paths(settings.cache_dir / f"broker-{settings.kafka_port}")


def render_server_properties(
    *, port: int, controller_port: int, data_dir: Path, sasl_ssl: SaslSslListener | None = None
) -> str:
    """server.properties of one combined broker+controller KRaft node on 127.0.0.1.

    With ``sasl_ssl``, clients may also connect with SASL over TLS on that listener; the
    PLAINTEXT listener stays (inter-broker and controller traffic never leave 127.0.0.1).
    """
    extra = f",SASL_SSL://{sasl_ssl.host}:{sasl_ssl.port}" if sasl_ssl is not None else ""
    lines = {
        "process.roles": "broker,controller",
        "node.id": str(_NODE_ID),
        "controller.quorum.voters": f"{_NODE_ID}@{_HOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{_HOST}:{port},CONTROLLER://{_HOST}:{controller_port}{extra}",
        "advertised.listeners": f"PLAINTEXT://{_HOST}:{port}{extra}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
        + (",SASL_SSL:SASL_SSL" if sasl_ssl is not None else ""),
        "log.dirs": str(data_dir),
        # A single node cannot satisfy the default replication factor of 3: without these,
        # consumer groups and transactions wait forever for their internal topics.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # Tests join groups constantly; the default 3 s delay only slows them down.
        "group.initial.rebalance.delay.ms": "0",
        # Small machine: fewer internal partitions load faster, the cleaner buffer fits the heap.
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.num.partitions": "1",
        "log.cleaner.dedupe.buffer.size": "1048577",
    }
    if sasl_ssl is not None:
        lines |= broker_sasl.properties(sasl_ssl)
    header = "# Written by streams/broker.py on every start; edits are overwritten.\n"
    return header + "".join(f"{key}={value}\n" for key, value in lines.items())


# --- jars --------------------------------------------------------------------------------------


def resolve_jars(version: str, cache_dir: Path) -> Path:
    """The libs/ directory of Kafka ``version``, resolved once (Maven, else the Apache tarball)."""
    if not re.match(r"[4-9]\.|\d{2,}\.", version):
        # 3.x logs through log4j 1/reload4j and would need another binding and config.
        raise BrokerError(f"the local broker supports Kafka 4.x and later, not {version!r}")
    root = cache_dir / f"kafka-{version}"
    libs, marker = root / "libs", root / ".resolved"
    if marker.exists():
        return libs
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / ".lock"):
        if marker.exists():  # resolved by another process while we waited
            return libs
        # Resolve into a staging dir so an interrupted resolve never looks complete.
        staging = Path(tempfile.mkdtemp(prefix="libs-", dir=root))
        try:
            mvn = shutil.which("mvn")
            if mvn is not None:
                _maven_resolve(mvn, version, staging)
            else:
                _tarball_resolve(version, staging)
            staging.chmod(0o755)  # mkdtemp makes it private; the jars are not secret
            shutil.rmtree(libs, ignore_errors=True)
            staging.rename(libs)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        marker.write_text(f"{version}\n")
    return libs


def _maven_resolve(mvn: str, version: str, dest: Path) -> None:
    _run_maven(mvn, version, dest, {})
    core = _jar_version(dest, "log4j-core")
    binding = _jar_version(dest, "log4j-slf4j-impl")
    if core is None:
        fix = {"with.log4j.core": "true"}  # Kafka 4.0.x does not bring log4j-core itself
    elif core != binding:
        fix = {"log4j.version": core}  # the binding must match the log4j-core Kafka asks for
    else:
        return
    for jar in dest.glob("log4j-*.jar"):
        jar.unlink()
    _run_maven(mvn, version, dest, fix)


def _run_maven(mvn: str, version: str, dest: Path, props: dict[str, str]) -> None:
    command = [
        mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={dest}", f"-Dkafka.version={version}",
        *(f"-D{key}={value}" for key, value in props.items()),
    ]  # fmt: skip
    # cwd outside the repository: Maven must not leave anything in deploy/kafka.
    result = subprocess.run(
        command, cwd=dest, capture_output=True, text=True, timeout=_MAVEN_TIMEOUT_S, check=False
    )
    if result.returncode != 0:
        output = _tail(result.stdout + result.stderr)
        raise BrokerError(f"Maven could not resolve Kafka {version} jars:\n{output}")


def _jar_version(libs: Path, artifact: str) -> str | None:
    pattern = re.compile(rf"{re.escape(artifact)}-(\d[\w.\-]*)\.jar")
    for jar in libs.glob(f"{artifact}-*.jar"):
        match = pattern.fullmatch(jar.name)
        if match:
            return match.group(1)
    return None


def _tarball_resolve(version: str, dest: Path) -> None:
    """Fallback without Maven: the official release's libs/ (which ships its SLF4J binding)."""
    name = f"kafka_2.13-{version}.tgz"
    url = f"{_APACHE_ARCHIVE}/{version}/{name}"
    with urllib.request.urlopen(f"{url}.sha512", timeout=60) as response:
        expected = parse_sha512(response.read().decode())
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / name
        digest = hashlib.sha512()
        with urllib.request.urlopen(url, timeout=60) as response, archive.open("wb") as out:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != expected:
            raise BrokerError(f"SHA-512 of {url} does not match the published {name}.sha512")
        prefix = f"kafka_2.13-{version}/libs/"
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                jar_name = member.name.removeprefix(prefix)
                if member.isfile() and member.name.startswith(prefix) and "/" not in jar_name:
                    source = tar.extractfile(member)
                    if source is not None:
                        (dest / jar_name).write_bytes(source.read())


def parse_sha512(text: str) -> str:
    """The hex digest from an Apache ``.sha512`` file (``gpg --print-md`` or sha512sum style)."""
    # gpg style: "kafka_2.13-4.1.1.tgz: 1A2B 3C4D ...", wrapped over lines; sha512sum: "hex  name".
    body = text.split(":", 1)[1] if ":" in text else (text.split() or [""])[0]
    digest = "".join(body.split()).lower()
    if not re.fullmatch(r"[0-9a-f]{128}", digest):
        raise BrokerError(f"not a SHA-512 checksum file: {text[:80]!r}")
    return digest


# --- reachability --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cluster:
    cluster_id: str | None
    broker_count: int


def wait_until_reachable(
    bootstrap: str, timeout_s: float, security: Mapping[str, Any] | None = None
) -> None:
    """Block until a Kafka at ``bootstrap`` answers a metadata request; BrokerTimeoutError else.

    ``security``: aiokafka client kwargs (``streams.security.client_kwargs``), if any.
    """
    _wait_reachable(bootstrap, time.monotonic() + timeout_s, security=security or {})


def _wait_reachable(
    bootstrap: str,
    deadline: float,
    on_retry: Callable[[], None] | None = None,
    *,
    security: Mapping[str, Any],
) -> _Cluster:
    last_error = "no attempt made"
    refusals = 0
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            return _describe_cluster(bootstrap, min(remaining, _PROBE_TIMEOUT_S), security)
        except Exception as exc:  # refused, timed out, not ready yet: all mean "poll again"
            last_error = f"{type(exc).__name__}: {exc}"
        # ... except a broker that answers and rejects our credentials or certificate: say so
        # now rather than at the deadline (a few tries: a new broker may still be loading users).
        refusals = refusals + 1 if any(r in last_error for r in _REFUSALS) else 0
        if refusals >= _REFUSALS_BEFORE_GIVING_UP:
            raise BrokerError(f"Kafka at {bootstrap} refused the connection: {last_error}")
        if on_retry is not None:
            on_retry()
        time.sleep(max(0.0, min(_POLL_INTERVAL_S, deadline - time.monotonic())))
    raise BrokerTimeoutError(f"Kafka at {bootstrap} answered no metadata request ({last_error})")


def _describe_cluster(bootstrap: str, timeout_s: float, security: Mapping[str, Any]) -> _Cluster:
    with _quiet_aiokafka() as aiokafka_error:
        try:
            return _run_sync(lambda: _metadata(bootstrap, timeout_s, security))
        except Exception as exc:
            # aiokafka raises a bare "Unable to bootstrap" and tells why (refused, TLS failure,
            # SaslAuthenticationFailed) only in its log: carry that reason along.
            if aiokafka_error.message is None:
                raise
            raise BrokerError(f"{exc} ({aiokafka_error.message})") from exc


async def _metadata(bootstrap: str, timeout_s: float, security: Mapping[str, Any]) -> _Cluster:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="patrolflow-broker-probe",
        request_timeout_ms=max(1, int(timeout_s * 1000)),
        **security,
    )
    try:
        async with asyncio.timeout(timeout_s):
            await admin.start()
            cluster: dict[str, Any] = await admin.describe_cluster()
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    brokers = cluster.get("brokers") or []
    if not brokers:  # a KRaft node can accept connections before it has registered itself
        raise BrokerError("metadata answer lists no brokers yet")
    return _Cluster(cluster_id=cluster.get("cluster_id"), broker_count=len(brokers))


def _run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    # Called from async code (e.g. an async fixture): asyncio.run cannot nest, use a thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


class _LastError(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.message: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.message = record.getMessage()


@contextlib.contextmanager
def _quiet_aiokafka() -> Iterator[_LastError]:
    # Every refused poll would otherwise log an ERROR ("Unable connect to ..."): keep only the
    # latest message, for the error raised when the probe gives up.
    logger = logging.getLogger("aiokafka")
    handler, propagate = _LastError(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


# --- processes ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise up/down/resolve across processes (e.g. parallel pytest workers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _is_alive(pid: int, properties: Path) -> bool:
    """Alive and still the broker we started: pids get reused, and zombies have no cmdline."""
    _reap(pid)
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    proc = Path(f"/proc/{pid}/cmdline")
    if not Path("/proc/self").exists():  # no procfs (macOS): trust the pid
        return True
    try:
        args = proc.read_bytes().split(b"\0")
    except OSError:
        return False
    return _MAIN_CLASS.encode() in args and str(properties).encode() in args


def _reap(pid: int) -> None:
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is not None:
            del _CHILDREN[pid]
        return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _live_pid(paths: _Paths, *, clean: bool) -> int | None:
    pid = _read_pid(paths.pid_file)
    if pid is not None and _is_alive(pid, paths.properties):
        return pid
    if clean:  # stale: the broker died or was killed without down()
        paths.pid_file.unlink(missing_ok=True)
    return None


def _wait_exit(pid: int, properties: Path, deadline: float) -> bool:
    while _is_alive(pid, properties):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_INTERVAL_S)
    return True


def _terminate(pid: int, properties: Path, timeout_s: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)  # Kafka shuts down cleanly on SIGTERM
    if _wait_exit(pid, properties, time.monotonic() + timeout_s):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)  # its own session: the whole group goes
    if not _wait_exit(pid, properties, time.monotonic() + _KILL_GRACE_S):
        raise BrokerError(f"Kafka broker pid {pid} survived SIGKILL")


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidate = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not candidate or not Path(candidate).exists():
        raise BrokerError("no java found (JAVA_HOME or PATH); Kafka 4 needs Java 17+")
    return candidate


def _run_tool(java: str, libs: Path, args: list[str]) -> str:
    command = [
        java, *_TOOL_JVM_FLAGS, f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
        "-cp", f"{libs}/*", _STORAGE_TOOL, *args,
    ]  # fmt: skip
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=_TOOL_TIMEOUT_S, check=False
    )
    if result.returncode != 0:
        output = _tail(result.stdout + result.stderr)
        raise BrokerError(f"{_STORAGE_TOOL} {args[0]} failed:\n{output}")
    return result.stdout


def _format_storage(java: str, libs: Path, paths: _Paths, sasl_ssl: SaslSslListener | None) -> None:
    if (paths.data / "meta.properties").exists():  # formatted by an earlier start
        try:
            broker_sasl.check_storage(sasl_ssl, paths.home)
        except broker_sasl.SaslStorageMismatchError as exc:
            raise BrokerError(str(exc)) from None
        return
    output = _run_tool(java, libs, ["random-uuid"])
    # Log lines may share stdout with the id; the id is a 22-character base64url token.
    ids = re.findall(r"^[A-Za-z0-9_-]{22}$", output, flags=re.MULTILINE)
    if not ids:
        raise BrokerError(f"{_STORAGE_TOOL} random-uuid printed no cluster id:\n{output}")
    scram = broker_sasl.scram_format_args(sasl_ssl) if sasl_ssl is not None else []
    _run_tool(java, libs, ["format", "-t", ids[-1], "-c", str(paths.properties), *scram])
    broker_sasl.record_storage(sasl_ssl, paths.home)


def _launch(java: str, heap: str, libs: Path, paths: _Paths) -> subprocess.Popen[bytes]:
    command = [
        java, *shlex.split(heap), *_JVM_FLAGS,
        f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}", f"-Dkafka.logs.dir={paths.home}",
        "-cp", f"{libs}/*", _MAIN_CLASS, str(paths.properties),
    ]  # fmt: skip
    with paths.log_file.open("ab") as log:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        log.write(f"\n{_START_MARK} {stamp}: {shlex.join(command)}\n".encode())
        log.flush()
        # New session: Ctrl-C in the starting terminal or pytest's exit must not kill it.
        child = subprocess.Popen(
            command, cwd=paths.home, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    _CHILDREN[child.pid] = child
    return child


def _tail(text: str, lines: int = _LOG_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _log_tail(paths: _Paths) -> str:
    try:
        text = paths.log_file.read_text(errors="replace")
    except FileNotFoundError:
        return "(no broker log)"
    # The log is appended across starts: show only the latest one.
    latest = text[text.rfind(_START_MARK) :] if _START_MARK in text else text
    return f"--- last lines of {paths.log_file} ---\n{_tail(latest)}"


def _write_owner_only(path: Path, text: str) -> None:
    path.unlink(missing_ok=True)  # a new inode: an older, wider mode never applies
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(text)


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((_HOST, port), timeout=1.0):
        return True
    return False


# --- public lifecycle ---------------------------------------------------------------------------


def up(settings: Settings, *, timeout_s: float = 120.0) -> BrokerState:
    """Start the local broker unless one already answers; return once it answers metadata.

    ``timeout_s`` bounds the broker start-up, not the one-time jar resolve.
    """
    if not settings.uses_local_broker:
        return BrokerState(outcome="external", bootstrap=settings.bootstrap)
    paths = _paths(settings)
    paths.home.mkdir(parents=True, exist_ok=True)
    with _locked(paths.lock):
        try:
            sasl_ssl = broker_sasl.listener_for(settings)  # generates TLS material once
        except ValueError as exc:
            raise BrokerError(str(exc)) from None
        running = _already_running(settings, paths, timeout_s, sasl_ssl)
        if running is not None:
            return running
        ports = [settings.kafka_port, settings.kafka_controller_port]
        for port in ports + ([sasl_ssl.port] if sasl_ssl is not None else []):
            if _port_open(port):
                raise BrokerError(f"port {port} on {_HOST} is taken by something that is not Kafka")
        return _start(settings, paths, timeout_s, sasl_ssl)


def _already_running(
    settings: Settings, paths: _Paths, timeout_s: float, sasl_ssl: SaslSslListener | None
) -> BrokerState | None:
    pid = _live_pid(paths, clean=True)
    if pid is not None and sasl_ssl is not None:
        listener = f"SASL_SSL://{sasl_ssl.host}:{sasl_ssl.port}"
        if listener not in paths.properties.read_text():
            raise BrokerError(
                f"our broker (pid {pid}) runs without the {listener} listener asked for: "
                "`patrolflow kafka down` and start it again"
            )
    if pid is not None:  # ours, possibly still starting: wait for it rather than start another
        try:
            _wait_reachable(
                settings.bootstrap, time.monotonic() + timeout_s, security=client_kwargs(settings)
            )
        except BrokerTimeoutError as exc:
            raise BrokerTimeoutError(
                f"our broker (pid {pid}) is running but {exc}\n{_log_tail(paths)}"
            ) from exc
    else:
        try:  # a broker we did not start (another cache_dir, a manual one) also counts
            _describe_cluster(settings.bootstrap, _STATUS_TIMEOUT_S, client_kwargs(settings))
        except Exception:  # nothing usable answers: start our own
            return None
    return BrokerState(
        outcome="already-running",
        bootstrap=settings.bootstrap,
        pid=pid,
        version=_recorded_version(paths) if pid is not None else None,
        broker_dir=paths.home if pid is not None else None,
        log_file=paths.log_file if pid is not None else None,
    )


def _start(
    settings: Settings, paths: _Paths, timeout_s: float, sasl_ssl: SaslSslListener | None
) -> BrokerState:
    libs = resolve_jars(settings.kafka_version, settings.cache_dir)
    java = _java()
    properties = render_server_properties(
        port=settings.kafka_port,
        controller_port=settings.kafka_controller_port,
        data_dir=paths.data,
        sasl_ssl=sasl_ssl,
    )
    _write_owner_only(paths.properties, properties)  # may hold the PLAIN password
    _format_storage(java, libs, paths, sasl_ssl)
    launched = time.monotonic()
    child = _launch(java, settings.kafka_heap, libs, paths)
    paths.pid_file.write_text(f"{child.pid}\n")
    paths.version_file.write_text(f"{settings.kafka_version}\n")

    def fail_if_exited() -> None:
        if child.poll() is not None:
            raise BrokerError(f"Kafka broker exited with code {child.returncode} while starting")

    try:
        _wait_reachable(
            settings.bootstrap,
            launched + timeout_s,
            on_retry=fail_if_exited,
            security=client_kwargs(settings),
        )
    except BrokerError as exc:
        # Never leave a half-started JVM holding the ports behind a failed up().
        _terminate(child.pid, paths.properties, _KILL_GRACE_S)
        paths.pid_file.unlink(missing_ok=True)
        raise type(exc)(f"{exc}\n{_log_tail(paths)}") from exc
    return BrokerState(
        outcome="started",
        bootstrap=settings.bootstrap,
        pid=child.pid,
        version=settings.kafka_version,
        broker_dir=paths.home,
        log_file=paths.log_file,
        startup_s=round(time.monotonic() - launched, 2),
    )


def _recorded_version(paths: _Paths) -> str | None:
    try:
        return paths.version_file.read_text().strip() or None
    except FileNotFoundError:
        return None


def status(settings: Settings) -> BrokerStatus:
    """Whether a Kafka answers at the configured bootstrap, and whether it is our broker."""
    pid, version = None, None
    if settings.uses_local_broker:
        paths = _paths(settings)
        pid = _live_pid(paths, clean=False)  # read-only: up/down may hold the lock for long
        version = _recorded_version(paths) if pid is not None else None
    try:
        cluster = _describe_cluster(settings.bootstrap, _STATUS_TIMEOUT_S, client_kwargs(settings))
    except Exception as exc:  # any failure to get metadata means "not reachable"
        return BrokerStatus(
            bootstrap=settings.bootstrap,
            reachable=False,
            external=not settings.uses_local_broker,
            pid=pid,
            broker_version=version,
            cluster_id=None,
            broker_count=None,
            detail=f"no metadata answer: {type(exc).__name__}: {exc}",
        )
    return BrokerStatus(
        bootstrap=settings.bootstrap,
        reachable=True,
        external=not settings.uses_local_broker,
        pid=pid,
        broker_version=version,
        cluster_id=cluster.cluster_id,
        broker_count=cluster.broker_count,
        detail=f"cluster {cluster.cluster_id}, {cluster.broker_count} broker(s)",
    )


def down(settings: Settings, *, timeout_s: float = 60.0) -> bool:
    """Stop the broker this module started; False when there was none (or it is external)."""
    if not settings.uses_local_broker:
        return False
    paths = _paths(settings)
    if not paths.home.exists():
        return False
    with _locked(paths.lock):
        pid = _live_pid(paths, clean=True)
        if pid is None:
            return False
        _terminate(pid, paths.properties, timeout_s)
        paths.pid_file.unlink(missing_ok=True)
        return True
