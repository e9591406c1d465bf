"""An order worker on the time-skipping server, with the real activities on a test database."""

import asyncio
import typing
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from temporalio import activity
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.enums import OrderStatus
from domain.models import OrderView, OrderWorkflowInput
from settings import Settings
from activities.adapters.temporal_replenishment import replenishment_workflow_id
from storage.catalogue import DEMO_PRODUCTS
from temporalio.service import RPCError
from tests.conftest import start_time_skipping_server
from tests.factories import place_order, seed
from worker import WORKFLOWS, build_activities
from workflows.order import OrderWorkflow


async def wait_for_status(handle: WorkflowHandle[Any, Any], *statuses: OrderStatus, timeout: float = 20) -> OrderView:
    """Poll the order's query until it reaches one of ``statuses`` (test code only)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        view = await handle.query(OrderWorkflow.view)
        if view.status in statuses:
            return view
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"order stayed {view.status}, expected {statuses}")
        await asyncio.sleep(0.05)


class OrderHarness:
    def __init__(self, env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession], task_queue: str) -> None:
        self.env = env
        self.client: Client = env.client
        self.sessions = sessions
        self.task_queue = task_queue
        self.started: list[str] = []

    async def close(self) -> None:
        """Terminate whatever a test left running: on the shared time-skipping server a
        leftover workflow with a due timer and no worker stops the clock for later tests."""
        ids = self.started + [replenishment_workflow_id(sku) for sku, *_ in DEMO_PRODUCTS]
        for workflow_id in ids:
            try:
                await self.client.get_workflow_handle(workflow_id).terminate("test finished")
            except RPCError:
                pass  # already closed, or never started

    async def start(self, workflow_input: dict[str, Any] | None = None, **order: Any) -> WorkflowHandle[OrderWorkflow, Any]:
        order_id = await place_order(self.sessions, **order)
        self.started.append(f"order-{order_id}")
        return await self.client.start_workflow(
            OrderWorkflow.run, OrderWorkflowInput(order_id=order_id, **(workflow_input or {})), id=f"order-{order_id}",
            task_queue=self.task_queue, id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)


@pytest.fixture
async def make_harness(
    time_skipping_env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[Callable[..., Any]]:
    """Yields a factory: ``async with make_harness(replace={"reserve_stock": wrap}) as h``, where
    ``wrap(real_activity)`` returns the activity to register in its place."""
    await seed(sessions)

    class _Ctx:
        def __init__(self, replace: dict[str, Callable[..., Any]] | None = None, with_replenishment: bool = False,
                     own_server: bool = False) -> None:
            self.replace = replace or {}
            self.with_replenishment = with_replenishment
            # Tests whose timers must fire (env.sleep, or result() skipping to a timer) get a
            # server of their own: on the shared one, earlier tests' workflows have been seen
            # to hold the clock still and hang them.
            self.own_server = own_server
            self.env = time_skipping_env

        async def __aenter__(self) -> OrderHarness:
            if self.own_server:
                self.env = await start_time_skipping_server()
            task_queue = f"orders-{uuid.uuid4().hex[:8]}"
            local = settings.model_copy(update={"task_queue": task_queue})
            client = self.env.client if self.with_replenishment else None
            activities = [self.replace[a.__name__](a) if a.__name__ in self.replace else a
                          for a in build_activities(local, sessions, client)]
            self.worker = Worker(self.env.client, task_queue=task_queue, workflows=list(WORKFLOWS),
                                 activities=activities)
            await self.worker.__aenter__()
            self.harness = OrderHarness(self.env, sessions, task_queue)
            return self.harness

        async def __aexit__(self, *exc: object) -> None:
            await self.harness.close()
            await self.worker.__aexit__(*exc)
            if self.own_server:
                await self.env.shutdown()

    yield _Ctx


def gated(name: str) -> tuple[asyncio.Event, asyncio.Event, Callable[[Callable[..., Any]], Callable[..., Any]]]:
    """An activity wrapper that signals ``started`` and then waits for ``release`` before
    running the real activity: to act while an activity is in flight."""
    started, release = asyncio.Event(), asyncio.Event()

    def wrap(real: Callable[..., Any]) -> Callable[..., Any]:
        async def gated_activity(arg: Any) -> Any:
            started.set()
            await release.wait()
            return await real(arg)

        # The real activity's types, so the converter hands over the same pydantic models.
        hints = typing.get_type_hints(real)
        (arg_type,) = [t for n, t in hints.items() if n != "return"]
        gated_activity.__annotations__ = {"arg": arg_type, "return": hints["return"]}
        return activity.defn(name=name)(gated_activity)

    return started, release, wrap

