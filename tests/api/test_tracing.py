"""OpenTelemetry tracing, on: one trace from ``POST /orders`` through the order workflow to
each of its activities, log lines inside a span carry its trace id, and a history written
with tracing on replays with tracing on or off. Off (the default): no interceptor, no
instrumentation.

The spans go to an in-memory exporter of the OpenTelemetry SDK; ``configure_tracing`` keeps
that provider (as it would keep one from ``opentelemetry-instrument``) instead of exporting
to the configured OTLP endpoint, where nothing listens."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

import temporal_client
from api.main import create_app
from logs import add_trace_context, shared_processors
from settings import Settings
from tests.api.conftest import CHANNEL, OPS, Api, _terminate_orders
from tests.factories import order_payload, seed
from tracing import configure_tracing
from worker import WORKFLOWS, build_activities, build_worker

# Nothing listens here: spans go to the in-memory exporter the fixture installs first.
UNUSED_COLLECTOR = "http://127.0.0.1:1"


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # one provider per process: install it once
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    yield exporter
    processor.shutdown()


@pytest.fixture
def traced_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"task_queue": f"traced-{uuid.uuid4().hex[:8]}",
                                       "otlp_endpoint": UNUSED_COLLECTOR})


@pytest.fixture
async def traced_api(time_skipping_env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession],
                     traced_settings: Settings, spans: InMemorySpanExporter) -> AsyncIterator[Api]:
    """The API and a worker as the processes build them, with tracing on: the client carries
    the interceptors of ``temporal_client``; the worker gets them from the client."""
    assert configure_tracing(traced_settings, "orderflow-test") is trace.get_tracer_provider()
    await seed(sessions)
    config = time_skipping_env.client.config()
    config["interceptors"] = temporal_client.client_interceptors(traced_settings)
    client = Client(**config)
    # Built as worker.py builds it: the tracing interceptor comes from the client alone.
    worker = build_worker(client, traced_settings, build_activities(traced_settings, sessions, client))
    app = create_app(traced_settings, temporal=client, configure_logs=False)
    async with worker, app.router.lifespan_context(app):
        await app.state.startup_sweep
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url="http://orderflow.test") as http:
                yield Api(http, app, traced_settings, sessions, client)
        finally:
            await _terminate_orders(client, sessions)


def _named(spans: list[ReadableSpan], prefix: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith(prefix)]


async def test_one_trace_from_the_http_request_through_the_workflow_to_each_activity(
    traced_api: Api, spans: InMemorySpanExporter
) -> None:
    spans.clear()
    assert add_trace_context in shared_processors(), "every process's log lines go through it (logs.py)"
    with structlog.testing.capture_logs(
            processors=[structlog.contextvars.merge_contextvars, add_trace_context]) as logs:
        response = await traced_api.http.post("/orders", json=order_payload(), headers=CHANNEL)
        assert response.status_code == 201, response.text
        order_id = response.json()["order_id"]
        await traced_api.wait_for_status(order_id, "PICKING")
        # The changes up to PICKING are published as the order starts to wait for the picker.
        for _ in range(200):
            if any(s.name.startswith("RunActivity:publish_status_change") for s in spans.get_finished_spans()):
                break
            await asyncio.sleep(0.05)

    finished = list(spans.get_finished_spans())
    (request,) = [s for s in finished if s.kind == SpanKind.SERVER and s.name == "POST /orders"]
    assert request.parent is None, "the HTTP request starts the trace"
    trace_id = request.context.trace_id
    in_trace = [s for s in finished if s.context.trace_id == trace_id]
    names = {s.name for s in in_trace}
    assert {"StartWorkflow:OrderWorkflow", "RunWorkflow:OrderWorkflow"} <= names
    ran = {s.name.removeprefix("RunActivity:") for s in _named(in_trace, "RunActivity:")}
    # Every activity the order ran on its way to PICKING, each under the one trace.
    assert {"authorize_payment", "reserve_order_stock"} <= ran, ran
    assert ran & {"publish_status_change", "publish_status_changes"}, ran  # one change, or several together
    scheduled = {s.name.removeprefix("StartActivity:") for s in _named(in_trace, "StartActivity:")}
    assert ran <= scheduled
    # No span of this order's workflow or activities ended up in a trace of its own; its
    # queries (the GET /orders/{id} polls above) are in the traces of those requests.
    of_workflow = [s for s in finished if (s.attributes or {}).get("temporalWorkflowID") == f"order-{order_id}"]
    queries = [s for s in of_workflow if "Query" in s.name]
    assert of_workflow and all(s.context.trace_id == trace_id for s in of_workflow if s not in queries)
    reads = {s.context.trace_id for s in finished if s.kind == SpanKind.SERVER and s.name == "GET /orders/{order_id}"}
    assert queries and {s.context.trace_id for s in queries} <= reads

    # The request's log lines carry the trace (and are found from it).
    handled = [e for e in logs if e["event"] == "request handled" and e.get("path") == "/orders"]
    assert handled and all(e["trace_id"] == format(trace_id, "032x") for e in handled), handled
    assert all(len(e["span_id"]) == 16 for e in handled)


async def test_a_history_written_with_tracing_replays_with_it_on_and_off(
    traced_api: Api, spans: InMemorySpanExporter
) -> None:
    order_id = await traced_api.placed()
    await traced_api.wait_for_status(order_id, "PICKING")
    history = await traced_api.temporal.get_workflow_handle(f"order-{order_id}").fetch_history()
    header_keys = {key for event in history.events
                   if event.HasField("activity_task_scheduled_event_attributes")
                   for key in event.activity_task_scheduled_event_attributes.header.fields}
    assert "_tracer-data" in header_keys, "the trace context travels in the activity headers"

    converter = traced_api.temporal.data_converter
    spans.clear()
    for interceptors in (temporal_client.client_interceptors(traced_api.settings), ()):
        replayer = Replayer(workflows=list(WORKFLOWS), data_converter=converter, interceptors=interceptors)
        result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
        assert result.replay_failure is None
    assert _named(list(spans.get_finished_spans()), "RunWorkflow:") == [], "a replay makes no spans"


def test_tracing_is_off_by_default(settings: Settings) -> None:
    assert settings.otlp_endpoint is None
    assert temporal_client.client_interceptors(settings) == ()
    assert configure_tracing(settings, "orderflow-test") is None
    app = create_app(settings, configure_logs=False)
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)
    assert add_trace_context(None, "info", {"event": "no span"}) == {"event": "no span"}
