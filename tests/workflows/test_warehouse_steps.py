"""The pick list and packing plan steps: a cancel (API or Temporal) while a planner runs still
compensates; a planner that keeps failing is noted and the order goes on."""

import asyncio

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError

from domain.enums import OrderStatus
from domain.models import CancelRequest, StepConfirmation
from domain.warehouse import PickListSummary, WarehouseRequest
from tests.workflows.conftest import gated, wait_for_status
from tests.workflows.test_cancellation import _assert_compensated_once
from workflows.order import OrderWorkflow


@pytest.mark.parametrize("activity_name, status", [
    ("create_pick_list", OrderStatus.PICKING),
    ("plan_packing", OrderStatus.PACKING),
])
@pytest.mark.parametrize("how", ["update", "temporal-cancel"])
async def test_cancel_while_a_planner_runs_compensates(make_harness, activity_name, status, how) -> None:
    started, release, wrap = gated(activity_name)
    async with make_harness(replace={activity_name: wrap}) as h:
        handle = await h.start()
        if activity_name == "plan_packing":
            await wait_for_status(handle, OrderStatus.PICKING)
            await handle.execute_update(OrderWorkflow.confirm_picked, StepConfirmation())
        await asyncio.wait_for(started.wait(), 20)
        assert (await handle.query(OrderWorkflow.view)).status == status
        if how == "update":
            cancel = asyncio.create_task(handle.execute_update(OrderWorkflow.cancel_order, CancelRequest()))
            await asyncio.sleep(0.3)
            release.set()
            assert (await cancel).status == OrderStatus.CANCELLED
            await handle.result()
        else:
            await handle.cancel()
            await asyncio.sleep(0.3)
            release.set()
            with pytest.raises(WorkflowFailureError):
                await handle.result()
        order_id = handle.id.removeprefix("order-")
    await _assert_compensated_once(h, order_id, booked=False)


async def test_a_failing_pick_list_planner_is_noted_and_the_order_goes_on(make_harness) -> None:
    def wrap(_real):
        @activity.defn(name="create_pick_list")
        async def broken(request: WarehouseRequest) -> PickListSummary:
            raise RuntimeError("planner bug")
        return broken

    async with make_harness(replace={"create_pick_list": wrap}) as h:
        handle = await h.start()
        await handle.execute_update(OrderWorkflow.confirm_picked, StepConfirmation())
        view = await wait_for_status(handle, OrderStatus.PACKING, timeout=60)
        assert any("no pick list" in e.message for e in view.timeline)
