"""Payment declines, out-of-stock, and cancellation at every cancellable status — by the API's
update and by Temporal's own Cancel — each compensation exactly once."""

import asyncio

import pytest
from sqlalchemy import func, select
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import CancelledError

from domain.enums import OrderStatus, PaymentStatus, TimelineKind
from domain.models import CancelRequest, StepConfirmation
from storage.models import (
    CustomerMessage,
    IdempotencyRecord,
    Order,
    SandboxCarrierBooking,
    SandboxPaymentIntent,
    Shipment,
    StockLevel,
    StockMovement,
)
from tests.workflows.conftest import gated, wait_for_status
from workflows.order import OrderWorkflow


async def stock(sessions, sku: str) -> tuple[int, int]:
    async with sessions() as s:
        level = await s.get(StockLevel, sku)
        return level.on_hand, level.reserved


async def count(sessions, model, *where) -> int:
    async with sessions() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


async def test_declined_card_ends_payment_failed_reserves_nothing_and_tells_the_customer(make_harness) -> None:
    async with make_harness() as h:
        handle = await h.start(payment={"method": "card", "token": "tok_chargeDeclined"})
        result = await handle.result()
    assert result.status == OrderStatus.PAYMENT_FAILED
    assert result.timeline[-1].message == "card declined"
    assert await stock(h.sessions, "MUG-001") == (200, 0)
    assert await count(h.sessions, StockMovement, StockMovement.order_id == result.order_id) == 0
    async with h.sessions() as s:
        messages = (await s.execute(select(CustomerMessage).where(CustomerMessage.order_id == result.order_id))).scalars().all()
    assert {m.channel for m in messages} == {"email", "sms"}
    assert all("Reden: card declined" in m.body for m in messages)  # locale nl


async def test_out_of_stock_with_policy_cancel_and_nothing_left_cancels_after_voiding(make_harness) -> None:
    async with make_harness() as h:
        handle = await h.start(lines=[{"sku": "SOLDOUT-1", "quantity": 1}], backorder_policy="cancel")
        result = await handle.result()
    assert result.status == OrderStatus.CANCELLED
    assert result.cancellation_reason == "out of stock: SOLDOUT-1; nothing left to ship"
    assert result.payment.status == PaymentStatus.VOIDED


async def _assert_compensated_once(h, order_id: str, *, booked: bool, paid: bool = True) -> None:
    async with h.sessions() as s:
        order = await s.get(Order, order_id)
        assert order.status == "CANCELLED"
        intents = (await s.execute(select(SandboxPaymentIntent).where(SandboxPaymentIntent.reference == order_id))).scalars().all()
        assert [i.status for i in intents] == (["voided"] if paid else [])
        assert (await s.get(StockLevel, "MUG-001")).reserved == 0
        releases = await s.scalar(select(func.count()).select_from(StockMovement).where(
            StockMovement.order_id == order_id, StockMovement.reason == "release"))
        reserves = await s.scalar(select(func.count()).select_from(StockMovement).where(
            StockMovement.order_id == order_id, StockMovement.reason == "reserve"))
        assert releases == reserves  # released exactly what was reserved, once
        shipments = (await s.execute(select(Shipment).where(Shipment.order_id == order_id))).scalars().all()
        assert [x.status for x in shipments] == (["CANCELLED"] if booked else [])
        if booked:
            booking = await s.get(SandboxCarrierBooking, shipments[0].tracking_number)
            assert booking.status == "CANCELLED"
        cancel_messages = (await s.execute(select(CustomerMessage.channel).join(
            Order, Order.id == CustomerMessage.order_id).where(
            CustomerMessage.order_id == order_id, CustomerMessage.subject.like("%CANCELLED")))).scalars().all()
        assert sorted(cancel_messages) == ["email", "sms"]
        voids = await s.scalar(select(func.count()).select_from(IdempotencyRecord).where(
            IdempotencyRecord.key.like(f"psp:void:order-{order_id}:%")))
        assert voids == (1 if paid else 0)


@pytest.mark.parametrize("status", [OrderStatus.PICKING, OrderStatus.PACKING, OrderStatus.READY_TO_SHIP])
@pytest.mark.parametrize("how", ["update", "temporal-cancel"])
async def test_cancel_while_waiting_for_the_warehouse(make_harness, status, how) -> None:
    async with make_harness() as h:
        handle = await h.start()
        await wait_for_status(handle, OrderStatus.PICKING)
        if status in (OrderStatus.PACKING, OrderStatus.READY_TO_SHIP):
            await handle.execute_update(OrderWorkflow.confirm_picked, StepConfirmation())
        if status == OrderStatus.READY_TO_SHIP:
            await handle.execute_update(OrderWorkflow.confirm_packed, StepConfirmation())
        await wait_for_status(handle, status)
        if how == "update":
            r = await handle.execute_update(OrderWorkflow.cancel_order, CancelRequest(reason="customer asked"))
            assert (r.accepted, r.status) == (True, OrderStatus.CANCELLED)
            result = await handle.result()
            assert result.cancellation_reason == "customer asked"
        else:
            await handle.cancel()
            with pytest.raises(WorkflowFailureError) as err:
                await handle.result()
            assert isinstance(err.value.cause, CancelledError)
        order_id = handle.id.removeprefix("order-")
    await _assert_compensated_once(h, order_id, booked=status == OrderStatus.READY_TO_SHIP)


# The activity held in flight, the status the order shows meanwhile, and the human steps
# that bring the order there (the warehouse planners included).
IN_FLIGHT = [
    ("authorize_payment", OrderStatus.RECEIVED, ()),
    ("reserve_order_stock", OrderStatus.PAYMENT_AUTHORIZED, ()),
    ("create_pick_list", OrderStatus.PICKING, ()),
    ("plan_packing", OrderStatus.PACKING, (OrderWorkflow.confirm_picked,)),
    ("book_shipment", OrderStatus.PACKING, (OrderWorkflow.confirm_picked, OrderWorkflow.confirm_packed)),
]


@pytest.mark.parametrize("activity_name, status, steps", IN_FLIGHT, ids=[a for a, _, _ in IN_FLIGHT])
@pytest.mark.parametrize("how", ["update", "temporal-cancel"])
async def test_cancel_while_an_activity_is_in_flight_compensates_what_it_did(
    make_harness, activity_name, status, steps, how
) -> None:
    started, release, wrap = gated(activity_name)
    async with make_harness(replace={activity_name: wrap}) as h:
        handle = await h.start()
        if steps:
            await wait_for_status(handle, OrderStatus.PICKING)
        for step in steps:
            await handle.execute_update(step, StepConfirmation())
        await asyncio.wait_for(started.wait(), 20)
        assert (await handle.query(OrderWorkflow.view)).status == status
        if how == "update":
            cancel = asyncio.create_task(handle.execute_update(OrderWorkflow.cancel_order, CancelRequest()))
            await asyncio.sleep(0.3)
            release.set()  # the in-flight step finishes; then everything it did is undone
            assert (await cancel).status == OrderStatus.CANCELLED
            await handle.result()
        else:
            await handle.cancel()
            await asyncio.sleep(0.3)
            release.set()
            with pytest.raises(WorkflowFailureError):
                await handle.result()
        order_id = handle.id.removeprefix("order-")
    await _assert_compensated_once(h, order_id, booked=activity_name == "book_shipment")


async def test_cancel_after_handover_is_refused_and_temporal_cancel_is_ignored(make_harness) -> None:
    async with make_harness() as h:
        handle = await h.start()
        await wait_for_status(handle, OrderStatus.PICKING)
        for step in (OrderWorkflow.confirm_picked, OrderWorkflow.confirm_packed, OrderWorkflow.confirm_handover):
            await handle.execute_update(step, StepConfirmation())
        await wait_for_status(handle, OrderStatus.SHIPPED)
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await handle.execute_update(OrderWorkflow.cancel_order, CancelRequest())
        assert "SHIPPED" in err.value.cause.message
        await handle.cancel()
        await asyncio.sleep(0.5)
        view = await handle.query(OrderWorkflow.view)
        assert view.status == OrderStatus.SHIPPED
        assert view.timeline[-1].kind == TimelineKind.IGNORED
        await handle.terminate("test done")
