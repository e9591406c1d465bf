"""``make bench``: how fast Orderflow is on this machine, against the Temporal engine's floor.

Starts its own Temporal dev server (SQLite file in a temporary directory), order worker, floor
worker and API (``scripts.stack``), then measures, side by side in one run:

1. throughput: N orders through the whole happy path (a simulated warehouse, carrier and
   customer answer each human step at once; the follow-up timers are a second each) against
   the floor workflow of the same shape whose activities do nothing (``scripts.bench_floor``);
   both histories are counted to check they have the same number of events;
2. start latency: ``POST /orders`` at a fixed arrival rate against ``client.start_workflow``;
3. cost per order: history events, estimated billable actions and payload bytes for the happy
   path and a pre-order;
4. orders at rest: M orders parked at PICKING: worker memory, ``GET /orders/{id}`` and
   ``GET /orders`` latency.

Prints a table and writes ``bench/results/<time>.json``. Figures are medians over repeats.
Nothing here is asserted: these machines are shared and noisy.

    python -m scripts.bench [--orders 50] [--repeats 3] [--rate 10] [--at-rest 1000] [--profile]
"""

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

from scripts.bench_driver import (
    BENCH_SKU, Driver, bounded, create_orders, mark_started, order_body, start_order,
)
from scripts.bench_floor import FLOOR_TASK_QUEUE, FloorCommand, FloorInput, FloorWorkflow
from scripts.stack import CHANNEL_KEY, OPS_KEY, WAREHOUSE_KEY, TEMPORAL_CLI, Stack, running_stack
from settings import ROOT, Settings
from storage.db import create_engine, create_session_factory
from workflows import search_attributes as sa

RESULTS = ROOT / "bench" / "results"
BENCH_TARGETS = ROOT / "var" / "prometheus" / "bench-targets.json"
FEEDBACK_SECONDS = 1.0
# Parked orders reach PICKING at a few per second on a small machine: the phase may take this
# long per order on top of --timeout.
PARK_SECONDS_PER_ORDER = 0.5
PROFILE_RATE = 100  # py-spy samples per second

# Temporal Cloud bills an "action" for each of these (an estimate: retries, heartbeats and
# queries also count there, and are left out here).
BILLABLE = {
    "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED": "start",
    "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED": "activity",
    "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED": "signal",
    "EVENT_TYPE_TIMER_STARTED": "timer",
    "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES": "search-attribute upsert",
    "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED": "update",
    "EVENT_TYPE_MARKER_RECORDED": "marker",
    "EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED": "child workflow",
}


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def latency_summary(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 1), "p95_ms": round(percentile(ms, 95), 1),
            "p99_ms": round(percentile(ms, 99), 1)}


def payload_bytes(message: Message) -> int:
    """Bytes of every Payload (data and metadata) anywhere inside a protobuf message."""
    if isinstance(message, Payload):
        return message.ByteSize()
    total = 0
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        if descriptor.is_repeated:
            items = value.values() if descriptor.message_type.GetOptions().map_entry else value
            for item in items:
                if isinstance(item, Message):
                    total += payload_bytes(item)
        else:
            total += payload_bytes(value)
    return total


def history_cost(history: WorkflowHistory) -> dict[str, Any]:
    kinds = Counter(EventType.Name(e.event_type) for e in history.events)
    actions = Counter()
    for kind, label in BILLABLE.items():
        if kinds[kind]:
            actions[label] += kinds[kind]
    task_events = sum(n for kind, n in kinds.items() if kind.startswith("EVENT_TYPE_WORKFLOW_TASK_"))
    return {"events": len(history.events), "events_without_workflow_tasks": len(history.events) - task_events,
            "billable_actions": sum(actions.values()), "actions": dict(actions),
            "payload_bytes": sum(payload_bytes(e) for e in history.events),
            "activities": kinds["EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"],
            "workflow_tasks": kinds["EVENT_TYPE_WORKFLOW_TASK_COMPLETED"]}


def floor_shape(history: WorkflowHistory) -> list[FloorCommand]:
    """The command sequence of an order's history, for the floor workflow to repeat with no-op
    activities. Patch markers bring their own TemporalChangeVersion upsert, so those upserts
    are not repeated."""
    shape: list[FloorCommand] = []
    scheduled_by = None  # the workflow task that scheduled the last activity in ``shape``
    for e in history.events:
        if e.HasField("activity_task_scheduled_event_attributes"):
            by = e.activity_task_scheduled_event_attributes.workflow_task_completed_event_id
            if shape and shape[-1].kind == "activity" and by == scheduled_by:
                shape[-1].count += 1  # scheduled together (the handover's two): run together
            else:
                shape.append(FloorCommand(kind="activity"))
            scheduled_by = by
        elif e.HasField("upsert_workflow_search_attributes_event_attributes"):
            fields = e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            if "OrderStatus" in fields:
                shape.append(FloorCommand(kind="upsert", value=json.loads(fields["OrderStatus"].data)))
        elif e.HasField("marker_recorded_event_attributes"):
            marker = e.marker_recorded_event_attributes
            if marker.marker_name == "core_patch":
                data = json.loads(next(iter(marker.details.values())).payloads[0].data)
                shape.append(FloorCommand(kind="patch", value=data["id"]))
        elif e.HasField("timer_started_event_attributes"):
            shape.append(FloorCommand(
                kind="timer", seconds=e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta().total_seconds()))
        elif e.HasField("workflow_execution_update_accepted_event_attributes"):
            shape.append(FloorCommand(
                kind="update", value=e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name))
    return shape


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return float("nan")


_SAMPLE = re.compile(r'^(?P<name>[a-z_]+)\{(?P<labels>[^}]*)\} (?P<value>\S+)$')


def worker_timings(metrics_text: str) -> dict[str, dict[str, float]]:
    """Sums and counts of the worker's activity and workflow-task execution histograms (SDK
    metrics) by activity or workflow type, from its Prometheus text."""
    timings: dict[str, dict[str, float]] = {}
    for line in metrics_text.splitlines():
        m = _SAMPLE.match(line)
        if m is None or not m["name"].endswith(("_sum", "_count")):
            continue
        base, field = m["name"].rsplit("_", 1)
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m["labels"]))
        if base == "temporal_activity_execution_latency_seconds":
            key = f"activity {labels.get('activity_type')}"
        elif base == "temporal_workflow_task_execution_latency_seconds":
            key = f"workflow task {labels.get('workflow_type')}"
        else:
            continue
        timings.setdefault(key, {"sum": 0.0, "count": 0.0})[field] += float(m["value"])
    return timings


def timing_delta(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """What happened between two ``worker_timings``: executions, total and mean milliseconds,
    largest total first."""
    rows = {}
    for key, now in after.items():
        then = before.get(key, {"sum": 0.0, "count": 0.0})
        count, total = now["count"] - then["count"], now["sum"] - then["sum"]
        if count > 0:
            rows[key] = {"count": int(count), "total_s": round(total, 2), "mean_ms": round(total / count * 1000, 1)}
    return dict(sorted(rows.items(), key=lambda kv: -kv[1]["total_s"]))


def server_timing(header: str) -> dict[str, float]:
    """``store;dur=1.2, start;dur=3.4`` -> {"store": 1.2, "start": 3.4} (milliseconds)."""
    phases = {}
    for part in header.split(","):
        name, _, rest = part.strip().partition(";dur=")
        if name and rest:
            phases[name] = float(rest)
    return phases


def py_spy() -> str | None:
    """The py-spy sampling profiler (``pip install py-spy``), on PATH or beside this Python."""
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


def folded_summary(path: Path, top: int = 25) -> dict[str, Any]:
    """What a py-spy ``raw`` (folded stacks) profile says: on-CPU samples by the function that
    was running (own time) and by every function on the stack (inclusive), line numbers
    dropped, file paths shortened to the package."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_frame(f) for f in stack.split(";")]
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(frame, round(100 * n / total, 1)) for frame, n in counter.most_common(top)] if total else []

    return {"samples": total, "own_percent": share(own), "inclusive_percent": share(inclusive)}


def _frame(frame: str) -> str:
    function, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1].lstrip("/").split("/", 1)[0] if marker == "site-packages/" else "stdlib"
            break
    else:
        file = str(Path(file).relative_to(ROOT)) if file.startswith(str(ROOT)) else file
    return f"{function} ({file})"


class WorkerProfile:
    """py-spy sampling the order worker's on-CPU stacks while the throughput phase runs (the
    floor runs in a worker of its own, so this is the order's work): ``--profile``."""

    def __init__(self, pid: int, out: Path) -> None:
        executable = py_spy()
        if executable is None:
            raise SystemExit("--profile needs py-spy: pip install py-spy (into this venv or on PATH)")
        self.out = out
        # --gil: only the thread holding the GIL, i.e. the worker's Python work (threads waiting
        # for work hold none; py-spy's own idle detection does not tell them apart on every
        # kernel). SQLite's C code and the SDK's Rust core run without the GIL and are not
        # seen. --nonblocking: sampling does not pause the worker (pausing it halved its speed).
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [executable, "record", "--pid", str(pid), "--format", "raw", "--rate", str(PROFILE_RATE), "--gil",
             "--nonblocking", "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> dict[str, Any]:
        seconds = time.monotonic() - self.started
        self.process.send_signal(signal.SIGINT)  # py-spy writes its output when interrupted
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return {"error": "py-spy did not stop"}
        if not self.out.exists():
            return {"error": f"py-spy wrote no profile (exit {self.process.returncode}); as root, or with ptrace allowed"}
        summary = folded_summary(self.out)
        # How busy the GIL was: the share of samples taken while some thread held it.
        summary["gil_busy_percent"] = round(100 * summary["samples"] / (seconds * PROFILE_RATE), 1)
        return {"file": str(self.out.relative_to(ROOT)), "seconds": round(seconds, 1), **summary}


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system, all threads) a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def machine(settings: Settings) -> dict[str, Any]:
    try:
        cli = subprocess.run([TEMPORAL_CLI, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        cli = "?"
    return {
        "cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
        "temporalio": version("temporalio"), "temporal_cli": cli,
        "worker": {"max_concurrent_activities": settings.worker_max_concurrent_activities,
                   "max_concurrent_workflow_tasks": settings.worker_max_concurrent_workflow_tasks,
                   "max_cached_workflows": settings.worker_max_cached_workflows},
        "temporal_persistence": "dev server, SQLite file",
    }


class Bench:
    def __init__(self, stack: Stack, settings: Settings, args: argparse.Namespace, stamp: str) -> None:
        self.stack, self.settings, self.args, self.stamp = stack, settings, args, stamp
        self.client: Client = stack.temporal
        self.sessions = create_session_factory(create_engine(stack.database_url))
        self.http = httpx.AsyncClient(base_url=stack.api_url, timeout=60)
        self.closed = {"OrderWorkflow": 0, "FloorWorkflow": 0}
        self.shape: list[FloorCommand] = []

    def say(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    async def worker_timings(self) -> dict[str, dict[str, float]]:
        address = self.stack.processes.env["ORDERFLOW_WORKER_METRICS_ADDRESS"]
        async with httpx.AsyncClient(timeout=10) as http:
            return worker_timings((await http.get(f"http://{address}/metrics")).text)

    # --- 1. throughput ------------------------------------------------------------------

    def cpu(self) -> dict[str, float]:
        return {name: cpu_seconds(self.stack.processes.pid(name)) for name in ("temporal", "worker", "floor-worker")}

    def cpu_per_order(self, before: dict[str, float], n: int) -> dict[str, float]:
        """Milliseconds of CPU per order each process used since ``before``: unlike the rates,
        hardly moved by what else the machine runs."""
        return {name: round((used - before[name]) * 1000 / n, 1) for name, used in self.cpu().items()}

    async def orders_run(self, run: int, n: int) -> dict[str, Any]:
        ids = await create_orders(self.sessions, f"tp{run}", n)
        driver = Driver(self.client, "OrderWorkflow")
        cpu = self.cpu()
        started = time.monotonic()
        await bounded((start_order(self.client, self.settings, i) for i in ids), 20)
        self.closed["OrderWorkflow"] += n
        await driver.run_until(self.closed["OrderWorkflow"], self.args.timeout)
        seconds = time.monotonic() - started
        used = self.cpu_per_order(cpu, n)
        await mark_started(self.sessions, ids)
        return {"orders": n, "seconds": round(seconds, 2), "orders_per_s": round(n / seconds, 3),
                "cpu_ms_per_order": used, "update_errors": driver.update_errors,
                "workflow_ids": [f"order-{i}" for i in ids]}

    async def floor_run(self, run: int, n: int) -> dict[str, Any]:
        driver = Driver(self.client, "FloorWorkflow")
        cpu = self.cpu()
        started = time.monotonic()
        await bounded((self.client.start_workflow(
            FloorWorkflow.run, FloorInput(order_id=f"fl{run}-{i}", shape=self.shape),
            id=f"floor-fl{run}-{i}", task_queue=FLOOR_TASK_QUEUE,
            search_attributes=sa.for_new_order("webshop", f"cust-fl{run}-{i}")) for i in range(n)), 20)
        self.closed["FloorWorkflow"] += n
        await driver.run_until(self.closed["FloorWorkflow"], self.args.timeout)
        seconds = time.monotonic() - started
        return {"orders": n, "seconds": round(seconds, 2), "orders_per_s": round(n / seconds, 3),
                "cpu_ms_per_order": self.cpu_per_order(cpu, n), "update_errors": driver.update_errors,
                "workflow_ids": [f"floor-fl{run}-{i}" for i in range(n)]}

    async def sample_costs(self, workflow_ids: list[str], k: int = 5) -> list[dict[str, Any]]:
        step = max(1, len(workflow_ids) // k)
        return [history_cost(await self.client.get_workflow_handle(w).fetch_history()) for w in workflow_ids[::step][:k]]

    async def throughput(self) -> dict[str, Any]:
        runs: dict[str, list[dict[str, Any]]] = {"order": [], "floor": []}
        # Warm-up: one order through the pipeline, whose history gives the floor its shape.
        warm = await self.orders_run(-1, 1)
        self.shape = floor_shape(await self.client.get_workflow_handle(warm["workflow_ids"][0]).fetch_history())
        self.say(f"floor shape from a warm-up order: {len(self.shape)} commands, "
                 f"{sum(c.kind == 'activity' for c in self.shape)} activities")
        # The order worker's own account of where its time went (the floor has its own worker).
        timings_before = await self.worker_timings()
        profile = (WorkerProfile(self.stack.processes.pid("worker"), RESULTS / f"{self.stamp}-worker.folded")
                   if self.args.profile else None)
        for run in range(self.args.repeats):
            # Alternate which goes first, so neither always meets a warmer (or busier) server.
            order_first = run % 2 == 0
            for kind in (("order", "floor") if order_first else ("floor", "order")):
                result = await (self.orders_run(run, self.args.orders) if kind == "order"
                                else self.floor_run(run, self.args.orders))
                self.say(f"throughput {kind} run {run + 1}: {result['orders']} in {result['seconds']} s "
                         f"= {result['orders_per_s']}/s")
                runs[kind].append(result)
        profiled = profile.stop() if profile is not None else None
        worker_time = timing_delta(timings_before, await self.worker_timings())
        order_costs = await self.sample_costs(runs["order"][-1]["workflow_ids"])
        floor_costs = await self.sample_costs(runs["floor"][-1]["workflow_ids"])
        def cpu_median(kind: str, process: str) -> float:
            return statistics.median(r["cpu_ms_per_order"][process] for r in runs[kind])

        order_rate = statistics.median(r["orders_per_s"] for r in runs["order"])
        floor_rate = statistics.median(r["orders_per_s"] for r in runs["floor"])
        order_events = statistics.median(c["events"] for c in order_costs)
        floor_events = statistics.median(c["events"] for c in floor_costs)
        # Workflow tasks vary with timing (an update that arrives during an activity shares
        # its task); every other event is a command or its outcome and must match exactly.
        order_commands = statistics.median(c["events_without_workflow_tasks"] for c in order_costs)
        floor_commands = statistics.median(c["events_without_workflow_tasks"] for c in floor_costs)
        for r in runs["order"] + runs["floor"]:
            r.pop("workflow_ids")
        return {
            "orders_per_run": self.args.orders, "repeats": self.args.repeats,
            "order_orders_per_s": order_rate, "floor_orders_per_s": floor_rate,
            "ratio_order_to_floor": round(order_rate / floor_rate, 3),
            # Each repeat runs order and floor back to back, so a pair meets the same machine
            # load; the median of the pairs' ratios is the steadier figure on a shared machine.
            "ratio_median_of_pairs": round(statistics.median(
                o["orders_per_s"] / f["orders_per_s"] for o, f in zip(runs["order"], runs["floor"], strict=True)), 3),
            "order_history_events_median": order_events, "floor_history_events_median": floor_events,
            "order_events_without_workflow_tasks": order_commands,
            "floor_events_without_workflow_tasks": floor_commands,
            "same_event_count": order_commands == floor_commands,
            "order_activities": order_costs[0]["activities"], "floor_activities": floor_costs[0]["activities"],
            # CPU per order: the server's, and the worker's that ran it (order or floor worker).
            "cpu_ms_per_order": {"order": {"server": cpu_median("order", "temporal"), "worker": cpu_median("order", "worker")},
                                 "floor": {"server": cpu_median("floor", "temporal"),
                                           "worker": cpu_median("floor", "floor-worker")}},
            "runs": runs, "order_cost_samples": order_costs, "floor_cost_samples": floor_costs,
            # Wall time per execution as the SDK measures it (waits for the database and the
            # event loop included), over every order of the throughput runs.
            "order_worker_time": worker_time,
            "worker_profile": profiled,
        }

    # --- 2. start latency ---------------------------------------------------------------

    async def at_rate(self, n: int, rate: float, call: Any) -> list[float]:
        """Open loop: request i leaves at i / rate whatever the earlier ones are doing."""
        latencies: list[float] = []
        t0 = time.monotonic()

        async def one(i: int) -> None:
            await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
            begin = time.monotonic()
            await call(i)
            latencies.append(time.monotonic() - begin)

        await asyncio.gather(*(one(i) for i in range(n)))
        return latencies

    async def start_latency(self) -> dict[str, Any]:
        """POST /orders and client.start_workflow alternate in one arrival stream, so both meet
        the same server load."""
        n = int(self.args.rate * self.args.latency_seconds)
        direct_ids = await create_orders(self.sessions, "lat-direct", n // 2)
        api: list[float] = []
        direct: list[float] = []
        phases: dict[str, list[float]] = {}

        async def either(i: int) -> None:
            begin = time.monotonic()
            if i % 2 == 0:
                response = await self.http.post("/orders", json=order_body(f"lat-api-{i}"), headers=CHANNEL_KEY)
                response.raise_for_status()
                api.append(time.monotonic() - begin)
                spent = server_timing(response.headers.get("Server-Timing", ""))
                for name, ms in spent.items():
                    phases.setdefault(name, []).append(ms / 1000)
                # Before the handler ran and after it returned: the API's event loop, HTTP, middleware.
                phases.setdefault("outside the handler", []).append(api[-1] - sum(spent.values()) / 1000)
            else:
                await start_order(self.client, self.settings, direct_ids[i // 2])
                direct.append(time.monotonic() - begin)

        await self.at_rate(n, self.args.rate, either)
        await mark_started(self.sessions, direct_ids)
        self.say(f"start latency POST /orders: {latency_summary(api)}")
        self.say(f"start latency client.start_workflow: {latency_summary(direct)}")
        return {"rate_per_s": self.args.rate, "requests": n, "post_orders": latency_summary(api),
                "client_start_workflow": latency_summary(direct),
                # The API's Server-Timing header: storing, starting the workflow, reading back.
                "post_orders_phases": {name: latency_summary(v) for name, v in phases.items()}}

    # --- 3. cost of a pre-order ----------------------------------------------------------

    async def preorder_cost(self) -> dict[str, Any]:
        """A pre-order of the sold-out SKU, received from the supplier, then the happy path."""
        response = await self.http.post("/orders", json=order_body("cost-preorder", sku="SOLDOUT-1",
                                                                   backorder_policy="preorder"), headers=CHANNEL_KEY)
        response.raise_for_status()
        order_id = response.json()["order_id"]
        deadline = time.monotonic() + 60
        po = None
        while po is None and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            listed = (await self.http.get("/purchase-orders", params={"sku": "SOLDOUT-1"}, headers=WAREHOUSE_KEY)).json()
            po = next((p for p in listed.get("items", []) if p.get("status") not in ("RECEIVED", "CANCELLED")), None)
        if po is None:
            return {"error": "no purchase order was placed within 60 s"}
        receipt = {}
        while time.monotonic() < deadline:
            r = await self.http.post(f"/purchase-orders/{po['id']}/receipt", headers=WAREHOUSE_KEY,
                                     json={"quantity": po.get("quantity", 1), "receipt_id": "bench-receipt-1"})
            receipt = {"status": r.status_code, "body": r.text[:300]}
            if r.status_code < 300:
                break
            await asyncio.sleep(0.5)
        driver = Driver(self.client, "OrderWorkflow")
        self.closed["OrderWorkflow"] += 1
        try:
            await driver.run_until(self.closed["OrderWorkflow"], 60)
        except TimeoutError as exc:
            return {"error": str(exc), "receipt": receipt}
        return history_cost(await self.client.get_workflow_handle(f"order-{order_id}").fetch_history())

    # --- 4. orders at rest ---------------------------------------------------------------

    async def parked(self) -> int:
        count = await self.client.count_workflows(
            'WorkflowType="OrderWorkflow" AND ExecutionStatus="Running" AND OrderStatus="PICKING"')
        return count.count

    async def at_rest(self, already: int) -> dict[str, Any]:
        worker_pid = self.stack.processes.pid("worker")
        temporal_pid = self.stack.processes.pid("temporal")
        extra = max(0, self.args.at_rest - already)
        ids = await create_orders(self.sessions, "rest", extra)
        began = time.monotonic()
        await bounded((start_order(self.client, self.settings, i) for i in ids), 20)
        started_s = time.monotonic() - began
        await mark_started(self.sessions, ids)
        deadline = time.monotonic() + self.args.timeout + PARK_SECONDS_PER_ORDER * self.args.at_rest
        while (count := await self.parked()) < self.args.at_rest and time.monotonic() < deadline:
            await asyncio.sleep(1)
        park_s = time.monotonic() - began
        self.say(f"{count} orders parked at PICKING ({extra} started in {started_s:.0f} s, all parked "
                 f"after {park_s:.0f} s)")
        await asyncio.sleep(2)  # let the last publish activities finish
        listed = (await self.http.get("/orders", params={"status": "PICKING", "limit": 200}, headers=OPS_KEY)).json()
        sample = [o["order_id"] for o in listed["items"]][:50]
        one: list[float] = []
        for order_id in sample:
            begin = time.monotonic()
            (await self.http.get(f"/orders/{order_id}", headers=OPS_KEY)).raise_for_status()
            one.append(time.monotonic() - begin)
        many: list[float] = []
        for _ in range(20):
            begin = time.monotonic()
            (await self.http.get("/orders", params={"limit": 50}, headers=OPS_KEY)).raise_for_status()
            many.append(time.monotonic() - begin)
        return {"orders_parked": count, "started": extra, "start_seconds": round(started_s, 1),
                "park_seconds": round(park_s, 1), "worker_rss_mb": rss_mb(worker_pid),
                "temporal_rss_mb": rss_mb(temporal_pid), "api_rss_mb": rss_mb(self.stack.processes.pid("api")),
                "get_order": latency_summary(one), "get_orders_page_of_50": latency_summary(many)}

    async def run(self) -> dict[str, Any]:
        # Enough stock for every order the benchmark places.
        r = await self.http.post("/stock/adjustments", headers=OPS_KEY,
                                 json={"sku": BENCH_SKU, "delta": 1_000_000, "reason": "benchmark stock"})
        r.raise_for_status()
        results: dict[str, Any] = {"worker_rss_mb_idle": rss_mb(self.stack.processes.pid("worker"))}
        self.say(f"throughput: {self.args.orders} orders x {self.args.repeats} repeats, order and floor side by side")
        results["throughput"] = await self.throughput()
        results["worker_rss_mb_after_throughput"] = rss_mb(self.stack.processes.pid("worker"))
        self.say("cost of a pre-order")
        results["cost"] = {"happy_path": results["throughput"]["order_cost_samples"][0],
                           "floor": results["throughput"]["floor_cost_samples"][0],
                           "preorder": await self.preorder_cost()}
        self.say(f"start latency at {self.args.rate}/s")
        results["start_latency"] = await self.start_latency()
        self.say(f"orders at rest: {self.args.at_rest}")
        results["at_rest"] = await self.at_rest(results["start_latency"]["requests"])
        return results

    async def close(self) -> None:
        await self.http.aclose()


def table(results: dict[str, Any]) -> str:
    tp, lat, cost, rest = results["throughput"], results["start_latency"], results["cost"], results["at_rest"]
    m = results["machine"]
    rows = [
        ("machine", f"{m['cores']} cores, Python {m['python']}, temporalio {m['temporalio']}, {m['temporal_persistence']}"),
        ("worker settings", ", ".join(f"{k}={v}" for k, v in m["worker"].items())),
        ("throughput, order workflow", f"{tp['order_orders_per_s']:.2f} orders/s (median of {tp['repeats']} x {tp['orders_per_run']})"),
        ("throughput, floor workflow", f"{tp['floor_orders_per_s']:.2f} orders/s"),
        ("ratio order / floor", f"{tp['ratio_order_to_floor']:.2f} of the medians, "
                                f"{tp['ratio_median_of_pairs']:.2f} median of the side-by-side pairs"),
        ("history events order / floor", f"{tp['order_history_events_median']} / {tp['floor_history_events_median']}"
                                         f"; without workflow tasks {tp['order_events_without_workflow_tasks']} / "
                                         f"{tp['floor_events_without_workflow_tasks']}"
                                         f" ({'same' if tp['same_event_count'] else 'DIFFERENT'})"),
        ("CPU per order, server / worker", "order {o[server]} / {o[worker]} ms, floor {f[server]} / {f[worker]} ms".format(
            o=tp["cpu_ms_per_order"]["order"], f=tp["cpu_ms_per_order"]["floor"])),
        ("POST /orders start latency", "p50 {p50_ms} / p95 {p95_ms} / p99 {p99_ms} ms".format(**lat["post_orders"])
         + f" at {lat['rate_per_s']}/s"),
        ("client.start_workflow latency", "p50 {p50_ms} / p95 {p95_ms} / p99 {p99_ms} ms".format(**lat["client_start_workflow"])),
        ("POST /orders, where the time went", "; ".join(
            f"{name} p50 {v['p50_ms']} / p95 {v['p95_ms']}" for name, v in lat.get("post_orders_phases", {}).items())),
        ("order worker, busiest (wall s, mean ms)", ", ".join(
            f"{name} {v['total_s']} s ({v['mean_ms']} ms)" for name, v in list(tp["order_worker_time"].items())[:6])),
    ]
    if tp.get("worker_profile") and "own_percent" in tp["worker_profile"]:
        rows.append((f"order worker, GIL busy {tp['worker_profile']['gil_busy_percent']} %; own time", ", ".join(
            f"{frame} {pct} %" for frame, pct in tp["worker_profile"]["own_percent"][:8])))
    for name in ("happy_path", "preorder", "floor"):
        c = cost[name]
        rows.append((f"cost per order: {name.replace('_', ' ')}",
                     f"{c['events']} events, ~{c['billable_actions']} actions, {c['payload_bytes']} payload bytes"
                     if "events" in c else c.get("error", "?")))
    rows += [
        ("orders at rest (PICKING)", f"{rest['orders_parked']}: worker RSS {rest['worker_rss_mb']} MB "
                                     f"(idle {results['worker_rss_mb_idle']} MB), server RSS {rest['temporal_rss_mb']} MB, "
                                     f"API RSS {rest['api_rss_mb']} MB"),
        ("parking them", f"{rest['started']} started in {rest['start_seconds']} s, all at PICKING after "
                         f"{rest['park_seconds']} s"),
        ("GET /orders/{id} at rest", "p50 {p50_ms} / p95 {p95_ms} / p99 {p99_ms} ms".format(**rest["get_order"])),
        ("GET /orders at rest", "p50 {p50_ms} / p95 {p95_ms} / p99 {p99_ms} ms".format(**rest["get_orders_page_of_50"])),
        ("benchmark run time", f"{results['seconds']:.0f} s"),
    ]
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"| {name:<{width}} | {value} |" for name, value in rows)


@asynccontextmanager
async def scrape_targets(stack: Stack) -> AsyncIterator[None]:
    """While the benchmark runs, Prometheus (``ops/prometheus.yml``, job ``orderflow-bench``)
    finds this run's API and worker in ``var/prometheus/bench-targets.json``: their ports are
    free ones picked per run."""
    api = stack.api_url.removeprefix("http://")
    worker = stack.processes.env["ORDERFLOW_WORKER_METRICS_ADDRESS"]
    BENCH_TARGETS.parent.mkdir(parents=True, exist_ok=True)
    written = BENCH_TARGETS.with_suffix(".tmp")
    written.write_text(json.dumps([{"targets": [api], "labels": {"process": "api"}},
                                   {"targets": [worker], "labels": {"process": "worker"}}], indent=2))
    written.replace(BENCH_TARGETS)  # whole or not at all: Prometheus may read it any moment
    print(f"metrics while this runs: http://{api}/metrics (API), http://{worker}/metrics (worker); "
          f"Prometheus with ops/prometheus.yml scrapes both (README: Metrics and tracing)", flush=True)
    try:
        yield
    finally:
        BENCH_TARGETS.unlink(missing_ok=True)


async def main(args: argparse.Namespace) -> int:
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')
    env = {
        "ORDERFLOW_FEEDBACK_REQUEST_DELAY_SECONDS": str(FEEDBACK_SECONDS),
        "ORDERFLOW_FEEDBACK_WAIT_SECONDS": str(FEEDBACK_SECONDS),
        "ORDERFLOW_SUPPLIER_CONFIRM_DELAY_SECONDS": "1",
        "ORDERFLOW_LOG_LEVEL": "WARNING",
    }
    with tempfile.TemporaryDirectory(prefix="orderflow-bench-") as tmp:
        async with running_stack(Path(tmp), env, quiet=not args.verbose) as stack, scrape_targets(stack):
            # The floor worker is a worker of its own: the order worker holds the metrics port.
            stack.processes.start("floor-worker", [sys.executable, "-m", "scripts.bench_floor"],
                                  env={"ORDERFLOW_WORKER_METRICS_ADDRESS": ""})
            os.environ.update(env)
            settings = Settings(database_url=stack.database_url)
            RESULTS.mkdir(parents=True, exist_ok=True)
            bench = Bench(stack, settings, args, stamp)
            try:
                results = await bench.run()
            finally:
                await bench.close()
            results["machine"] = machine(settings)
    results["seconds"] = round(time.monotonic() - started, 1)
    results["args"] = vars(args)
    results["finished_at"] = datetime.now(UTC).isoformat()
    out = RESULTS / f"{stamp}.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print(table(results))
    print(f"results: {out.relative_to(ROOT)}")
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=200, help="orders per throughput run (default 200)")
    parser.add_argument("--repeats", type=int, default=2, help="throughput runs of each kind (default 2)")
    parser.add_argument("--rate", type=float, default=10, help="arrivals per second for start latency (default 10)")
    parser.add_argument("--latency-seconds", type=float, default=10, help="seconds of arrivals, both kinds alternating (default 10)")
    parser.add_argument("--at-rest", type=int, default=1000,
                        help="orders parked at PICKING (default 1000; 10000 for the large case)")
    parser.add_argument("--timeout", type=float, default=300,
                        help="seconds any one phase may take (parking gets 0.5 s more per order)")
    parser.add_argument("--profile", action="store_true",
                        help="sample the order worker with py-spy during the throughput runs "
                             "(pip install py-spy); stacks go to bench/results/<time>-worker.folded")
    parser.add_argument("--verbose", action="store_true", help="print the children's log tails at the end")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
