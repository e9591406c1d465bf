"""The Grafana dashboard (ops/grafana/orderflow-dashboard.json) shows figures that exist: every
metric its PromQL uses is on the live ``/metrics`` of the worker or of the API, after an order
has gone through to COMPLETED, a card was declined, and a workflow was started with input it
cannot read (the failure panels need a failure to show). The processes are the real ones
(dev server, worker, API) and the worker's endpoint is configured as an operator would, through
``ORDERFLOW_WORKER_METRICS_ADDRESS``."""

import asyncio
import json
import re
import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import WorkflowExecutionStatus

from scripts.bench import BENCH_TARGETS
from settings import ROOT
from tests.integration.conftest import CHANNEL_KEY, Stack
from tests.integration.test_end_to_end import carrier_event, confirm, new_order, place, wait_for_status

pytestmark = pytest.mark.integration

DASHBOARD = ROOT / "ops" / "grafana" / "orderflow-dashboard.json"
METRICS_TIMEOUT = 30.0
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# Label matchers, range selectors, grouping clauses and strings hold no metric names.
_NOT_NAMES = re.compile(r'\{[^}]*\}|\[[^\]]*\]|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)|"[^"]*"')
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}


def dashboard_metrics(dashboard: dict) -> dict[str, str]:
    """Every metric name in the dashboard's PromQL, with the panel it is on."""
    found: dict[str, str] = {}
    panels = list(dashboard["panels"])
    while panels:
        panel = panels.pop()
        panels.extend(panel.get("panels", []))  # rows may hold panels
        for target in panel.get("targets", []):
            expr = _NOT_NAMES.sub(" ", target["expr"])
            for match in _IDENTIFIER.finditer(expr):
                rest = expr[match.end():].lstrip()
                if rest.startswith("(") or match.group() in _KEYWORDS:  # a function or a keyword
                    continue
                found.setdefault(match.group(), panel["title"])
    return found


def test_the_metric_names_are_read_from_the_promql() -> None:
    dashboard = {"panels": [{"title": "t", "targets": [{"expr": (
        'histogram_quantile(0.95, sum by (le, route) (rate(a_seconds_bucket{status=~"5.."}[$__rate_interval])))'
        " / ignoring(x) sum without (y) (b_total) + on(z) group_left(w) c"
    )}]}, {"title": "row", "type": "row", "panels": [{"title": "u", "targets": [{"expr": "max(d) > bool 0"}]}]}]}
    assert set(dashboard_metrics(dashboard)) == {"a_seconds_bucket", "b_total", "c", "d"}


def exposed(text: str) -> set[str]:
    """Sample names and family names (a histogram's family is its base name) of an exposition."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names


def exists(name: str, names: set[str]) -> bool:
    if name in names:
        return True
    return any(name.endswith(suffix) and name.removesuffix(suffix) in names for suffix in HISTOGRAM_SUFFIXES)


async def until(what: str, attempt: Callable[[], Awaitable[bool]]) -> None:
    deadline = asyncio.get_running_loop().time() + METRICS_TIMEOUT
    while not await attempt():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} within {METRICS_TIMEOUT} s")
        await asyncio.sleep(0.2)


async def test_every_metric_on_the_dashboard_is_on_a_live_metrics_endpoint(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    wanted = dashboard_metrics(dashboard)
    assert wanted and all(name.startswith(("orderflow_", "temporal_")) for name in wanted), wanted
    worker_url = f"http://{stack.processes.env['ORDERFLOW_WORKER_METRICS_ADDRESS']}/metrics"

    # One order all the way, one declined card.
    order_id = (await place(api, new_order()))["order_id"]
    declined = (await place(api, new_order(payment={"method": "card", "token": "tok_chargeDeclined"})))["order_id"]
    await wait_for_status(api, order_id, "PICKING")
    await confirm(api, order_id, "pick")
    await wait_for_status(api, order_id, "PACKING")
    await confirm(api, order_id, "pack")
    tracking_number = (await wait_for_status(api, order_id, "READY_TO_SHIP"))["shipments"][0]["tracking_number"]
    await confirm(api, order_id, "handover")
    await wait_for_status(api, order_id, "SHIPPED")
    await carrier_event(api, tracking_number, "IN_TRANSIT")
    await carrier_event(api, tracking_number, "DELIVERED")
    await wait_for_status(api, order_id, "FEEDBACK_REQUESTED")
    feedback = await api.post(f"/orders/{order_id}/feedback", headers=CHANNEL_KEY, json={"rating": 4})
    assert feedback.status_code in (200, 202), feedback.text
    await wait_for_status(api, order_id, "COMPLETED")
    await wait_for_status(api, declined, "PAYMENT_FAILED")

    # A workflow started (say, from the CLI) with input the order workflow cannot read fails
    # its workflow task, which the failure panel shows.
    broken = await stack.temporal.start_workflow(
        "OrderWorkflow", "not an order", id=f"order-broken-{uuid.uuid4().hex[:8]}",
        task_queue=stack.processes.env.get("ORDERFLOW_TASK_QUEUE", "orders"))

    async with httpx.AsyncClient(timeout=10) as http:
        async def worker_reported() -> bool:
            text = (await http.get(worker_url)).text
            return "temporal_workflow_task_execution_failed_total" in text \
                and 'orderflow_order_status_changes_total{' in text and 'status="COMPLETED"' in text

        try:
            await until("the worker reported the order and the failed workflow task", worker_reported)
        finally:
            await broken.terminate(reason="test over")
        assert (await broken.describe()).status == WorkflowExecutionStatus.TERMINATED

        worker_text = (await http.get(worker_url)).text
        api_response = await http.get(f"{stack.api_url}/metrics")  # no key: Prometheus sends none
        assert api_response.status_code == 200, api_response.text
    available = exposed(worker_text) | exposed(api_response.text)

    missing = {name: panel for name, panel in wanted.items() if not exists(name, available)}
    assert not missing, f"on the dashboard but on no /metrics: {missing}"

    # And the figures are the order's: its stages were measured and its status changes counted.
    stages = {s.labels["stage"] for f in text_string_to_metric_families(worker_text) for s in f.samples
              if s.name == "orderflow_order_stage_duration_seconds_count"}
    assert {"RECEIVED", "PICKING", "PACKING", "SHIPPED", "FEEDBACK_REQUESTED"} <= stages, stages
    orders = {s.labels["status"]: s.value for f in text_string_to_metric_families(api_response.text)
              for s in f.samples if s.name == "orderflow_orders"}
    assert orders["COMPLETED"] >= 1 and orders["PAYMENT_FAILED"] >= 1, orders


def test_the_dashboard_is_one_grafana_dashboard_on_a_chosen_prometheus() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] == "Orderflow"
    (variable,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == "prometheus"
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels:
        assert panel["datasource"]["uid"] == f"${{{variable['name']}}}", panel["title"]
        assert panel["targets"], panel["title"]
        assert all(t["expr"].count("(") == t["expr"].count(")") for t in panel["targets"]), panel["title"]


def test_the_prometheus_config_scrapes_make_run_and_the_bench() -> None:
    config = (ROOT / "ops" / "prometheus.yml").read_text()
    assert '"127.0.0.1:8000"' in config and '"127.0.0.1:9464"' in config
    # The file the benchmark writes is the one the bench job reads (relative to the config).
    (bench_file,) = re.findall(r'files: \["([^"]+)"\]', config)
    assert ((ROOT / "ops" / bench_file).resolve()) == BENCH_TARGETS.resolve()
