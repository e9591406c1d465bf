"""``make run``: all of Orderflow on one machine, for development and demos.

Applies the migrations, seeds the demo catalogue (idempotent), starts the Temporal dev server
with its Web UI (state in a SQLite file, so a second run picks up the orders of the first),
prepares the namespace, then starts the worker and the API. Each child runs in its own process
group, so that Ctrl-C (SIGINT) or SIGTERM stops them in order (terminate, wait, then kill)
and leaves no process behind, whatever they started themselves. If any child dies, the rest
are stopped and the exit code is non-zero.

Run with ``python -m scripts.dev``; every setting comes from ``settings.py`` (environment
variables with the ``ORDERFLOW_`` prefix, and ``DATABASE_URL``).
"""

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy.engine import make_url
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError

from logs import configure_logging
import temporal_client
from settings import DEV_API_KEYS, ROOT, Profile, Settings, get_settings
from storage.catalogue import seed_demo_catalogue, seed_demo_warehouse
from storage.db import create_engine, create_session_factory, transaction
from storage.migrate import upgrade_async
from worker import prepare_namespace

T = TypeVar("T")

BIN = Path(sys.executable).parent
TEMPORAL_CLI = BIN / "temporal"
STARTUP_TIMEOUT = 60.0  # seconds for the dev server, the UI and the API to answer
STOP_TIMEOUT = 10.0  # seconds a child gets to stop after SIGTERM before it is killed


class StopRequested(Exception):
    """Ctrl-C or SIGTERM arrived while starting up."""


class ChildDied(Exception):
    def __init__(self, name: str, returncode: int) -> None:
        super().__init__(f"{name} exited with code {returncode}")
        self.name = name
        self.returncode = returncode


# --- database -----------------------------------------------------------------------


async def prepare_database(database_url: str) -> int:
    """Apply the migrations and add the demo products that are missing; returns how many."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        # A fresh clone has no var/ yet, and SQLite does not make directories.
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    await upgrade_async(database_url)
    engine = create_engine(database_url)
    try:
        async with transaction(create_session_factory(engine)) as session:
            added = await seed_demo_catalogue(session)
            await seed_demo_warehouse(session)
            return added
    finally:
        await engine.dispose()


def describe_database(database_url: str) -> str:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        path = Path(url.database)
        return f"SQLite {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
    return url.render_as_string(hide_password=True)


# --- ports ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Port:
    what: str
    host: str
    port: int
    setting: str
    example: str  # another value for the setting


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on host:port now (a socket in TIME_WAIT does not count)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            return False
    return True


def ports_needed(settings: Settings) -> list[Port]:
    temporal_host, temporal_port = split_address(settings.temporal_address)
    return [
        Port("Temporal frontend", temporal_host, temporal_port, "ORDERFLOW_TEMPORAL_ADDRESS",
             f"{temporal_host}:{temporal_port + 1}"),
        Port("Temporal Web UI", temporal_host, settings.temporal_ui_port, "ORDERFLOW_TEMPORAL_UI_PORT",
             str(settings.temporal_ui_port + 1)),
        Port("API", settings.api_host, settings.api_port, "ORDERFLOW_API_PORT", str(settings.api_port + 1)),
        Port("SMTP mail sink", settings.smtp_host, settings.smtp_port, "ORDERFLOW_SMTP_PORT",
             str(settings.smtp_port + 1)),
        Port("codec server", settings.codec_server_host, settings.codec_server_port, "ORDERFLOW_CODEC_SERVER_PORT",
             str(settings.codec_server_port + 1)),
        *worker_metrics_port(settings),
    ]


def worker_metrics_port(settings: Settings) -> list[Port]:
    if not settings.worker_metrics_address:  # the endpoint is off
        return []
    host, port = split_address(settings.worker_metrics_address)
    return [Port("worker metrics", host, port, "ORDERFLOW_WORKER_METRICS_ADDRESS", f"{host}:{port + 1}")]


def taken_ports(settings: Settings) -> list[Port]:
    return [p for p in ports_needed(settings) if not port_is_free(p.host, p.port)]


def browsable(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


# --- the child processes ---------------------------------------------------------------


def temporal_command(settings: Settings) -> list[str]:
    host, port = split_address(settings.temporal_address)
    return [
        str(TEMPORAL_CLI), "server", "start-dev",
        "--ip", host, "--port", str(port), "--ui-port", str(settings.temporal_ui_port),
        "--db-filename", str(settings.temporal_db_file),
        "--namespace", settings.temporal_namespace,
        "--ui-disable-news-fetch",  # no internet needed
        # Payloads are encrypted; the UI decrypts them through our codec server.
        "--ui-codec-endpoint", codec_server_url(settings),
        "--log-level", "warn",
    ]


def codec_server_url(settings: Settings) -> str:
    return f"http://{browsable(settings.codec_server_host)}:{settings.codec_server_port}"


def codec_server_command() -> list[str]:
    return [sys.executable, str(ROOT / "codec_server.py")]


def mail_sink_command(settings: Settings) -> list[str]:
    return [sys.executable, "-m", "scripts.mail_sink", "--host", settings.smtp_host,
            "--port", str(settings.smtp_port), "--mbox", str(settings.smtp_sink_mbox)]


def worker_command() -> list[str]:
    return [sys.executable, str(ROOT / "worker.py")]


def api_command(settings: Settings) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app",
        "--host", settings.api_host, "--port", str(settings.api_port),
        # Open long-polling requests must not hold up Ctrl-C.
        "--timeout-graceful-shutdown", "5",
    ]


def child_environment(settings: Settings) -> dict[str, str]:
    """The children get this process's environment: the same settings. Logs are readable on a
    terminal even though the children write into a pipe."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # Customer e-mail goes over SMTP to the local sink that make run starts (unless told otherwise).
    env.setdefault("ORDERFLOW_EMAIL_BACKEND", "smtp")
    if settings.log_json is None:
        env["ORDERFLOW_LOG_JSON"] = "false" if sys.stdout.isatty() else "true"
    return env


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    pump: asyncio.Task[None] | None = None
    # The dev server logs a burst of "context canceled" warnings while it shuts down.
    quiet_when_stopping: bool = False
    muted: bool = False


@dataclass
class Supervisor:
    """Starts children in their own process groups, streams their output with a name prefix,
    notices when one dies, and stops them all in reverse order."""

    env: dict[str, str]
    children: list[Child] = field(default_factory=list)
    died: asyncio.Event = field(default_factory=asyncio.Event)
    hurry: asyncio.Event = field(default_factory=asyncio.Event)
    _stopping: bool = False
    _watchers: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self, name: str, argv: list[str], *, quiet_when_stopping: bool = False) -> Child:
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=ROOT, env=self.env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True)  # own process group; the terminal's Ctrl-C reaches only us
        assert process.stdout is not None
        child = Child(name, process, quiet_when_stopping=quiet_when_stopping)
        child.pump = asyncio.create_task(_pump(child, process.stdout))
        self.children.append(child)
        self._watchers.append(asyncio.create_task(self._watch(child)))
        return child

    async def _watch(self, child: Child) -> None:
        await child.process.wait()
        if not self._stopping:
            self.died.set()

    def first_dead(self) -> ChildDied | None:
        for child in self.children:
            if child.process.returncode is not None:
                return ChildDied(child.name, child.process.returncode)
        return None

    async def stop_all(self) -> None:
        self._stopping = True
        for child in reversed(self.children):
            await self._stop(child)
        for task in self._watchers:
            task.cancel()

    async def _stop(self, child: Child) -> None:
        pid = child.process.pid
        if child.process.returncode is None:
            child.muted = child.quiet_when_stopping
            _signal_group(pid, signal.SIGTERM)
            if not await _wait_for(child.process.wait(), STOP_TIMEOUT, self.hurry):
                say(f"{child.name} did not stop within {STOP_TIMEOUT:.0f} s; killing it")
        # Whatever is left in the group (the child itself, or anything it started) is killed.
        _signal_group(pid, signal.SIGKILL)
        await child.process.wait()
        if child.pump is not None:
            try:
                await asyncio.wait_for(child.pump, 2)
            except (TimeoutError, asyncio.CancelledError):
                child.pump.cancel()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


async def _wait_for(aw: Awaitable[Any], timeout: float, hurry: asyncio.Event) -> bool:
    """Wait for ``aw`` up to ``timeout`` seconds, or until ``hurry`` is set; True if it finished."""
    task = asyncio.ensure_future(aw)
    hurried = asyncio.create_task(hurry.wait())
    done, _ = await asyncio.wait({task, hurried}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    hurried.cancel()
    if task not in done:
        task.cancel()
        return False
    return True


async def _pump(child: Child, stream: asyncio.StreamReader) -> None:
    """Copy a child's output to ours, a whole line at a time, each line prefixed with its name."""
    prefix = f"{child.name:<8} | ".encode()
    pending = b""
    while chunk := await stream.read(65536):
        *lines, pending = (pending + chunk).split(b"\n")
        if not child.muted:
            _write(b"".join(prefix + line + b"\n" for line in lines))
    if pending and not child.muted:
        _write(prefix + pending + b"\n")


def _write(data: bytes) -> None:
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except (BrokenPipeError, ValueError):
        pass


def say(message: str) -> None:
    _write(f"{'make run':<8} | {message}\n".encode())


# --- readiness ------------------------------------------------------------------------


async def connect_to_temporal(settings: Settings) -> Client:
    """Connect, retrying until the dev server answers and its namespace exists."""
    while True:
        try:
            client = await asyncio.wait_for(temporal_client.connect(settings), 5)
            # The frontend may listen before the namespace is ready.
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=settings.temporal_namespace), timeout=timedelta(seconds=5))
            return client
        except (RPCError, RuntimeError, TimeoutError, OSError):
            await asyncio.sleep(0.3)


async def wait_for_http(url: str, *, want_ok: bool = False) -> int:
    """Poll ``url`` until it answers (with a 2xx if ``want_ok``); returns the status code."""
    async with httpx.AsyncClient(timeout=3) as http:
        while True:
            try:
                response = await http.get(url)
                if response.is_success or not want_ok:
                    return response.status_code
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)


# --- main -----------------------------------------------------------------------------


def duration(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} s"


def banner(settings: Settings, health: int | None) -> str:
    api = f"http://{browsable(settings.api_host)}:{settings.api_port}"
    temporal_host, _ = split_address(settings.temporal_address)
    ui = f"http://{browsable(temporal_host)}:{settings.temporal_ui_port}"
    mbox = settings.smtp_sink_mbox.relative_to(ROOT) if settings.smtp_sink_mbox.is_relative_to(ROOT) \
        else settings.smtp_sink_mbox
    worker_metrics = "the worker's are off"
    if settings.worker_metrics_address:
        metrics_host, metrics_port = split_address(settings.worker_metrics_address)
        worker_metrics = f"http://{browsable(metrics_host)}:{metrics_port}/metrics (worker)"
    lines = [
        "",
        "Orderflow is running.",
        f"  API docs      {api}/docs",
        f"  API           {api}   (GET /healthz answered {health if health is not None else 'not yet'})",
        f"  Temporal UI   {ui}/namespaces/{settings.temporal_namespace}/workflows",
        f"  Temporal      {settings.temporal_address}, namespace {settings.temporal_namespace}, "
        f"task queue {settings.task_queue}",
        f"  Database      {describe_database(settings.database_url)}",
        f"  Metrics       {api}/metrics (API), {worker_metrics}",
        f"  Feedback      asked {duration(settings.feedback_request_delay_seconds)} after delivery; the order "
        f"completes {duration(settings.feedback_wait_seconds)} later without it",
        "                (a quick demo: ORDERFLOW_FEEDBACK_REQUEST_DELAY_SECONDS=30 make run)",
        f"  Customer mail smtp://{browsable(settings.smtp_host)}:{settings.smtp_port}, every mail appended to {mbox}",
        f"                (read it: less {mbox}, or mutt -f {mbox})",
        f"  Codec server  {codec_server_url(settings)}: payloads in Temporal are encrypted "
        f"(key id {settings.payload_key_id}); the UI decrypts them here"
        + ("" if settings.codec_server_token is None else
           "\n                (a token is set, so the local UI cannot decrypt: use the CLI with --codec-auth)"),
    ]
    if settings.profile == Profile.DEV:
        lines.append("  API keys (header X-API-Key):")
        for key, (role, _name, channel) in DEV_API_KEYS.items():
            lines.append(f"    {key:<18} {role}{f' (channel {channel})' if channel else ''}")
    lines += ["Press Ctrl-C to stop everything.", ""]
    return "\n".join(lines)


class Launcher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop = asyncio.Event()
        self.supervisor = Supervisor(child_environment(settings))

    def on_signal(self) -> None:
        if self.stop.is_set():
            self.supervisor.hurry.set()  # a second Ctrl-C: kill now instead of waiting
        else:
            self.stop.set()

    async def until(self, coro: Coroutine[Any, Any, T], what: str, timeout: float | None = STARTUP_TIMEOUT) -> T:
        """Run a start-up step, giving up if asked to stop, if a child dies, or on timeout."""
        step = asyncio.create_task(coro)
        stop = asyncio.create_task(self.stop.wait())
        died = asyncio.create_task(self.supervisor.died.wait())
        done, _ = await asyncio.wait({step, stop, died}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for task in (step, stop, died):
            if task not in done:
                task.cancel()
        if step in done:
            return step.result()
        if stop in done:
            raise StopRequested
        if died in done:
            raise self.supervisor.first_dead() or ChildDied("a child process", -1)
        raise TimeoutError(f"{what} did not answer within {timeout} s")

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.on_signal)
        try:
            return await self._run()
        except StopRequested:
            return 0
        except ChildDied as died:
            say(f"{died}; stopping the others")
            return 1
        except TimeoutError as err:
            say(f"{err}; stopping")
            return 1
        finally:
            if self.supervisor.children:
                await self.supervisor.stop_all()
                say("stopped; no process left behind")

    async def _run(self) -> int:
        s = self.settings
        taken = taken_ports(s)
        if taken:
            for p in taken:
                say(f"port {p.port} on {p.host} ({p.what}) is already in use: is another `make run` still "
                    f"running? Stop it, or choose another port, e.g. {p.setting}={p.example} make run")
            return 2

        say(f"database: {describe_database(s.database_url)}: applying migrations")
        added = await self.until(prepare_database(s.database_url), "the database")
        say(f"demo catalogue: {added} products added" if added else "demo catalogue: already there")

        s.temporal_db_file.parent.mkdir(parents=True, exist_ok=True)
        say(f"starting the Temporal dev server on {s.temporal_address} (state in {s.temporal_db_file.name})")
        await self.supervisor.start("temporal", temporal_command(s), quiet_when_stopping=True)
        client = await self.until(connect_to_temporal(s), "the Temporal dev server")
        # Search attributes must exist before the API starts a workflow with them; the worker
        # does this too (idempotent), but the API may be quicker.
        await self.until(prepare_namespace(client, s), "the Temporal namespace")
        temporal_host, _ = split_address(s.temporal_address)
        await self.until(wait_for_http(f"http://{browsable(temporal_host)}:{s.temporal_ui_port}/"),
                         "the Temporal Web UI")

        say(f"starting the SMTP mail sink on {s.smtp_host}:{s.smtp_port}")
        await self.supervisor.start("mail", mail_sink_command(s))
        say(f"starting the codec server on {s.codec_server_host}:{s.codec_server_port}")
        await self.supervisor.start("codec", codec_server_command())
        await self.until(wait_for_http(f"{codec_server_url(s)}/healthz", want_ok=True), "the codec server")
        say("starting the worker")
        await self.supervisor.start("worker", worker_command())
        say("starting the API")
        await self.supervisor.start("api", api_command(s))
        health_url = f"http://{browsable(s.api_host)}:{s.api_port}/healthz"
        health = await self.until(wait_for_http(health_url), "the API")
        if health != 200:
            # Give the worker and database a moment; the banner says what /healthz answered.
            try:
                health = await self.until(wait_for_http(health_url, want_ok=True), "the API health check", 15)
            except TimeoutError:
                pass
        _write(banner(s, health).encode())

        # Until Ctrl-C or SIGTERM (returns) or until a child dies (raises ChildDied).
        await self.until(self.stop.wait(), "", timeout=None)
        return 0


def main() -> int:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    # Our own readiness polls are not worth a log line each.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return asyncio.run(Launcher(settings).run())


if __name__ == "__main__":
    sys.exit(main())
