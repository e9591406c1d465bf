"""How every Orderflow process talks to Temporal: one data converter (pydantic JSON, and the
payload codec of the operations issue once it is configured), one set of client interceptors,
one ``connect``. Worker, API, ``make run``, benchmarks and tests all go through here, so a
payload written by one is always readable by the others."""

from collections.abc import Sequence
from typing import Any

from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from settings import Settings


def data_converter(settings: Settings) -> DataConverter:
    """The converter for every client, worker, replayer and test environment."""
    return pydantic_data_converter


def client_interceptors(settings: Settings) -> Sequence[Interceptor]:
    """Interceptors every client (and so every worker built from it) carries."""
    return ()


async def connect(settings: Settings, address: str | None = None, **kwargs: Any) -> Client:
    """A client for ``address`` (default: the configured frontend) with the shared converter."""
    return await Client.connect(
        address or settings.temporal_address, namespace=settings.temporal_namespace,
        data_converter=data_converter(settings), interceptors=client_interceptors(settings), **kwargs)
