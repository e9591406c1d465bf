"""The API in process: the app's own lifespan (engine, dev keys, startup sweep) with the
time-skipping server's client injected, a worker with the real activities on a unique task
queue, and an httpx client speaking ASGI to the app."""

import asyncio
import uuid
from datetime import timedelta
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy import select
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.main import create_app
from settings import Settings
from activities.adapters.temporal_replenishment import replenishment_workflow_id
from storage.models import Order, Product
from tests.factories import order_payload, seed
from worker import WORKFLOWS, build_activities

CHANNEL = {"X-API-Key": "channel-dev-key"}
WAREHOUSE = {"X-API-Key": "warehouse-dev-key"}
CARRIER = {"X-API-Key": "carrier-dev-key"}
OPS = {"X-API-Key": "ops-dev-key"}


class Api:
    """The app under test and helpers to drive it."""

    def __init__(self, http: httpx.AsyncClient, app: FastAPI, settings: Settings,
                 sessions: async_sessionmaker[AsyncSession], temporal: Client) -> None:
        self.http = http
        self.app = app
        self.settings = settings
        self.sessions = sessions
        self.temporal = temporal

    async def place(self, headers: dict[str, str] = CHANNEL, *, params: dict[str, str] | None = None,
                    idempotency_key: str | None = None, **overrides: Any) -> httpx.Response:
        if idempotency_key is not None:
            headers = {**headers, "Idempotency-Key": idempotency_key}
        return await self.http.post("/orders", json=order_payload(**overrides), headers=headers, params=params)

    async def placed(self, **overrides: Any) -> str:
        response = await self.place(**overrides)
        assert response.status_code == 201, response.text
        return response.json()["order_id"]

    async def wait_for_status(self, order_id: str, *statuses: str, headers: dict[str, str] = OPS,
                              timeout: float = 20) -> dict[str, Any]:
        return await self.wait_for(f"/orders/{order_id}", *statuses, headers=headers, timeout=timeout)

    async def wait_listed(self, params: dict[str, str], order_id: str, timeout: float = 20) -> None:
        """Poll GET /orders?params until it lists ``order_id`` (the list reads the read model)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            response = await self.http.get("/orders", params=params, headers=OPS)
            assert response.status_code == 200, response.text
            if order_id in [o["order_id"] for o in response.json()["items"]]:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"GET /orders?{params} never listed {order_id}")
            await asyncio.sleep(0.05)

    async def wait_for(self, path: str, *statuses: str, headers: dict[str, str] = OPS,
                       timeout: float = 20) -> dict[str, Any]:
        """Poll GET ``path`` until its ``status`` is one of ``statuses`` (test code only: the
        product never polls)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            response = await self.http.get(path, headers=headers)
            assert response.status_code == 200, response.text
            body = response.json()
            if body["status"] in statuses:
                return body
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{path} stayed {body['status']}, expected {statuses}")
            await asyncio.sleep(0.05)


@pytest.fixture
async def api_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"task_queue": f"api-{uuid.uuid4().hex[:8]}"})


@pytest.fixture
async def api(
    time_skipping_env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession], api_settings: Settings
) -> AsyncIterator[Api]:
    await seed(sessions)
    # Activities still running when a test ends get time to finish: cancelled half-way, one
    # could leave its SQLite write lock behind and stall the next writer for the busy timeout.
    worker = Worker(time_skipping_env.client, task_queue=api_settings.task_queue, workflows=list(WORKFLOWS),
                    activities=build_activities(api_settings, sessions, time_skipping_env.client),
                    graceful_shutdown_timeout=timedelta(seconds=10))
    app = create_app(api_settings, temporal=time_skipping_env.client, configure_logs=False)
    async with worker, app.router.lifespan_context(app):
        await app.state.startup_sweep
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url="http://orderflow.test") as http:
                yield Api(http, app, api_settings, sessions, time_skipping_env.client)
        finally:
            await _terminate_orders(time_skipping_env.client, sessions)


async def _terminate_orders(client: Client, sessions: async_sessionmaker[AsyncSession]) -> None:
    """Leave the shared time-skipping server as found: a workflow left with tasks that no
    worker will pick up holds its clock, and later tests waiting for a timer would hang."""
    async with sessions() as session:
        order_ids = (await session.execute(select(Order.id))).scalars().all()
        skus = (await session.execute(select(Product.sku))).scalars().all()
    # Replenishment workflows are one per SKU for the whole server: one left running, bound to
    # this test's task queue, would swallow the next test's demand.
    workflow_ids = [f"order-{order_id}" for order_id in order_ids] + [replenishment_workflow_id(s) for s in skus]
    for workflow_id in workflow_ids:
        try:
            await client.get_workflow_handle(workflow_id).terminate(reason="test finished")
        except RPCError:
            pass  # never started, or already closed
