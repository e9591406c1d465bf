"""Tracing turned on as an operator would (``ORDERFLOW_OTLP_ENDPOINT``): the API and the worker,
as real processes, export their spans over OTLP/gRPC to a collector (here a minimal one in
the test), an order's request and its workflow's activities arrive in one trace from both
services, and the API's log line for the request carries that trace id."""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import (
    TraceServiceServicer,
    add_TraceServiceServicer_to_server,
)

from scripts.stack import Stack, running_stack
from tests.integration.test_end_to_end import new_order, place, wait_for_status

pytestmark = pytest.mark.integration

EXPORT_TIMEOUT = 30.0  # the batch processor sends every few seconds


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    trace_id: str
    name: str


@dataclass
class Collector(TraceServiceServicer):
    spans: list[ReceivedSpan] = field(default_factory=list)

    async def Export(self, request: ExportTraceServiceRequest, context: object) -> ExportTraceServiceResponse:  # noqa: N802
        for resource_spans in request.resource_spans:
            service = next(a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name")
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(ReceivedSpan(service, span.trace_id.hex(), span.name) for span in scope_spans.spans)
        return ExportTraceServiceResponse()


@pytest.fixture(scope="module")
async def collector() -> AsyncIterator[tuple[Collector, str]]:
    server = grpc.aio.server()
    received = Collector()
    add_TraceServiceServicer_to_server(received, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield received, f"http://127.0.0.1:{port}"
    await server.stop(None)


@pytest.fixture(scope="module")
async def traced_stack(tmp_path_factory: pytest.TempPathFactory,
                       collector: tuple[Collector, str]) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path_factory.mktemp("traced"), {"ORDERFLOW_OTLP_ENDPOINT": collector[1]}) as stack:
        yield stack


async def test_the_api_and_the_worker_export_one_trace_per_order(
    traced_stack: Stack, collector: tuple[Collector, str]
) -> None:
    received, _ = collector
    async with httpx.AsyncClient(base_url=traced_stack.api_url, timeout=30) as api:
        order_id = (await place(api, new_order()))["order_id"]
        await wait_for_status(api, order_id, "PICKING")

    deadline = asyncio.get_running_loop().time() + EXPORT_TIMEOUT
    while True:
        requests = [s for s in received.spans if s.service == "orderflow-api" and s.name == "POST /orders"]
        in_trace = {(s.service, s.name) for s in received.spans if requests and s.trace_id == requests[0].trace_id}
        if {("orderflow-worker", "RunActivity:authorize_payment"),
                ("orderflow-worker", "RunWorkflow:OrderWorkflow")} <= in_trace:
            break
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no trace from POST /orders to the worker's activities: {in_trace or received.spans}")
        await asyncio.sleep(0.5)
    assert len(requests) == 1
    assert ("orderflow-api", "StartWorkflow:OrderWorkflow") in in_trace
    # Health checks and scrapes are not traced.
    assert not [s for s in received.spans if s.name.startswith(("GET /healthz", "GET /metrics"))]

    log_lines = [json.loads(line) for line in traced_stack.processes.current("api").log_path.read_text().splitlines()
                 if line.startswith("{")]
    handled = [e for e in log_lines if e.get("event") == "request handled" and e.get("path") == "/orders"]
    assert [e.get("trace_id") for e in handled] == [requests[0].trace_id]
