"""The worker's Prometheus metrics: the Temporal SDK runtime that serves them, and the business
metrics activities record through it.

Everything the worker measures comes out of the one SDK endpoint (``worker_metrics_address``):
the SDK's own metrics (``temporal_*``: task slots, schedule-to-start latency, sticky cache,
failures) and ours (``orderflow_*``), recorded with ``activity.metric_meter()`` (or
``workflow.metric_meter()``, which records nothing while a workflow replays). Outside a worker
(an activity method called directly in a test) recording is a no-op.

Names as Prometheus shows them (counters get ``_total``, the histogram ``_seconds``):

- ``orderflow_order_status_changes_total{status}``: status changes published to the read model;
- ``orderflow_order_stage_duration_seconds{stage, next_status}``: how long an order was in
  ``stage`` before it moved on to ``next_status``;
- ``orderflow_alerts_raised_total{kind}``: escalations raised (``count_alert``), every kind
  present from the start at 0 so a rate over it is defined before the first alert.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta

from temporalio import activity, workflow
from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from domain.enums import AlertKind, OrderStatus

STATUS_CHANGES = "orderflow_order_status_changes"
STAGE_DURATION = "orderflow_order_stage_duration"
ALERTS_RAISED = "orderflow_alerts_raised"

# An order waits seconds for a payment, minutes to hours for the warehouse, days for a carrier
# and two weeks for feedback: buckets from a second to a month.
_HOUR, _DAY = 3600.0, 86400.0
STAGE_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, _HOUR, 4 * _HOUR, 12 * _HOUR, _DAY, 3 * _DAY, 7 * _DAY,
                 14 * _DAY, 30 * _DAY)
# The SDK's default buckets in seconds start at 100 ms; a healthy worker picks tasks up in a
# few milliseconds, and the growth from there is what tuning the slots is about.
SCHEDULE_TO_START_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def worker_runtime(metrics_address: str) -> Runtime | None:
    """A Temporal runtime serving Prometheus metrics on ``metrics_address`` (host:port), or
    None when it is empty. The worker's client must be created with it: only workers of a
    client on this runtime report through the endpoint."""
    if not metrics_address:
        return None
    try:
        runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(
            bind_address=metrics_address,
            # Prometheus conventions: counters end in _total, durations are seconds named so.
            counters_total_suffix=True, unit_suffix=True, durations_as_seconds=True,
            histogram_bucket_overrides={
                STAGE_DURATION: STAGE_BUCKETS,
                "workflow_task_schedule_to_start_latency": SCHEDULE_TO_START_BUCKETS,
                "activity_schedule_to_start_latency": SCHEDULE_TO_START_BUCKETS,
            },
        )))
    except ValueError as err:  # the SDK's words for a taken port or a malformed address
        raise RuntimeError(
            f"the worker's metrics endpoint cannot listen on {metrics_address} ({err}): is another worker or "
            "`make run` using it? Give each worker its own ORDERFLOW_WORKER_METRICS_ADDRESS (host:port), "
            "or set it empty to run without the endpoint") from err
    alerts = runtime.metric_meter.create_counter(ALERTS_RAISED, "Escalations raised, by kind")
    for kind in AlertKind:
        alerts.add(0, {"kind": kind.value})
    return runtime


def _meter() -> MetricMeter | None:
    if activity.in_activity():
        return activity.metric_meter()
    if workflow.in_workflow():
        return workflow.metric_meter()
    return None


def _count(name: str, description: str, attributes: Mapping[str, str]) -> None:
    if (meter := _meter()) is not None:
        meter.create_counter(name, description).add(1, attributes)


def count_alert(kind: AlertKind | str) -> None:
    """One escalation raised: call it from the activity (or workflow) that raises the alert,
    once per alert actually created (not again on a retry that finds it recorded)."""
    _count(ALERTS_RAISED, "Escalations raised, by kind", {"kind": str(kind)})


def record_status_change(status: OrderStatus, previous_status: str, previous_at: datetime, at: datetime) -> None:
    """A status change reached the read model: count it, and how long the order spent in the
    status it leaves."""
    meter = _meter()
    if meter is None:
        return
    meter.create_counter(STATUS_CHANGES, "Order status changes published, by new status").add(
        1, {"status": status.value})
    # Clocks of the API and the worker may differ a little: never a negative stage.
    seconds = max((at - previous_at) / timedelta(seconds=1), 0.0)
    meter.create_histogram_float(
        STAGE_DURATION, "Time an order spent in a status before the next one", "seconds",
    ).record(seconds, {"stage": previous_status, "next_status": status.value})
