"""All of Orderflow as real processes for tests and benchmarks: the Temporal dev server (a
SQLite file in a given directory, free ports, no UI), the worker and the API, configured
through environment variables like an operator would, on a database that is migrated and
seeded first.

Shared by ``tests/integration``, ``tests/resilience`` and ``scripts/bench``. Each child runs in
its own process group so nothing it started survives it; ``stop_all`` terminates them in
reverse order (terminate, wait, then kill). Output goes to one log file per child start. The
resilience tests kill and restart single children by name.
"""

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

import temporal_client
from scripts.dev import prepare_database
from settings import ROOT, Settings
from workflows import search_attributes

BIN = Path(sys.executable).parent
TEMPORAL_CLI = str(BIN / "temporal")
STARTUP_TIMEOUT = 45.0
STOP_TIMEOUT = 10.0

CHANNEL_KEY = {"X-API-Key": "channel-dev-key"}
WAREHOUSE_KEY = {"X-API-Key": "warehouse-dev-key"}
CARRIER_KEY = {"X-API-Key": "carrier-dev-key"}
OPS_KEY = {"X-API-Key": "ops-dev-key"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    log_path: Path
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # on top of the stack's


@dataclass
class Processes:
    """Child processes, each in its own process group, with output in a log file."""

    log_dir: Path
    env: dict[str, str]
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """``env`` adds to (or overrides) the stack's environment for this child only."""
        starts = sum(1 for c in self.children if c.name == name)
        log_path = self.log_dir / (f"{name}.log" if not starts else f"{name}-{starts + 1}.log")
        log = log_path.open("wb")
        process = subprocess.Popen(argv, cwd=ROOT, env={**self.env, **(env or {})}, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.children.append(Child(name, process, log, log_path, argv, dict(env or {})))
        return process

    def current(self, name: str) -> Child:
        return [c for c in self.children if c.name == name][-1]

    def pid(self, name: str) -> int:
        return self.current(name).process.pid

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> int:
        """Send ``sig`` to the child's whole group and wait for it to exit; returns its exit code."""
        child = self.current(name)
        _signal_group(child.process.pid, sig)
        try:
            code = child.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            _signal_group(child.process.pid, signal.SIGKILL)
            code = child.process.wait()
        child.log.close()
        return code

    def restart(self, name: str) -> subprocess.Popen[bytes]:
        child = self.current(name)
        return self.start(name, child.argv, child.env)

    def check_alive(self) -> None:
        latest = {c.name: c for c in self.children}
        for child in latest.values():
            if child.process.poll() is not None:
                raise AssertionError(f"{child.name} exited with code {child.process.returncode}:\n{self.tail(child.name)}")

    def tail(self, name: str, lines: int = 40) -> str:
        text = self.current(name).log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop_all(self, quiet: bool = False) -> None:
        """Terminate in reverse order, wait, then kill whatever is left in each group."""
        for child in reversed(self.children):
            process = child.process
            if process.poll() is None:
                _signal_group(process.pid, signal.SIGTERM)
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    print(f"{child.name} did not stop within {STOP_TIMEOUT} s; killing it")
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
            child.log.close()
            if not quiet:
                print(f"--- {child.name} (exit {process.returncode}), last lines ---\n{self.tail(child.name)}")


@dataclass
class Stack:
    api_url: str
    temporal_address: str
    database_url: str
    temporal: Client
    processes: Processes
    directory: Path
    settings: Settings  # what this process needs to talk to the stack (its payload keys)

    async def restart_worker(self) -> None:
        self.processes.restart("worker")

    async def restart_temporal(self) -> None:
        """Start the dev server again on the same database file and port; wait until it answers."""
        self.processes.restart("temporal")
        await eventually(self.processes, "the restarted Temporal dev server", lambda: temporal_client.connect(
            self.settings, self.temporal_address))


async def eventually(processes: Processes, what: str, attempt: Any, timeout: float = STARTUP_TIMEOUT) -> Any:
    """Call ``attempt()`` until it returns something other than None, failing fast if a child dies."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        processes.check_alive()
        try:
            result = await attempt()
        except Exception:  # noqa: BLE001 (not up yet: any error means "try again")
            result = None
        if result is not None:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not ready within {timeout} s")
        await asyncio.sleep(0.2)


def temporal_argv(port: int, db_file: Path | None) -> list[str]:
    """The dev server on ``port``, its state in ``db_file`` (None: in memory)."""
    state = ["--db-filename", str(db_file)] if db_file is not None else []
    return [TEMPORAL_CLI, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port),
            *state, "--log-level", "error"]


@asynccontextmanager
async def running_stack(directory: Path, settings_env: dict[str, str] | None = None, *, with_api: bool = True,
                        quiet: bool = False, database_url: str | None = None,
                        temporal_in_memory: bool = False) -> AsyncIterator[Stack]:
    """Dev server, worker and (optionally) API on a fresh database in ``directory``.

    ``settings_env`` adds ``ORDERFLOW_*`` variables (feedback timers, worker settings, sandbox
    failure rates). ``database_url`` names an empty database to use instead (PostgreSQL; the
    caller creates and drops it), else it is a SQLite file in ``directory``.
    ``temporal_in_memory`` keeps the dev server's state in memory, several times faster than
    its SQLite file, for tests that never restart it. Everything is stopped when the block
    ends, also on failure.
    """
    database_url = database_url or f"sqlite+aiosqlite:///{directory / 'orderflow.db'}"
    await prepare_database(database_url)

    temporal_port, api_port = free_port(), free_port()
    temporal_address = f"127.0.0.1:{temporal_port}"
    # One payload key for every process of the stack and for its client here, made up per
    # stack so that nothing works only by falling back on the documented dev key.
    payload_key = {"ORDERFLOW_PAYLOAD_KEYS": json.dumps({"stack": base64.b64encode(os.urandom(32)).decode()}),
                   "ORDERFLOW_PAYLOAD_KEY_ID": "stack"}
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": database_url,
        "ORDERFLOW_PROFILE": "dev",
        "ORDERFLOW_TEMPORAL_ADDRESS": temporal_address,
        "ORDERFLOW_API_HOST": "127.0.0.1",
        "ORDERFLOW_API_PORT": str(api_port),
        "ORDERFLOW_LOG_JSON": "true",
        # The worker's Prometheus endpoint on a port of its own (tests and the benchmark read it).
        "ORDERFLOW_WORKER_METRICS_ADDRESS": f"127.0.0.1:{free_port()}",
        **payload_key,
        **(settings_env or {}),
    }
    settings = Settings(payload_keys=json.loads(env["ORDERFLOW_PAYLOAD_KEYS"]),  # type: ignore[call-arg]
                        payload_key_id=env["ORDERFLOW_PAYLOAD_KEY_ID"], temporal_address=temporal_address,
                        _env_file=None)
    processes = Processes(directory, env)
    try:
        processes.start("temporal", temporal_argv(temporal_port, None if temporal_in_memory else directory / "temporal.db"))
        client = await eventually(processes, "the Temporal dev server", lambda: temporal_client.connect(
            settings, temporal_address))

        # The worker prepares the namespace (search attributes, retention) before it polls;
        # the API starts workflows with those attributes, so it starts once they exist.
        processes.start("worker", [sys.executable, "worker.py"])
        wanted = {key.name for key in search_attributes.ALL}

        async def registered() -> bool | None:
            existing = await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=client.namespace))
            return True if wanted <= set(existing.custom_attributes) else None

        await eventually(processes, "the worker's search attributes", registered)

        api_url = f"http://127.0.0.1:{api_port}"
        if with_api:
            processes.start("api", [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app",
                                    "--host", "127.0.0.1", "--port", str(api_port), "--timeout-graceful-shutdown", "3"])

            async def healthy() -> bool | None:
                async with httpx.AsyncClient(timeout=3) as http:
                    return True if (await http.get(f"{api_url}/healthz")).status_code == 200 else None

            await eventually(processes, "the API (GET /healthz)", healthy)
        yield Stack(api_url=api_url, temporal_address=temporal_address, database_url=database_url, temporal=client,
                    processes=processes, directory=directory, settings=settings)
    finally:
        processes.stop_all(quiet=quiet)
