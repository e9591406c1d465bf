"""The worker's business metrics, recorded through the Temporal SDK's metric meter: a status
change is counted once however often its activity runs, the time spent in the status it
leaves is measured from the read model's timeline, and the runtime serves it all (with every
alert kind at 0) on the metrics endpoint."""

import asyncio
import socket
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.runtime import BufferedMetricUpdate, MetricBuffer, Runtime, TelemetryConfig
from temporalio.testing import ActivityEnvironment

from activities.adapters.sandbox_outbound import SandboxPim
from activities.metrics import ALERTS_RAISED, STAGE_DURATION, STATUS_CHANGES, count_alert, worker_runtime
from activities.order_status import OrderStatusActivities
from domain.enums import AlertKind, OrderStatus
from domain.messages import CUSTOMER_STATUSES_DEFAULT
from domain.models import StatusChange
from storage.models import Order
from tests.factories import place_order, seed


def metered() -> tuple[ActivityEnvironment, MetricBuffer]:
    buffer = MetricBuffer(1000)
    env = ActivityEnvironment()
    env.metric_meter = Runtime(telemetry=TelemetryConfig(metrics=buffer)).metric_meter
    return env, buffer


def recorded(buffer: MetricBuffer, name: str) -> list[tuple[float, dict[str, str | int | float | bool]]]:
    updates: list[BufferedMetricUpdate] = [u for u in buffer.retrieve_updates() if u.metric.name == name]
    return [(u.value, dict(u.attributes)) for u in updates]


async def test_a_status_change_is_counted_once_with_the_time_spent_in_the_previous_status(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(sessions, external_reference="WEB-METRICS-1")
    async with sessions() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        created_at = order.created_at
    acts = OrderStatusActivities(sessions, SandboxPim(sessions), {}, CUSTOMER_STATUSES_DEFAULT)
    env, buffer = metered()
    authorized = StatusChange(order_id=order_id, sequence=1, status=OrderStatus.PAYMENT_AUTHORIZED,
                              occurred_at=created_at + timedelta(seconds=10), reason="card authorized")
    reserved = StatusChange(order_id=order_id, sequence=2, status=OrderStatus.RESERVED,
                            occurred_at=created_at + timedelta(seconds=70), reason="stock reserved")
    await env.run(acts.publish_status_change, authorized)
    await env.run(acts.publish_status_change, reserved)
    await env.run(acts.publish_status_change, reserved)  # a retry: already in the read model
    await env.run(acts.publish_status_change, authorized)  # a late retry of an older change

    updates = buffer.retrieve_updates()
    changes = [(u.value, dict(u.attributes)) for u in updates if u.metric.name == STATUS_CHANGES]
    stages = [(u.value, dict(u.attributes)) for u in updates if u.metric.name == STAGE_DURATION]
    assert [(value, attrs["status"]) for value, attrs in changes] == [(1, "PAYMENT_AUTHORIZED"), (1, "RESERVED")]
    assert [(value, attrs["stage"], attrs["next_status"]) for value, attrs in stages] == [
        (10.0, "RECEIVED", "PAYMENT_AUTHORIZED"), (60.0, "PAYMENT_AUTHORIZED", "RESERVED")]
    assert {u.metric.unit for u in updates if u.metric.name == STAGE_DURATION} == {"seconds"}


async def test_outside_an_activity_nothing_is_recorded_and_nothing_fails(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(sessions, external_reference="WEB-METRICS-2")
    acts = OrderStatusActivities(sessions, SandboxPim(sessions), {}, CUSTOMER_STATUSES_DEFAULT)
    published = await acts.publish_status_change(StatusChange(
        order_id=order_id, sequence=1, status=OrderStatus.PAYMENT_AUTHORIZED,
        occurred_at=(await _created_at(sessions, order_id)) + timedelta(seconds=1)))
    assert published.applied_to_read_model
    count_alert(AlertKind.LATE_PICK)  # no activity, no workflow: a no-op


async def _created_at(sessions, order_id: str):  # type: ignore[no-untyped-def]
    async with sessions() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        return order.created_at


async def test_an_alert_is_counted_by_kind() -> None:
    env, buffer = metered()
    env.run(count_alert, AlertKind.TRACKING_SILENCE)
    env.run(count_alert, "late_pick")
    assert [(v, a["kind"]) for v, a in recorded(buffer, ALERTS_RAISED)] == [(1, "tracking_silence"), (1, "late_pick")]


def _free_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


async def test_the_worker_runtime_serves_every_alert_kind_from_zero() -> None:
    assert worker_runtime("") is None
    address = _free_address()
    runtime = worker_runtime(address)
    assert runtime is not None
    async with httpx.AsyncClient(timeout=5) as http:
        for _ in range(50):  # the endpoint starts on the runtime's own thread
            try:
                response = await http.get(f"http://{address}/metrics")
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.05)
    alerts = {s.labels["kind"]: s.value for family in text_string_to_metric_families(response.text)
              for s in family.samples if s.name == "orderflow_alerts_raised_total"}
    assert alerts == {kind.value: 0.0 for kind in AlertKind}


def test_a_taken_metrics_address_is_named_with_the_setting_to_change() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(RuntimeError, match="ORDERFLOW_WORKER_METRICS_ADDRESS") as refused:
            worker_runtime(address)
    assert address in str(refused.value)
