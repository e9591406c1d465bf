"""The whole of Orderflow as real processes: the Temporal dev server (a temporary SQLite file,
free ports, no UI), the worker and the API, configured through environment variables like an
operator would, on a temporary database that is migrated and seeded first.

Everything is torn down in the fixture's finalizer, also when a test or the start-up fails;
each child runs in its own process group so nothing it started survives it. The children's
output goes to log files whose tails are printed at teardown (pytest shows them on failure).
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from scripts.dev import prepare_database
from settings import ROOT
from workflows import search_attributes

BIN = Path(sys.executable).parent
TEMPORAL_CLI = str(BIN / "temporal")
STARTUP_TIMEOUT = 45.0
STOP_TIMEOUT = 10.0

# The follow-up timers, short: feedback is asked for a second after delivery.
FEEDBACK_REQUEST_DELAY_SECONDS = 1
FEEDBACK_WAIT_SECONDS = 120

CHANNEL_KEY = {"X-API-Key": "channel-dev-key"}
WAREHOUSE_KEY = {"X-API-Key": "warehouse-dev-key"}
CARRIER_KEY = {"X-API-Key": "carrier-dev-key"}
OPS_KEY = {"X-API-Key": "ops-dev-key"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Processes:
    """Child processes, each in its own process group, with output in a log file."""

    log_dir: Path
    env: dict[str, str]
    children: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = field(default_factory=list)

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("wb")
        process = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.children.append((name, process, log))
        return process

    def check_alive(self) -> None:
        for name, process, _ in self.children:
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with code {process.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 40) -> str:
        text = (self.log_dir / f"{name}.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop_all(self) -> None:
        """Terminate in reverse order, wait, then kill whatever is left in each group."""
        for name, process, log in reversed(self.children):
            if process.poll() is None:
                _signal_group(process.pid, signal.SIGTERM)
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    print(f"{name} did not stop within {STOP_TIMEOUT} s; killing it")
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
            log.close()
            print(f"--- {name} (exit {process.returncode}), last lines ---\n{self.tail(name)}")


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class Stack:
    api_url: str
    temporal_address: str
    temporal: Client
    processes: Processes


async def _eventually(processes: Processes, what: str, attempt: Any) -> Any:
    """Call ``attempt()`` until it returns something other than None, failing fast if a child dies."""
    deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT
    while True:
        processes.check_alive()
        try:
            result = await attempt()
        except Exception:  # noqa: BLE001 (not up yet: any error means "try again")
            result = None
        if result is not None:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not ready within {STARTUP_TIMEOUT} s")
        await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp("stack")
    database_url = f"sqlite+aiosqlite:///{tmp / 'orderflow.db'}"
    await prepare_database(database_url)

    temporal_port, api_port = free_port(), free_port()
    temporal_address = f"127.0.0.1:{temporal_port}"
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": database_url,
        "ORDERFLOW_PROFILE": "dev",
        "ORDERFLOW_TEMPORAL_ADDRESS": temporal_address,
        "ORDERFLOW_API_HOST": "127.0.0.1",
        "ORDERFLOW_API_PORT": str(api_port),
        "ORDERFLOW_FEEDBACK_REQUEST_DELAY_SECONDS": str(FEEDBACK_REQUEST_DELAY_SECONDS),
        "ORDERFLOW_FEEDBACK_WAIT_SECONDS": str(FEEDBACK_WAIT_SECONDS),
        "ORDERFLOW_LOG_JSON": "true",
    }
    processes = Processes(tmp, env)
    try:
        processes.start("temporal", [
            TEMPORAL_CLI, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(temporal_port),
            "--db-filename", str(tmp / "temporal.db"), "--log-level", "error"])
        client = await _eventually(processes, "the Temporal dev server", lambda: Client.connect(
            temporal_address, data_converter=pydantic_data_converter))

        # The worker prepares the namespace (search attributes, retention) before it polls;
        # the API starts workflows with those attributes, so it starts once they exist.
        processes.start("worker", [sys.executable, "worker.py"])
        wanted = {key.name for key in search_attributes.ALL}

        async def registered() -> bool | None:
            existing = await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=client.namespace))
            return True if wanted <= set(existing.custom_attributes) else None

        await _eventually(processes, "the worker's search attributes", registered)

        processes.start("api", [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app",
                                "--host", "127.0.0.1", "--port", str(api_port), "--timeout-graceful-shutdown", "3"])
        api_url = f"http://127.0.0.1:{api_port}"

        async def healthy() -> bool | None:
            async with httpx.AsyncClient(timeout=3) as http:
                return True if (await http.get(f"{api_url}/healthz")).status_code == 200 else None

        await _eventually(processes, "the API (GET /healthz)", healthy)
        yield Stack(api_url=api_url, temporal_address=temporal_address, temporal=client, processes=processes)
    finally:
        processes.stop_all()


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as http:
        yield http
