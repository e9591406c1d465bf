"""The pick list and packing plan steps: a planner that keeps failing is noted and the order
goes on. (A cancel while a planner runs is tested with the other in-flight activities in
test_cancellation.py.)"""

from temporalio import activity

from domain.enums import OrderStatus
from domain.models import StepConfirmation
from domain.warehouse import PickListSummary, WarehouseRequest
from tests.workflows.conftest import wait_for_status
from workflows.order import OrderWorkflow


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
