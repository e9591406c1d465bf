"""``make run`` (``python -m scripts.dev``) as a developer uses it, on free ports and temporary
files: it serves the API and the Temporal Web UI (decrypting payloads through the codec
server), Ctrl-C stops everything and leaves no
process behind, a child that dies stops the rest with a non-zero exit, and a taken port is
named before anything starts."""

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from settings import ROOT
from tests.integration.conftest import free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds child processes through /proc"),
]

READY_TIMEOUT = 60.0
EXIT_TIMEOUT = 30.0


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces: the ppid follows the last ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class MakeRun:
    process: asyncio.subprocess.Process
    api_port: int
    ui_port: int
    output: list[str] = field(default_factory=list)
    children: list[int] = field(default_factory=list)
    codec_port: int = 0
    metrics_port: int = 0

    @property
    def text(self) -> str:
        return "".join(self.output)

    async def wait_for(self, needle: str, timeout: float = READY_TIMEOUT) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while needle not in self.text:
            if self.process.returncode is not None:
                raise AssertionError(f"make run exited {self.process.returncode} before {needle!r}:\n{self.text}")
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no {needle!r} within {timeout} s:\n{self.text}")
            await asyncio.sleep(0.1)

    async def exit_code(self) -> int:
        try:
            return await asyncio.wait_for(self.process.wait(), EXIT_TIMEOUT)
        except TimeoutError:
            raise AssertionError(f"make run did not exit within {EXIT_TIMEOUT} s:\n{self.text}") from None


async def _read(run: MakeRun) -> None:
    assert run.process.stdout is not None
    while line := await run.process.stdout.readline():
        run.output.append(line.decode(errors="replace"))


@pytest.fixture
async def make_run(tmp_path: Path) -> AsyncIterator[MakeRun]:
    api_port, temporal_port, ui_port, codec_port = free_port(), free_port(), free_port(), free_port()
    metrics_port = free_port()
    var = tmp_path / "var"  # not there yet, as on a fresh clone
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{var / 'orderflow.db'}",
        "ORDERFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "ORDERFLOW_TEMPORAL_UI_PORT": str(ui_port),
        "ORDERFLOW_TEMPORAL_DB_FILE": str(var / "temporal.db"),
        "ORDERFLOW_API_HOST": "127.0.0.1",
        "ORDERFLOW_API_PORT": str(api_port),
        "ORDERFLOW_SMTP_PORT": str(free_port()),
        "ORDERFLOW_SMTP_SINK_MBOX": str(var / "mail.mbox"),
        "ORDERFLOW_CODEC_SERVER_PORT": str(codec_port),
        "ORDERFLOW_WORKER_METRICS_ADDRESS": f"127.0.0.1:{metrics_port}",
        "ORDERFLOW_LOG_JSON": "true",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scripts.dev", cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    run = MakeRun(process, api_port, ui_port, codec_port=codec_port, metrics_port=metrics_port)
    reader = asyncio.create_task(_read(run))
    try:
        yield run
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), EXIT_TIMEOUT)
            except TimeoutError:
                process.kill()
                await process.wait()
        leftovers = [pid for pid in run.children if alive(pid)]
        for pid in leftovers:  # a failing test must not leave a dev server running
            os.killpg(pid, signal.SIGKILL)
        await asyncio.wait_for(reader, 5)
        print(run.text)
        assert not leftovers, f"processes left behind: {leftovers}"


async def _ready(run: MakeRun) -> None:
    await run.wait_for("Press Ctrl-C to stop everything.")
    run.children = children_of(run.process.pid)
    assert len(run.children) == 5, run.text  # dev server, SMTP mail sink, codec server, worker, API


async def test_make_run_serves_the_api_and_ui_and_ctrl_c_leaves_nothing_behind(make_run: MakeRun) -> None:
    await _ready(make_run)
    assert f"http://127.0.0.1:{make_run.api_port}/docs" in make_run.text
    assert f"http://127.0.0.1:{make_run.ui_port}" in make_run.text
    for key in ("channel-dev-key", "warehouse-dev-key", "carrier-dev-key", "ops-dev-key"):
        assert key in make_run.text
    async with httpx.AsyncClient(timeout=10) as http:
        health = await http.get(f"http://127.0.0.1:{make_run.api_port}/healthz")
        assert health.status_code == 200, health.text
        ui = await http.get(f"http://127.0.0.1:{make_run.ui_port}/")
        assert ui.status_code == 200
        # The UI is told to decrypt through the codec server, which lets the UI's origin in.
        codec = f"http://127.0.0.1:{make_run.codec_port}"
        ui_settings = (await http.get(f"http://127.0.0.1:{make_run.ui_port}/api/v1/settings")).json()
        assert ui_settings["Codec"]["Endpoint"] == codec, ui_settings
        preflight = await http.options(f"{codec}/decode", headers={
            "Origin": f"http://localhost:{make_run.ui_port}", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace"})
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == f"http://localhost:{make_run.ui_port}"
        # Both metrics endpoints answer: the worker's with the SDK's figures.
        worker_metrics = f"http://127.0.0.1:{make_run.metrics_port}/metrics"
        assert worker_metrics in make_run.text
        assert "temporal_worker_task_slots_available" in (await http.get(worker_metrics)).text
        assert (await http.get(f"http://127.0.0.1:{make_run.api_port}/metrics")).status_code == 200

    make_run.process.send_signal(signal.SIGINT)

    assert await make_run.exit_code() == 0
    assert [pid for pid in make_run.children if alive(pid)] == []


async def test_when_a_child_dies_make_run_stops_the_rest_and_fails(make_run: MakeRun) -> None:
    await _ready(make_run)
    worker = next(pid for pid in make_run.children if "worker.py" in Path(f"/proc/{pid}/cmdline").read_text())

    os.kill(worker, signal.SIGKILL)

    assert await make_run.exit_code() != 0
    assert "worker exited" in make_run.text
    assert [pid for pid in make_run.children if alive(pid)] == []


async def test_a_taken_port_is_named_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "ORDERFLOW_API_HOST": "127.0.0.1", "ORDERFLOW_API_PORT": str(port),
               "ORDERFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}", "ORDERFLOW_TEMPORAL_UI_PORT": str(free_port()),
               "ORDERFLOW_SMTP_PORT": str(free_port()), "ORDERFLOW_CODEC_SERVER_PORT": str(free_port()),
               "ORDERFLOW_WORKER_METRICS_ADDRESS": f"127.0.0.1:{free_port()}",
               "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'never.db'}"}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scripts.dev", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(process.communicate(), EXIT_TIMEOUT)

    assert process.returncode == 2
    assert f"port {port} on 127.0.0.1 (API) is already in use" in out.decode()
    assert "ORDERFLOW_API_PORT=" in out.decode()
    assert not (tmp_path / "never.db").exists()  # nothing was started or migrated
