"""Partial shipments in the workflow (``ship_partial``): what is in stock ships at once as
shipment 1 of 2 and the order is PARTIALLY_SHIPPED until the pre-ordered rest has arrived and
left as shipment 2; a cancel after the first parcel left cancels only the rest; the order is
DELIVERED only when every parcel of both shipments is."""

import asyncio
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError

from domain.enums import BackorderDecision, OrderStatus, PaymentStatus, TimelineKind, TrackingEventKind
from domain.models import FeedbackInput, OrderView, StepConfirmation, TrackingUpdate
from domain.stock import BackorderDecisionInput, GoodsReceipt, StockDelayed
from storage.models import (
    Invoice,
    Order,
    Payment,
    PickList,
    PreorderClaim,
    Reservation,
    SandboxPaymentIntent,
    Shipment,
    StockMovement,
)
from tests.workflows.conftest import wait_for_status
from tests.workflows.test_backorders import _purchase_orders, ledger_matches, stock
from workflows.order import OrderWorkflow
from workflows.replenishment import ReplenishmentWorkflow

# Two mugs are in stock; the print is sold out, so it is pre-ordered and comes later.
MUGS_AND_PRINT = [{"sku": "MUG-001", "quantity": 2}, {"sku": "SOLDOUT-1", "quantity": 1}]
MUG, PRINT = Decimal("12.95"), Decimal("89.00")
S = OrderStatus


async def _split_order(h, reference: str, **order: Any) -> WorkflowHandle[OrderWorkflow, Any]:
    """An order with ship_partial on the order row and in the workflow input, as the API starts it."""
    order.setdefault("lines", MUGS_AND_PRINT)
    order.setdefault("backorder_policy", "preorder")
    return await h.start(workflow_input={"ship_partial": True}, external_reference=reference, ship_partial=True,
                         **order)


def _statuses(view: OrderView) -> list[OrderStatus]:
    return [e.status for e in view.timeline if e.kind == TimelineKind.STATUS]


async def _wait_for(handle: WorkflowHandle[Any, Any], done: Callable[[OrderView], bool], what: str,
                    timeout: float = 20) -> OrderView:
    """Poll the order's query until ``done(view)`` (test code only): for a status the order
    already had once (PICKING of the second shipment)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        view = await handle.query(OrderWorkflow.view)
        if done(view):
            return view
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: order is {view.status}, timeline {_statuses(view)}")
        await asyncio.sleep(0.05)


async def _through_the_warehouse(handle: WorkflowHandle[Any, Any]) -> OrderView:
    """Pick, pack and hand over the shipment in progress; returns the view at READY_TO_SHIP."""
    assert (await handle.execute_update(OrderWorkflow.confirm_picked, StepConfirmation())).accepted
    assert (await handle.execute_update(OrderWorkflow.confirm_packed, StepConfirmation())).accepted
    ready = await wait_for_status(handle, S.READY_TO_SHIP)
    assert (await handle.execute_update(OrderWorkflow.confirm_handover, StepConfirmation())).accepted
    return ready


async def _delivered(handle: WorkflowHandle[Any, Any], tracking_number: str):
    return await handle.execute_update(OrderWorkflow.report_tracking, TrackingUpdate(
        tracking_number=tracking_number, event=TrackingEventKind.DELIVERED))


async def _purchase_order(h, sku: str):
    for _ in range(200):
        pos = await _purchase_orders(h.sessions, sku)
        if pos:
            return pos[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no purchase order for {sku}")


async def _receive_all(h, sku: str, receipt_id: str):
    po = await _purchase_order(h, sku)
    await h.client.get_workflow_handle(f"replenish-{sku}").execute_update(
        ReplenishmentWorkflow.receive_goods, GoodsReceipt(purchase_order_id=po.id, quantity=po.quantity,
                                                          receipt_id=receipt_id))
    return po


async def _pick_lists(h, order_id: str) -> list[tuple[int, str, list[tuple[str, int]]]]:
    """(part, status, [(sku, units)]) of each of the order's pick lists."""
    async with h.sessions() as s:
        lists = (await s.execute(select(PickList).where(PickList.order_id == order_id)
                                 .order_by(PickList.part))).scalars().all()
        out = []
        for pick_list in lists:
            units: dict[str, int] = {}
            for line in pick_list.lines:
                units[line.sku] = units.get(line.sku, 0) + line.quantity
            out.append((pick_list.part, pick_list.status, sorted(units.items())))
        return out


async def _pick_list_of_part(h, order_id: str, part: int) -> tuple[int, str, list[tuple[str, int]]]:
    """The part's pick list (made by an activity just after the order says PICKING)."""
    for _ in range(200):
        found = [p for p in await _pick_lists(h, order_id) if p[0] == part]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no pick list for part {part}")


async def _reservations(h, order_id: str) -> list[tuple[str, str, int]]:
    async with h.sessions() as s:
        rows = (await s.execute(select(Reservation.sku, Reservation.status, Reservation.quantity)
                                .where(Reservation.order_id == order_id).order_by(Reservation.sku, Reservation.status)))
        return [tuple(r) for r in rows.all()]


async def _ship_movements(h, order_id: str) -> list[tuple[str, int, int]]:
    async with h.sessions() as s:
        rows = await s.execute(select(StockMovement.sku, StockMovement.on_hand_delta, StockMovement.reserved_delta)
                               .where(StockMovement.order_id == order_id, StockMovement.reason == "ship")
                               .order_by(StockMovement.id))
        return [tuple(r) for r in rows.all()]


async def _read_model(h, order_id: str, status: OrderStatus) -> list[tuple[int, str]]:
    """Wait until the order's read model says ``status``; returns its shipments' (part, status)."""
    for _ in range(200):
        async with h.sessions() as s:
            order = await s.get(Order, order_id)
            rows = (await s.execute(select(Shipment.part, Shipment.status).where(Shipment.order_id == order_id)
                                    .order_by(Shipment.part))).all()
        if order.status == status:
            return [tuple(r) for r in rows]
        await asyncio.sleep(0.05)
    raise AssertionError(f"read model stayed {order.status}, expected {status}")


async def _invoice_total(h, order_id: str, part: int) -> Decimal:
    async with h.sessions() as s:
        invoice = await s.get(Invoice, (order_id, part))
        assert invoice is not None, f"no invoice for part {part}"
        return invoice.total_amount


async def _ship_first_part(h, reference: str) -> tuple[WorkflowHandle[Any, Any], OrderView]:
    """A split card order whose first shipment (the two mugs) was handed over."""
    handle = await _split_order(h, reference)
    await wait_for_status(handle, S.PICKING)
    await _through_the_warehouse(handle)
    return handle, await wait_for_status(handle, S.PARTIALLY_SHIPPED)


async def test_temporal_cancel_while_partially_shipped_cancels_the_rest_and_the_parcel_goes_on(make_harness) -> None:
    async with make_harness() as h:
        handle = await _split_order(h, "PARTIAL-CANCEL")
        picking = await wait_for_status(handle, S.PICKING)
        assert _statuses(picking) == [S.PAYMENT_AUTHORIZED, S.AWAITING_STOCK, S.RESERVED, S.PICKING]
        assert picking.timeline[-2].message.endswith("the pre-ordered rest (SOLDOUT-1) in a second shipment")
        assert [(line.sku, line.quantity) for line in picking.lines] == [("MUG-001", 2)]
        await _through_the_warehouse(handle)

        partly = await wait_for_status(handle, S.PARTIALLY_SHIPPED)
        order_id = partly.order_id
        part_1 = await _invoice_total(h, order_id, 1)
        assert part_1 == 2 * MUG
        assert partly.payment.status == PaymentStatus.PARTIALLY_CAPTURED
        assert partly.payment.captured == part_1
        [parcel] = partly.earlier_shipments
        assert parcel.part == 1
        assert await _reservations(h, order_id) == [("MUG-001", "shipped", 2)]

        await handle.cancel()  # Temporal's own cancel, as from the UI or CLI
        shipped = await wait_for_status(handle, S.SHIPPED)
        assert shipped.timeline[-1].message.startswith("the rest of the order was cancelled;")
        assert shipped.timeline[-2].message == "the rest of the order was cancelled: cancelled in Temporal"
        assert shipped.cancellation_reason == "cancelled in Temporal"
        assert [(line.sku, line.quantity) for line in shipped.lines] == [("MUG-001", 2)]
        assert shipped.shipment is not None and shipped.shipment.shipment_id == parcel.shipment_id
        assert shipped.payment.status == PaymentStatus.CAPTURED
        assert shipped.payment.captured == part_1 and shipped.payment.refunded == 0

        async with h.sessions() as s:
            order = await s.get(Order, order_id)
            lines = sorted((line.sku, line.quantity, line.dropped) for line in order.lines)
            payment = (await s.execute(select(Payment).where(Payment.order_id == order_id))).scalar_one()
            intent = (await s.execute(select(SandboxPaymentIntent))).scalar_one()
            claim = (await s.execute(select(PreorderClaim).where(PreorderClaim.order_id == order_id))).scalar_one()
        assert lines == [("MUG-001", 2, False), ("SOLDOUT-1", 1, True)]
        assert order.total_amount == part_1
        assert (payment.status, payment.captured) == (PaymentStatus.CAPTURED, part_1)
        assert (intent.status, intent.captured, intent.authorized) == (PaymentStatus.CAPTURED, part_1, 2 * MUG + PRINT)
        assert (claim.sku, claim.status) == ("SOLDOUT-1", "cancelled")
        assert await stock(h.sessions, "SOLDOUT-1") == (0, 0)
        assert await stock(h.sessions, "MUG-001") == (198, 0)
        assert await _reservations(h, order_id) == [("MUG-001", "shipped", 2)]

        # The parcel that left is tracked to the end.
        assert (await _delivered(handle, parcel.tracking_number)).accepted
        delivered = await wait_for_status(handle, S.DELIVERED)
        assert await _read_model(h, order_id, S.DELIVERED) == [(1, "DELIVERED")]
        await handle.terminate("test done")
    assert _statuses(delivered) == [S.PAYMENT_AUTHORIZED, S.AWAITING_STOCK, S.RESERVED, S.PICKING, S.PACKING,
                                    S.READY_TO_SHIP, S.PARTIALLY_SHIPPED, S.SHIPPED, S.DELIVERED]
    for sku in ("MUG-001", "SOLDOUT-1"):
        assert await ledger_matches(h.sessions, sku)


async def test_a_delay_of_the_awaited_sku_is_told_while_partially_shipped(make_harness) -> None:
    async with make_harness() as h:
        handle, partly = await _ship_first_part(h, "PARTIAL-DELAY")
        # A delay of a SKU the order does not wait for changes nothing; the awaited one is told.
        await handle.signal(OrderWorkflow.stock_delayed, StockDelayed(sku="MUG-001", expected_date=date(2031, 1, 2)))
        await handle.signal(OrderWorkflow.stock_delayed, StockDelayed(sku="SOLDOUT-1", expected_date=date(2031, 3, 4)))
        view = await _wait_for(handle, lambda v: _statuses(v).count(S.PARTIALLY_SHIPPED) == 2, "the delay")
        await handle.terminate("test done")
    changes = [e for e in view.timeline if e.kind == TimelineKind.STATUS]
    assert changes[-1].status == S.PARTIALLY_SHIPPED
    assert changes[-1].message == "delayed: SOLDOUT-1 now expected 2031-03-04"
    assert changes[-1].sequence == changes[-2].sequence + 1
    assert not any("MUG-001" in e.message for e in view.timeline if e.message.startswith("delayed"))
    assert view.payment.status == PaymentStatus.PARTIALLY_CAPTURED  # nothing else moved
    assert view.earlier_shipments == partly.earlier_shipments


async def test_ask_answered_with_preorder_splits_the_order(make_harness) -> None:
    async with make_harness() as h:
        handle = await _split_order(h, "PARTIAL-ASK", backorder_policy="ask")
        asking = await wait_for_status(handle, S.AWAITING_CUSTOMER)
        assert "1 x SOLDOUT-1" in asking.timeline[-1].message
        r = await handle.execute_update(OrderWorkflow.decide_backorder,
                                        BackorderDecisionInput(decision=BackorderDecision.PREORDER))
        assert r.accepted
        view = await wait_for_status(handle, S.PICKING)
        order_id = view.order_id
        pick_list = await _pick_list_of_part(h, order_id, 1)
        reservations = await _reservations(h, order_id)
        async with h.sessions() as s:
            claims = (await s.execute(select(PreorderClaim.sku, PreorderClaim.quantity, PreorderClaim.status)
                                      .where(PreorderClaim.order_id == order_id))).all()
        await handle.terminate("test done")
    assert _statuses(view) == [S.PAYMENT_AUTHORIZED, S.AWAITING_CUSTOMER, S.AWAITING_STOCK, S.RESERVED, S.PICKING]
    assert view.timeline[-2].message.endswith("the pre-ordered rest (SOLDOUT-1) in a second shipment")
    assert [(line.sku, line.quantity) for line in view.lines] == [("MUG-001", 2)]
    assert pick_list == (1, "open", [("MUG-001", 2)])
    assert reservations == [("MUG-001", "held", 2)]
    assert [tuple(c) for c in claims] == [("SOLDOUT-1", 1, "waiting")]


async def test_nothing_in_stock_is_not_split_and_ships_whole(make_harness) -> None:
    async with make_harness(with_replenishment=True) as h:
        handle = await _split_order(h, "PARTIAL-NOTHING", lines=[{"sku": "SOLDOUT-1", "quantity": 1}])
        waiting = await wait_for_status(handle, S.AWAITING_STOCK)
        await asyncio.sleep(0.5)  # it stays there: nothing can ship now
        waiting = await handle.query(OrderWorkflow.view)
        assert _statuses(waiting) == [S.PAYMENT_AUTHORIZED, S.AWAITING_STOCK]
        assert "ships now" not in waiting.timeline[-1].message

        await _receive_all(h, "SOLDOUT-1", "PARTIAL-NOTHING-1")
        picking = await wait_for_status(handle, S.PICKING)
        assert picking.timeline[-1].message == "released to the warehouse"  # no "shipment 1 of 2"
        await _through_the_warehouse(handle)
        shipped = await wait_for_status(handle, S.SHIPPED)
        await handle.terminate("test done")
    assert _statuses(shipped) == [S.PAYMENT_AUTHORIZED, S.AWAITING_STOCK, S.RESERVED, S.PICKING, S.PACKING,
                                  S.READY_TO_SHIP, S.SHIPPED]
    assert shipped.earlier_shipments == [] and shipped.shipment.part == 1
    assert shipped.payment.status == PaymentStatus.CAPTURED and shipped.payment.captured == PRINT


async def test_goods_that_arrive_during_the_first_pick_ship_next_on_their_own(make_harness) -> None:
    async with make_harness(with_replenishment=True) as h:
        handle = await _split_order(h, "PARTIAL-EARLY")
        first = await wait_for_status(handle, S.PICKING)
        order_id = first.order_id
        po = await _receive_all(h, "SOLDOUT-1", "PARTIAL-EARLY-1")
        arrived = await _wait_for(handle, lambda v: any(e.message == "SOLDOUT-1 arrived and is reserved"
                                                        for e in v.timeline), "the arrival")
        assert arrived.status == S.PICKING  # the first part is not held up, nor changed
        assert await _pick_list_of_part(h, order_id, 1) == (1, "open", [("MUG-001", 2)])

        await _through_the_warehouse(handle)
        second = await _wait_for(handle, lambda v: _statuses(v)[-2:] == [S.RESERVED, S.PICKING], "the second part")
        assert _statuses(second) == [S.PAYMENT_AUTHORIZED, S.AWAITING_STOCK, S.RESERVED, S.PICKING, S.PACKING,
                                     S.READY_TO_SHIP, S.PARTIALLY_SHIPPED, S.RESERVED, S.PICKING]
        assert second.timeline[-1].message == "released to the warehouse (shipment 2 of 2)"
        # The first parcel took the mugs only; the print stays held for the second.
        assert await _ship_movements(h, order_id) == [("MUG-001", -2, -2)]
        assert await _reservations(h, order_id) == [("MUG-001", "shipped", 2), ("SOLDOUT-1", "held", 1)]
        part_1 = await _invoice_total(h, order_id, 1)
        assert second.payment.status == PaymentStatus.PARTIALLY_CAPTURED and second.payment.captured == part_1
        await _pick_list_of_part(h, order_id, 2)
        assert await _pick_lists(h, order_id) == [(1, "shipped", [("MUG-001", 2)]), (2, "open", [("SOLDOUT-1", 1)])]

        await _through_the_warehouse(handle)
        shipped = await wait_for_status(handle, S.SHIPPED)
        [parcel_1] = shipped.earlier_shipments
        parcel_2 = shipped.shipment
        assert (parcel_1.part, parcel_2.part) == (1, 2)
        assert parcel_1.tracking_number != parcel_2.tracking_number
        assert await _ship_movements(h, order_id) == [("MUG-001", -2, -2), ("SOLDOUT-1", -1, -1)]
        part_2 = await _invoice_total(h, order_id, 2)
        assert part_1 + part_2 == 2 * MUG + PRINT
        assert shipped.payment.status == PaymentStatus.CAPTURED and shipped.payment.captured == 2 * MUG + PRINT

        assert (await _delivered(handle, parcel_1.tracking_number)).accepted
        assert (await _delivered(handle, parcel_2.tracking_number)).accepted
        delivered = await wait_for_status(handle, S.DELIVERED)
        assert await _read_model(h, order_id, S.DELIVERED) == [(1, "DELIVERED"), (2, "DELIVERED")]
        await handle.terminate("test done")
        await h.client.get_workflow_handle("replenish-SOLDOUT-1").terminate("test done")
    assert _statuses(delivered)[-3:] == [S.READY_TO_SHIP, S.SHIPPED, S.DELIVERED]
    assert await stock(h.sessions, "MUG-001") == (198, 0)
    assert await stock(h.sessions, "SOLDOUT-1") == (po.quantity - 1, 0)
    for sku in ("MUG-001", "SOLDOUT-1"):
        assert await ledger_matches(h.sessions, sku)


async def test_the_first_parcel_delivered_alone_does_not_deliver_the_order(make_harness) -> None:
    async with make_harness(with_replenishment=True) as h:
        handle, partly = await _ship_first_part(h, "PARTIAL-DELIVERY")
        [parcel_1] = partly.earlier_shipments
        await _receive_all(h, "SOLDOUT-1", "PARTIAL-DELIVERY-1")
        await _wait_for(handle, lambda v: _statuses(v)[-2:] == [S.RESERVED, S.PICKING], "the second part")

        # Parcel 1 delivered while part 2 is being picked: noted, the order stays PICKING.
        assert (await _delivered(handle, parcel_1.tracking_number)).accepted
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(OrderWorkflow.submit_feedback, FeedbackInput(rating=5))
        assert "feedback is accepted once the order is delivered" in refused.value.cause.message
        assert (await handle.query(OrderWorkflow.view)).status == S.PICKING

        await _through_the_warehouse(handle)
        shipped = await wait_for_status(handle, S.SHIPPED)
        parcel_2 = shipped.shipment
        # Noted when it came (the parcel's tracking goes on while part 2 is in the warehouse),
        # or after part 2 left, if that was first.
        await _wait_for(handle, lambda v: any(
            e.message.startswith(f"carrier: package {parcel_1.tracking_number} delivered (1 of ")
            for e in v.timeline), "parcel 1 noted")
        view = await handle.query(OrderWorkflow.view)
        assert view.status == S.SHIPPED
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(OrderWorkflow.submit_feedback, FeedbackInput(rating=5))

        assert (await _delivered(handle, parcel_2.tracking_number)).accepted
        delivered = await wait_for_status(handle, S.DELIVERED)
        assert (await handle.execute_update(OrderWorkflow.submit_feedback, FeedbackInput(rating=5))).accepted
        await h.client.get_workflow_handle("replenish-SOLDOUT-1").terminate("test done")
    assert _statuses(delivered).count(S.DELIVERED) == 1
    assert _statuses(delivered)[-2:] == [S.SHIPPED, S.DELIVERED]
