"""``python -m scripts.prepare_temporal`` against the real dev server: a namespace that does not
exist is registered with the retention and every search attribute, a second run changes
nothing, and the check-only mode (Temporal Cloud) refuses a namespace that lacks what the
order workflow upserts, naming it."""

import socket
import uuid
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from scripts.prepare_temporal import NamespaceNotReady, ensure_namespace, prepare
from settings import Settings

pytestmark = pytest.mark.integration


def _settings(env: WorkflowEnvironment, namespace: str, **overrides: object) -> Settings:
    return Settings(temporal_address=env.client.service_client.config.target_host, temporal_namespace=namespace,
                    _env_file=None, **overrides)  # type: ignore[call-arg]


def _namespace() -> str:
    return f"orderflow-test-{uuid.uuid4().hex[:10]}"


async def _attributes(client: Client, namespace: str) -> dict[str, str]:
    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    return {name: IndexedValueType.Name(kind) for name, kind in listed.custom_attributes.items()}


async def test_a_missing_namespace_is_registered_with_retention_and_search_attributes(
        dev_server_env: WorkflowEnvironment) -> None:
    namespace = _namespace()
    settings = _settings(dev_server_env, namespace, namespace_retention_days=7)

    await prepare(settings, wait_seconds=60)
    await prepare(settings, wait_seconds=60)  # idempotent: every deploy runs it

    client = dev_server_env.client
    described = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    assert described.config.workflow_execution_retention_ttl.ToTimedelta() == timedelta(days=7)
    attributes = await _attributes(client, namespace)
    assert {name: attributes.get(name) for name in ("OrderStatus", "Channel", "CustomerId", "NeedsAttention")} == {
        "OrderStatus": "INDEXED_VALUE_TYPE_KEYWORD", "Channel": "INDEXED_VALUE_TYPE_KEYWORD",
        "CustomerId": "INDEXED_VALUE_TYPE_KEYWORD", "NeedsAttention": "INDEXED_VALUE_TYPE_BOOL"}


async def test_check_only_refuses_a_namespace_without_the_search_attributes(
        dev_server_env: WorkflowEnvironment) -> None:
    namespace = _namespace()
    managed = _settings(dev_server_env, namespace)
    assert await ensure_namespace(dev_server_env.client, managed) is True
    assert await ensure_namespace(dev_server_env.client, managed) is False

    with pytest.raises(NamespaceNotReady) as refused:
        await prepare(_settings(dev_server_env, namespace, temporal_manage_namespace=False), wait_seconds=30)
    message = str(refused.value)
    for name in ("OrderStatus", "Channel", "CustomerId", "NeedsAttention"):
        assert name in message
    assert "tcld" in message
    assert await _attributes(dev_server_env.client, namespace) == {}  # checked, not changed

    await prepare(managed, wait_seconds=60)
    await prepare(_settings(dev_server_env, namespace, temporal_manage_namespace=False), wait_seconds=30)


async def test_check_only_names_a_namespace_that_does_not_exist(dev_server_env: WorkflowEnvironment) -> None:
    namespace = _namespace()
    with pytest.raises(NamespaceNotReady, match=f"namespace '{namespace}' does not exist"):
        await prepare(_settings(dev_server_env, namespace, temporal_manage_namespace=False), wait_seconds=3)
    with pytest.raises(RPCError) as lookup:  # checked, not created
        await dev_server_env.client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    assert lookup.value.status == RPCStatusCode.NOT_FOUND


async def test_an_unreachable_frontend_fails_after_the_wait() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(temporal_address=f"127.0.0.1:{port}", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(RuntimeError, match="connect"):
        await prepare(settings, wait_seconds=1)
