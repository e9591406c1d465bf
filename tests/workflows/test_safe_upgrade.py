"""Changing the order workflow while orders are in flight (README: Changing the order workflow
safely), step by step on a real worker:

1. A change that adds a step without a patch breaks the orders already waiting: replaying an
   in-flight history fails with a nondeterminism error (the replay tests catch this in CI).
2. The same change behind ``workflow.patched`` replays the in-flight history (the old path),
   and a worker running it sends new orders down the new path.
3. Once every order started before the patch has closed, ``workflow.deprecate_patch`` keeps
   the patched histories replaying, and the old branch can go.
"""

import uuid
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.common import WorkflowIDReusePolicy
from temporalio.worker import Replayer, Worker

import temporal_client
from activities.warehouse import WarehouseActivities
from domain.enums import OrderStatus
from domain.models import OrderWorkflowInput, StepConfirmation
from domain.warehouse import WarehouseRequest
from tests.factories import place_order, seed
from tests.workflows.conftest import wait_for_status
from worker import WORKFLOWS, build_activities
from workflows.order import OrderWorkflow

PATCH = "pick-list-checked-twice"


class _CheckPickListAgain(OrderWorkflow):
    """The change under test: after the pick list is made, ask for it once more (a real
    activity: a new command in the history)."""

    patched: bool = True

    async def _plan_warehouse_step(self, activity: Any, step: str) -> None:
        await super()._plan_warehouse_step(activity, step)
        if step == "pick-list" and self._take_new_path():
            await self._step(WarehouseActivities.create_pick_list, WarehouseRequest(
                order_id=self._order_id, idempotency_key=self._key("pick-list")))

    def _take_new_path(self) -> bool:
        raise NotImplementedError


@workflow.defn(name="OrderWorkflow", sandboxed=False)  # defined in a test module
class UnpatchedChange(_CheckPickListAgain):
    @workflow.run
    async def run(self, input: OrderWorkflowInput) -> Any:
        return await super().run(input)

    def _take_new_path(self) -> bool:
        return True


@workflow.defn(name="OrderWorkflow", sandboxed=False)  # defined in a test module
class PatchedChange(_CheckPickListAgain):
    @workflow.run
    async def run(self, input: OrderWorkflowInput) -> Any:
        return await super().run(input)

    def _take_new_path(self) -> bool:
        return workflow.patched(PATCH)


@workflow.defn(name="OrderWorkflow", sandboxed=False)  # defined in a test module
class PatchDeprecated(_CheckPickListAgain):
    @workflow.run
    async def run(self, input: OrderWorkflowInput) -> Any:
        return await super().run(input)

    def _take_new_path(self) -> bool:
        workflow.deprecate_patch(PATCH)
        return True


def _others() -> list[type]:
    return [w for w in WORKFLOWS if w is not OrderWorkflow]


async def _replays(history: WorkflowHistory, order_workflow: type, settings) -> bool:
    replayer = Replayer(workflows=[order_workflow, *_others()], data_converter=temporal_client.data_converter(settings))
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    return result.replay_failure is None


def _create_pick_list_calls(history: WorkflowHistory) -> int:
    return sum(1 for e in history.events if e.HasField("activity_task_scheduled_event_attributes")
               and e.activity_task_scheduled_event_attributes.activity_type.name == "create_pick_list")


async def test_a_patched_change_keeps_orders_in_flight_working(time_skipping_env, sessions, settings) -> None:
    await seed(sessions)
    client = time_skipping_env.client
    task_queue = f"upgrade-{uuid.uuid4().hex[:8]}"
    local = settings.model_copy(update={"task_queue": task_queue})
    activities = build_activities(local, sessions)

    async def start() -> Any:
        order_id = await place_order(sessions, external_reference=f"UPGRADE-{uuid.uuid4().hex[:6]}")
        return await client.start_workflow(OrderWorkflow.run, OrderWorkflowInput(order_id=order_id),
                                           id=f"order-{order_id}", task_queue=task_queue,
                                           id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)

    # Today's code: an order is picked and waits for the packer.
    async with Worker(client, task_queue=task_queue, workflows=list(WORKFLOWS), activities=activities):
        old = await start()
        await wait_for_status(old, OrderStatus.PICKING)
        await old.execute_update(OrderWorkflow.confirm_picked, StepConfirmation())
        await wait_for_status(old, OrderStatus.PACKING)
    in_flight = await old.fetch_history()

    # 1. Without a patch the waiting order cannot be replayed by the new code.
    assert not await _replays(in_flight, UnpatchedChange, settings)
    # 2. With it, it can (the old path: no second call); and a worker running the patched code
    # sends a new order down the new path, recording the patch marker.
    assert await _replays(in_flight, PatchedChange, settings)
    async with Worker(client, task_queue=task_queue, workflows=[PatchedChange, *_others()], activities=activities):
        new = await start()
        await wait_for_status(new, OrderStatus.PICKING)
        await new.execute_update(OrderWorkflow.confirm_picked, StepConfirmation())
        await new.execute_update(OrderWorkflow.confirm_packed, StepConfirmation())
        await wait_for_status(new, OrderStatus.READY_TO_SHIP)
        new_history = await new.fetch_history()
    assert (_create_pick_list_calls(in_flight), _create_pick_list_calls(new_history)) == (1, 2)

    # 3. Once no order from before the patch is open, the patch is deprecated: histories
    # written with the patch replay; one from before it would not (hence the wait).
    assert await _replays(new_history, PatchDeprecated, settings)
    assert not await _replays(in_flight, PatchDeprecated, settings)
    for handle in (old, new):
        await handle.terminate("test over")


@pytest.mark.parametrize("order_workflow", [OrderWorkflow])
async def test_todays_workflow_replays_orders_waiting_in_every_status(order_workflow, settings) -> None:
    """The committed histories of orders parked in each waiting status (captured while they
    waited) replay with today's code; tests/replay runs every committed history, this names
    the waiting ones so a missing status shows."""
    from pathlib import Path

    histories = sorted((Path(__file__).parents[1] / "replay" / "histories").glob("*_order_waiting_*.json"))
    waiting = {p.stem.split("_order_waiting_", 1)[1] for p in histories}
    assert waiting >= {"awaiting_customer", "awaiting_stock", "picking", "packing", "ready_to_ship", "shipped",
                       "in_transit", "delivered", "feedback_requested"}
    for path in histories:
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        assert await _replays(history, order_workflow, settings), path.name
