"""OpenTelemetry tracing for the API and the worker, off unless ``otlp_endpoint`` is set.

When on, one trace follows an order from the HTTP request (a server span per request, from
opentelemetry-instrumentation-fastapi) through ``start_workflow`` into the workflow and each
of its activities (temporalio's ``TracingInterceptor``, on every client and so on every worker
built from one: ``temporal_client.client_interceptors``), and spans go to the OTLP/gRPC
collector at ``otlp_endpoint``. Log lines written inside a span carry its ``trace_id`` and
``span_id`` (``logs.py``). When off, no tracer provider is set up, no interceptor is added and
the app is not instrumented, so tracing costs nothing.
"""

from typing import TYPE_CHECKING

from settings import Settings

if TYPE_CHECKING:  # OpenTelemetry's SDK is loaded only by processes that trace
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider

# Health checks and scrapes every few seconds would bury the orders' traces.
EXCLUDED_URLS = "/healthz,/metrics"


def tracing_enabled(settings: Settings) -> bool:
    return bool(settings.otlp_endpoint)


def configure_tracing(settings: Settings, service_name: str) -> "TracerProvider | None":
    """The process's tracer provider, exporting to ``otlp_endpoint``; None when tracing is off.

    A provider of the OpenTelemetry SDK that is already installed (by ``opentelemetry-instrument``
    or by a test with an in-memory exporter) is kept: OpenTelemetry allows one per process.
    """
    if not tracing_enabled(settings):
        return None
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    # http://host:4317 speaks plain gRPC, https:// TLS (the exporter decides by the scheme).
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint)))
    trace.set_tracer_provider(provider)
    return provider


def instrument_api(app: "FastAPI", settings: Settings) -> None:
    """A server span around every request (but health checks and scrapes) when tracing is on."""
    if not tracing_enabled(settings):
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # Without the ASGI receive/send sub-spans: two more spans per request that say little.
    FastAPIInstrumentor.instrument_app(app, excluded_urls=EXCLUDED_URLS, exclude_spans=["receive", "send"])
