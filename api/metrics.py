"""The API's Prometheus metrics at ``GET /metrics``: every request counted and timed by route
template (``/orders/{order_id}``, never the raw path, so no order id becomes a label) and
status code, and the number of orders in each status, read from the read model at scrape time.

Each app has its own registry (tests build many apps in one process). ``/metrics`` is open
unless ``api_metrics_token`` is set: then Prometheus sends ``Authorization: Bearer <token>``
(``authorization: {credentials: ...}`` in its scrape config). The figures hold no personal data.
"""

import asyncio
import hmac
import time
from collections.abc import Iterable, Mapping

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError
from domain.enums import OrderStatus
from logs import get_logger
from storage.models import Order

log = get_logger(__name__)

# The *_created series (a timestamp per label set) double the output and no panel uses them.
disable_created_metrics()

COUNT_TIMEOUT_SECONDS = 3.0
UNMATCHED_ROUTE = "unmatched"  # a path no route serves (404): one label value, not one per path
# Requests are fast (a database read, a Temporal update); the slow end is a workflow update
# that waits for the worker.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class OrdersByStatus(Collector):
    """``orderflow_orders{status}`` and ``orderflow_orders_needing_attention``: the counts the
    ``/metrics`` handler read just before rendering (collectors are synchronous, the database
    is not). Every status is present, at 0 when no order has it."""

    def __init__(self) -> None:
        self.counts: Mapping[tuple[str, bool], int] | None = None

    def collect(self) -> Iterable[Metric]:
        if self.counts is None:  # the read failed: no figure rather than a wrong one
            return
        by_status = GaugeMetricFamily("orderflow_orders", "Orders in the read model, by current status",
                                      labels=["status"])
        totals = {status.value: 0 for status in OrderStatus}
        for (status, _), count in self.counts.items():
            totals[status] = totals.get(status, 0) + count
        for status, count in sorted(totals.items()):
            by_status.add_metric([status], count)
        yield by_status
        yield GaugeMetricFamily("orderflow_orders_needing_attention",
                                "Orders with an open escalation (NeedsAttention)",
                                value=sum(c for (_, attention), c in self.counts.items() if attention))


async def count_orders(sessions: async_sessionmaker[AsyncSession]) -> dict[tuple[str, bool], int]:
    """One grouped count over the indexed status column."""
    async with asyncio.timeout(COUNT_TIMEOUT_SECONDS), sessions() as session:
        rows = await session.execute(
            select(Order.status, Order.needs_attention, func.count()).group_by(Order.status, Order.needs_attention))
        return {(status, bool(attention)): count for status, attention, count in rows.all()}


class ApiMetrics:
    """The registry and the request metrics of one app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("orderflow_api_requests", "HTTP requests handled, by route template and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("orderflow_api_request_duration_seconds", "HTTP request latency by route template",
                                 ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.orders = OrdersByStatus()
        self.registry.register(self.orders)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class RequestMetricsMiddleware:
    """Pure ASGI: counts and times every HTTP request once the router has matched it (the
    router leaves the matched route in the scope, so its template is known afterwards)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # an exception that escapes becomes a 500 further out

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, record_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - started)


router = APIRouter(tags=["health"])


def _authorized(request: Request, token: str | None) -> bool:
    if not token:
        return True
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), token.encode())


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text format. Open unless ``api_metrics_token`` is set."""
    settings = request.app.state.settings
    token = settings.api_metrics_token.get_secret_value() if settings.api_metrics_token else None
    if not _authorized(request, token):
        raise ApiError(401, "GET /metrics needs the header 'Authorization: Bearer <token>' with the token set in "
                            "ORDERFLOW_API_METRICS_TOKEN (Prometheus: authorization.credentials in the scrape config)",
                       headers={"WWW-Authenticate": "Bearer"})
    api_metrics: ApiMetrics = request.app.state.metrics
    try:
        api_metrics.orders.counts = await count_orders(request.app.state.sessions)
    except Exception:  # noqa: BLE001 (the request figures are still worth serving)
        log.exception("counting orders by status for /metrics failed")
        api_metrics.orders.counts = None
    return Response(generate_latest(api_metrics.registry), media_type=CONTENT_TYPE_LATEST)
