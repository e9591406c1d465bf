"""How every Orderflow process talks to Temporal: one data converter (pydantic JSON, every
payload encrypted by the codec in ``codec.py``, failure messages too), one set of client
interceptors, one ``connect``. Worker, API, ``make run``, benchmarks and tests all go through
here, so a payload written by one is always readable by the others."""

import dataclasses
from collections.abc import Sequence
from typing import Any

from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.service import TLSConfig

from codec import codec_from_settings
from settings import Settings
from tracing import tracing_enabled


def data_converter(settings: Settings) -> DataConverter:
    """The converter for every client, worker, replayer and test environment: payloads are
    encrypted with the configured keys, and failure messages and stack traces travel as
    encoded (so encrypted) attributes instead of plain text."""
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec_from_settings(settings),
                               failure_converter_class=DefaultFailureConverterWithEncodedAttributes)


def client_interceptors(settings: Settings) -> Sequence[Interceptor]:
    """Interceptors every client (and so every worker built from it) carries: with tracing on
    (``tracing.py``), OpenTelemetry spans for starts, updates, signals, workflows and activities,
    the trace context travelling in Temporal headers."""
    if tracing_enabled(settings):
        from temporalio.contrib.opentelemetry import TracingInterceptor  # loaded only when tracing

        return (TracingInterceptor(),)
    return ()


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS to the frontend from the settings: a client certificate (mTLS) or a private CA gives
    a ``TLSConfig`` read from the PEM files; an API key or ``temporal_tls`` alone gives TLS
    with the system's roots; otherwise plain (the dev server)."""
    if settings.temporal_tls_cert is None and settings.temporal_tls_ca is None:
        return settings.temporal_tls or settings.temporal_api_key is not None
    return TLSConfig(
        server_root_ca_cert=settings.temporal_tls_ca.read_bytes() if settings.temporal_tls_ca else None,
        client_cert=settings.temporal_tls_cert.read_bytes() if settings.temporal_tls_cert else None,
        client_private_key=settings.temporal_tls_key.read_bytes() if settings.temporal_tls_key else None)


async def connect(settings: Settings, address: str | None = None, **kwargs: Any) -> Client:
    """A client for ``address`` (default: the configured frontend) with the shared converter,
    and the configured TLS and API key (a managed Temporal service)."""
    kwargs.setdefault("tls", tls_config(settings))
    if settings.temporal_api_key is not None:
        kwargs.setdefault("api_key", settings.temporal_api_key.get_secret_value())
    return await Client.connect(
        address or settings.temporal_address, namespace=settings.temporal_namespace,
        data_converter=data_converter(settings), interceptors=client_interceptors(settings), **kwargs)
