"""Prepare the Temporal namespace Orderflow runs in, before its workers and API start:
``python -m scripts.prepare_temporal`` (docker-compose.yml runs it once as ``temporal-setup``).

Against a self-hosted cluster (``temporal_manage_namespace``, the default) it waits for the
frontend, registers the namespace when it is missing (a fresh ``temporalio/server`` has only
its system namespace), registers the search attributes operations filter orders by and sets
the retention, then waits until the frontend lists the attributes, so that the first order's
upserts find them. Every step is idempotent: it runs on every deploy, and the worker repeats
the last two at its start.

With ``temporal_manage_namespace=false`` (Temporal Cloud, where namespaces and search
attributes are managed with tcld or in the Cloud UI) it changes nothing: it checks that the
namespace and every search attribute are there, with the right type, and names what is
missing. Exit status 0 when the namespace is ready, 1 when it is not.
"""

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

import temporal_client
from logs import configure_logging, get_logger
from settings import Settings, get_settings
from worker import register_search_attributes, set_retention
from workflows import search_attributes

T = TypeVar("T")
log = get_logger(__name__)

# What a frontend that is still starting, or a namespace registered a moment ago that its
# caches do not know yet, answers: worth another try until the deadline.
TRANSIENT = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.NOT_FOUND, RPCStatusCode.DEADLINE_EXCEEDED,
             RPCStatusCode.RESOURCE_EXHAUSTED}
RETRY_PAUSE_SECONDS = 2.0


class NamespaceNotReady(Exception):
    """The namespace or its search attributes are missing where this command may not add them."""


class NotYet(Exception):
    """A step saw the state it waits for not reached yet."""


def wanted_attributes() -> dict[str, "IndexedValueType.ValueType"]:
    return {key.name: IndexedValueType.ValueType(int(key.indexed_value_type)) for key in search_attributes.ALL}


async def until_ready(what: str, step: Callable[[], Awaitable[T]], deadline: float) -> T:
    """``step()``, again after a pause while it fails in a way that passes, until ``deadline``
    (a ``time.monotonic()`` value); then its last error."""
    while True:
        try:
            return await step()
        except RPCError as err:
            if err.status not in TRANSIENT or time.monotonic() >= deadline:
                raise
            log.info("waiting for Temporal", step=what, status=err.status.name if err.status else None,
                     message=err.message)
        except (RuntimeError, NotYet) as err:  # RuntimeError: the client could not connect at all
            if time.monotonic() >= deadline:
                raise
            log.info("waiting for Temporal", step=what, error=str(err))
        await asyncio.sleep(RETRY_PAUSE_SECONDS)


async def ensure_namespace(client: Client, settings: Settings) -> bool:
    """Register the namespace unless it exists; True when this call registered it."""
    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=settings.temporal_namespace))
        return False
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
    retention = Duration(seconds=int(timedelta(days=settings.namespace_retention_days).total_seconds()))
    try:
        await client.workflow_service.register_namespace(RegisterNamespaceRequest(
            namespace=settings.temporal_namespace, workflow_execution_retention_period=retention,
            description="Orderflow: one workflow per customer order"))
    except RPCError as err:
        if err.status != RPCStatusCode.ALREADY_EXISTS:  # another setup run was quicker
            raise
        return False
    return True


async def missing_attributes(client: Client, namespace: str) -> list[str]:
    """The search attributes that are not registered, or registered with another type."""
    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    return sorted(f"{name} ({IndexedValueType.Name(kind)})" for name, kind in wanted_attributes().items()
                  if listed.custom_attributes.get(name) != kind)


async def prepare(settings: Settings, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    namespace = settings.temporal_namespace
    client = await until_ready("connect", lambda: temporal_client.connect(settings), deadline)

    if not settings.temporal_manage_namespace:
        # Not found is waited out too: a namespace created a moment ago is not known everywhere yet.
        try:
            await until_ready("namespace", lambda: client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=namespace)), deadline)
            missing = await until_ready("search attributes", lambda: missing_attributes(client, namespace), deadline)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise NamespaceNotReady(f"namespace {namespace!r} does not exist; create it (Temporal Cloud: in the "
                                        "Cloud UI or with tcld namespace create)") from None
            raise
        if missing:
            raise NamespaceNotReady(
                f"namespace {namespace!r} lacks the search attributes {', '.join(missing)}; add them (Temporal "
                f"Cloud: tcld namespace search-attributes add --namespace {namespace} --search-attribute "
                "'OrderStatus=Keyword' ..., one --search-attribute per attribute), or set "
                "ORDERFLOW_TEMPORAL_MANAGE_NAMESPACE=true to let Orderflow add them")
        log.info("Temporal namespace ready (checked only)", namespace=namespace)
        return

    registered = await until_ready("register namespace", lambda: ensure_namespace(client, settings), deadline)
    await until_ready("search attributes", lambda: register_search_attributes(client, namespace), deadline)
    await until_ready("retention", lambda: set_retention(client, namespace, settings.namespace_retention_days),
                      deadline)

    async def attributes_listed() -> None:
        if missing := await missing_attributes(client, namespace):
            # A fresh registration reaches the frontend's cache shortly.
            raise NotYet(f"not listed yet: {', '.join(missing)}")

    await until_ready("search attributes listed", attributes_listed, deadline)
    log.info("Temporal namespace ready", namespace=namespace, registered=registered,
             retention_days=settings.namespace_retention_days, search_attributes=sorted(wanted_attributes()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wait", type=float, default=180.0, metavar="SECONDS",
                        help="how long to wait for the Temporal frontend and the namespace (default: 180)")
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    try:
        asyncio.run(prepare(settings, args.wait))
    except NamespaceNotReady as err:
        log.error(str(err))
        return 1
    except (RPCError, RuntimeError, NotYet) as err:
        log.error("Temporal namespace not prepared", address=settings.temporal_address,
                  namespace=settings.temporal_namespace, error=str(err))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
