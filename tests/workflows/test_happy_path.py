from sqlalchemy import func, select

from domain.enums import OrderStatus, PaymentStatus, TrackingEventKind
from domain.models import FeedbackInput, StepConfirmation, TrackingUpdate
from storage.models import CustomerMessage, Order, PimUpdate, StockLevel
from tests.workflows.conftest import wait_for_status
from workflows.order import OrderWorkflow


async def test_card_order_runs_to_completed(make_harness) -> None:
    async with make_harness() as h:
        handle = await h.start()
        for step in (OrderWorkflow.confirm_picked, OrderWorkflow.confirm_packed, OrderWorkflow.confirm_handover):
            await handle.execute_update(step, StepConfirmation(confirmed_by="test"))
        view = await wait_for_status(handle, OrderStatus.SHIPPED)
        assert view.payment.status == PaymentStatus.CAPTURED
        tn = view.shipment.tracking_number
        await handle.execute_update(OrderWorkflow.report_tracking, TrackingUpdate(tracking_number=tn, event=TrackingEventKind.IN_TRANSIT))
        await handle.execute_update(OrderWorkflow.report_tracking, TrackingUpdate(tracking_number=tn, event=TrackingEventKind.DELIVERED))
        result = await handle.result()
    assert result.status == OrderStatus.COMPLETED
    statuses = [e.status for e in result.timeline if e.kind == "status"]
    assert statuses == [
        OrderStatus.PAYMENT_AUTHORIZED, OrderStatus.RESERVED, OrderStatus.PICKING, OrderStatus.PACKING,
        OrderStatus.READY_TO_SHIP, OrderStatus.SHIPPED, OrderStatus.IN_TRANSIT, OrderStatus.DELIVERED,
        OrderStatus.FEEDBACK_REQUESTED, OrderStatus.COMPLETED]
    async with h.sessions() as s:
        order = await s.get(Order, result.order_id)
        assert order.status == "COMPLETED"
        mug = await s.get(StockLevel, "MUG-001")
        assert (mug.on_hand, mug.reserved) == (198, 0)
        assert await s.scalar(select(func.count()).select_from(PimUpdate).where(PimUpdate.order_id == order.id)) == 10
        assert await s.scalar(select(func.count()).select_from(CustomerMessage).where(CustomerMessage.order_id == order.id)) > 0
