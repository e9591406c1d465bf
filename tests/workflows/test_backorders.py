"""The out-of-stock path: each backorder policy, the ask timeout, pre-orders served first come
first served after the supplier's goods arrive, late suppliers, and cancelling a pre-order."""

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from domain.enums import BackorderDecision, OrderStatus, PaymentStatus, TimelineKind
from domain.models import CancelRequest, StepConfirmation
from domain.stock import BackorderDecisionInput, GoodsReceipt
from storage.db import transaction
from storage.models import (
    CustomerMessage,
    Order,
    OrderLine,
    PreorderClaim,
    Product,
    PurchaseOrder,
    SandboxPaymentIntent,
    StockLevel,
    StockMovement,
)
from tests.workflows.conftest import wait_for_status
from workflows.order import OrderWorkflow
from workflows.replenishment import ReplenishmentWorkflow

MUG_AND_PRINT = [{"sku": "MUG-001", "quantity": 1}, {"sku": "SOLDOUT-1", "quantity": 2}]


async def stock(sessions, sku):
    async with sessions() as s:
        level = await s.get(StockLevel, sku)
        return level.on_hand, level.reserved


async def ledger_matches(sessions, sku) -> bool:
    async with sessions() as s:
        level = await s.get(StockLevel, sku)
        on_hand, reserved = (await s.execute(select(func.sum(StockMovement.on_hand_delta), func.sum(StockMovement.reserved_delta))
                                             .where(StockMovement.sku == sku))).one()
        return ((on_hand or 0), (reserved or 0)) == (level.on_hand, level.reserved)


async def test_policy_cancel_drops_the_missing_line_and_ships_the_rest(make_harness) -> None:
    async with make_harness() as h:
        handle = await h.start(lines=MUG_AND_PRINT, backorder_policy="cancel")
        view = await wait_for_status(handle, OrderStatus.PICKING)
        assert [(l.sku, l.quantity) for l in view.lines] == [("MUG-001", 1)]
        await handle.execute_update(OrderWorkflow.confirm_picked, StepConfirmation())
        await handle.execute_update(OrderWorkflow.confirm_packed, StepConfirmation())
        await wait_for_status(handle, OrderStatus.READY_TO_SHIP)
        await handle.execute_update(OrderWorkflow.confirm_handover, StepConfirmation())
        view = await wait_for_status(handle, OrderStatus.SHIPPED)
        await handle.terminate("test done")
    assert view.payment.captured == Decimal("12.95")  # only the mug is charged
    async with h.sessions() as s:
        order = await s.get(Order, view.order_id)
        assert order.total_amount == Decimal("12.95")
        assert [l.dropped for l in order.lines] == [False, True]


async def test_ideal_gets_the_dropped_line_refunded(make_harness) -> None:
    async with make_harness() as h:
        handle = await h.start(lines=MUG_AND_PRINT, backorder_policy="cancel", payment={"method": "ideal", "token": "tok_ideal"})
        view = await wait_for_status(handle, OrderStatus.PICKING)
        await handle.terminate("test done")
    assert view.payment.refunded == Decimal("178.00")
    assert view.payment.captured - view.payment.refunded == Decimal("12.95")


async def test_ask_waits_for_the_customer_and_cancel_order_compensates(make_harness) -> None:
    async with make_harness() as h:
        handle = await h.start(lines=MUG_AND_PRINT)  # policy "ask" is the default
        view = await wait_for_status(handle, OrderStatus.AWAITING_CUSTOMER)
        assert "2 x SOLDOUT-1" in view.timeline[-1].message
        for _ in range(100):  # the message is sent by the status change's activity
            async with h.sessions() as s:
                told = (await s.execute(select(CustomerMessage.body).where(
                    CustomerMessage.order_id == view.order_id, CustomerMessage.channel == "email"))).scalars().all()
            if any("niet op voorraad" in body for body in told):
                break
            await asyncio.sleep(0.05)
        assert any("niet op voorraad" in body and "2 x SOLDOUT-1 (expected" in body for body in told)
        r = await handle.execute_update(OrderWorkflow.decide_backorder, BackorderDecisionInput(decision=BackorderDecision.CANCEL_ORDER))
        assert r.accepted
        result = await handle.result()
    assert result.status == OrderStatus.CANCELLED
    assert result.payment.status == PaymentStatus.VOIDED
    assert await stock(h.sessions, "MUG-001") == (200, 0)  # the mug held meanwhile was released
    assert await ledger_matches(h.sessions, "MUG-001")


async def test_a_decision_outside_awaiting_customer_is_refused(make_harness) -> None:
    async with make_harness() as h:
        handle = await h.start()
        await wait_for_status(handle, OrderStatus.PICKING)
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await handle.execute_update(OrderWorkflow.decide_backorder, BackorderDecisionInput(decision=BackorderDecision.PREORDER))
        assert err.value.cause.message == "order is PICKING; a backorder decision is only asked for in AWAITING_CUSTOMER"
        await handle.terminate("test done")


async def test_no_answer_in_time_applies_the_default(make_harness) -> None:
    async with make_harness() as h:
        handle = await h.start(lines=MUG_AND_PRINT, workflow_input={"backorder_decision_timeout_seconds": 1})
        await wait_for_status(handle, OrderStatus.AWAITING_CUSTOMER)
        view = await wait_for_status(handle, OrderStatus.PICKING)
        await handle.terminate("test done")
    assert [l.sku for l in view.lines] == ["MUG-001"]
    assert any("no answer in time: applying the default 'cancel'" in e.message for e in view.timeline)


async def _make_scarce(sessions, sku: str, on_hand: int, *, reorder_point: int = 0, reorder_quantity: int = 0) -> None:
    async with transaction(sessions) as s:
        level = await s.get(StockLevel, sku)
        s.add(StockMovement(sku=sku, on_hand_delta=on_hand - level.on_hand, reason="stock count"))
        level.on_hand = on_hand
        await s.execute(update(Product).where(Product.sku == sku).values(
            reorder_point=reorder_point, reorder_quantity=reorder_quantity, lead_time_days=5))


async def _purchase_orders(sessions, sku):
    async with sessions() as s:
        return (await s.execute(select(PurchaseOrder).where(PurchaseOrder.sku == sku).order_by(PurchaseOrder.created_at))).scalars().all()


async def test_preorders_buy_once_and_are_served_first_come_first_served(make_harness) -> None:
    async with make_harness(with_replenishment=True) as h:
        await _make_scarce(h.sessions, "LAMP-200", 1, reorder_quantity=5)
        handles = []
        for i in range(4):  # the first gets the last lamp; three wait
            handles.append(await h.start(external_reference=f"LAMP-{i}", lines=[{"sku": "LAMP-200", "quantity": 1}],
                                         backorder_policy="preorder"))
            await wait_for_status(handles[-1], OrderStatus.PICKING, OrderStatus.AWAITING_STOCK)
        assert (await handles[0].query(OrderWorkflow.view)).status == OrderStatus.PICKING
        for handle in handles[1:]:
            view = await handle.query(OrderWorkflow.view)
            assert view.status == OrderStatus.AWAITING_STOCK
            assert "LAMP-200 expected" in view.timeline[-1].message

        # Demand arriving before the supplier confirms is added to the one purchase order.
        replenish = h.client.get_workflow_handle("replenish-LAMP-200")
        for _ in range(100):
            pos = await _purchase_orders(h.sessions, "LAMP-200")
            if pos and pos[0].quantity == 3 + 5:
                break
            await asyncio.sleep(0.05)
        assert [(po.quantity, po.status) for po in pos] == [(8, "placed")]

        # Two arrive: the two oldest pre-orders continue to picking, the third keeps waiting.
        result = await replenish.execute_update(ReplenishmentWorkflow.receive_goods, GoodsReceipt(
            purchase_order_id=pos[0].id, quantity=2, receipt_id="rcpt-1", received_by="jan"))
        assert [(a.order_id, a.complete) for a in result.allocations] == [
            (handles[1].id.removeprefix("order-"), True), (handles[2].id.removeprefix("order-"), True)]
        await wait_for_status(handles[1], OrderStatus.PICKING)
        await wait_for_status(handles[2], OrderStatus.PICKING)
        assert (await handles[3].query(OrderWorkflow.view)).status == OrderStatus.AWAITING_STOCK

        # The same receipt booked again changes nothing.
        again = await replenish.execute_update(ReplenishmentWorkflow.receive_goods, GoodsReceipt(
            purchase_order_id=pos[0].id, quantity=2, receipt_id="rcpt-1"))
        assert again == result
        await replenish.execute_update(ReplenishmentWorkflow.receive_goods, GoodsReceipt(
            purchase_order_id=pos[0].id, quantity=6, receipt_id="rcpt-2"))
        await wait_for_status(handles[3], OrderStatus.PICKING)
        for handle in handles:
            await handle.terminate("test done")
        await replenish.terminate("test done")

    assert await stock(h.sessions, "LAMP-200") == (1 + 8, 4)  # 5 left available for the shelf
    assert await ledger_matches(h.sessions, "LAMP-200")
    pos = await _purchase_orders(h.sessions, "LAMP-200")
    assert [(po.received, po.status) for po in pos] == [(8, "received")]


async def test_a_late_supplier_makes_waiting_customers_hear_the_new_date(make_harness) -> None:
    async with make_harness(with_replenishment=True, own_server=True) as h:
        await _make_scarce(h.sessions, "LAMP-200", 0)
        handle = await h.start(lines=[{"sku": "LAMP-200", "quantity": 1}], backorder_policy="preorder")
        await wait_for_status(handle, OrderStatus.AWAITING_STOCK)
        await h.env.sleep(timedelta(days=6))  # confirmed with a 5-day lead time, then nothing came
        view = None
        for _ in range(200):
            view = await handle.query(OrderWorkflow.view)
            if view.timeline[-1].message.startswith("delayed: LAMP-200 now expected"):
                break
            await asyncio.sleep(0.05)
        assert view.timeline[-1].message.startswith("delayed: LAMP-200 now expected")
        assert view.status == OrderStatus.AWAITING_STOCK
        await handle.terminate("test done")
        await h.client.get_workflow_handle("replenish-LAMP-200").terminate("test done")
    pos = await _purchase_orders(h.sessions, "LAMP-200")
    assert pos[0].status == "confirmed"


async def test_cancelling_a_preorder_gives_up_its_place_and_its_stock(make_harness) -> None:
    async with make_harness() as h:
        handle = await h.start(lines=MUG_AND_PRINT, backorder_policy="preorder")
        await wait_for_status(handle, OrderStatus.AWAITING_STOCK)
        r = await handle.execute_update(OrderWorkflow.cancel_order, CancelRequest(reason="too slow"))
        assert r.status == OrderStatus.CANCELLED
    async with h.sessions() as s:
        claim = (await s.execute(select(PreorderClaim))).scalar_one()
        assert claim.status == "cancelled"
    assert await stock(h.sessions, "MUG-001") == (200, 0)
    assert await ledger_matches(h.sessions, "MUG-001")


async def test_an_expired_authorization_is_renewed_before_shipping(make_harness) -> None:
    async with make_harness(with_replenishment=True, own_server=True) as h:
        await _make_scarce(h.sessions, "LAMP-200", 0)
        handle = await h.start(lines=[{"sku": "LAMP-200", "quantity": 1}], backorder_policy="preorder")
        await wait_for_status(handle, OrderStatus.AWAITING_STOCK)
        await h.env.sleep(timedelta(days=8))
        pos = await _purchase_orders(h.sessions, "LAMP-200")
        await h.client.get_workflow_handle("replenish-LAMP-200").execute_update(
            ReplenishmentWorkflow.receive_goods, GoodsReceipt(purchase_order_id=pos[0].id, quantity=1, receipt_id="r"))
        view = await wait_for_status(handle, OrderStatus.PICKING)
        await handle.terminate("test done")
        await h.client.get_workflow_handle("replenish-LAMP-200").terminate("test done")
    assert any(e.message == "card authorization renewed" for e in view.timeline if e.kind == TimelineKind.EVENT)
    async with h.sessions() as s:
        intents = (await s.execute(select(SandboxPaymentIntent.status))).scalars().all()
    assert sorted(intents) == ["authorized", "authorized"]


async def test_a_preorder_filled_over_two_receipts_knows_its_whole_quantity(make_harness) -> None:
    async with make_harness(with_replenishment=True) as h:
        await _make_scarce(h.sessions, "LAMP-200", 0, reorder_quantity=0)
        handle = await h.start(external_reference="LAMP-SPLIT", lines=[{"sku": "LAMP-200", "quantity": 3}],
                               backorder_policy="preorder")
        await wait_for_status(handle, OrderStatus.AWAITING_STOCK)
        replenish = h.client.get_workflow_handle("replenish-LAMP-200")
        for _ in range(100):
            pos = await _purchase_orders(h.sessions, "LAMP-200")
            if pos:
                break
            await asyncio.sleep(0.05)
        first = await replenish.execute_update(ReplenishmentWorkflow.receive_goods, GoodsReceipt(
            purchase_order_id=pos[0].id, quantity=2, receipt_id="split-1"))
        assert [(a.quantity, a.complete, a.claim_allocated) for a in first.allocations] == [(2, False, 2)]
        second = await replenish.execute_update(ReplenishmentWorkflow.receive_goods, GoodsReceipt(
            purchase_order_id=pos[0].id, quantity=1, receipt_id="split-2"))
        assert [(a.quantity, a.complete, a.claim_allocated) for a in second.allocations] == [(1, True, 3)]
        view = await wait_for_status(handle, OrderStatus.PICKING)
        assert [(line.sku, line.quantity) for line in view.lines] == [("LAMP-200", 3)]
        await handle.terminate("test done")
        await replenish.terminate("test done")


async def _renewal_declined(h, reference: str, wait_seconds: float):
    """A pre-order whose card is refused when the authorization is renewed (the customer's card
    was blocked meanwhile): the goods arrive after the authorization expired."""
    await _make_scarce(h.sessions, "LAMP-200", 0)
    handle = await h.start(external_reference=reference, lines=[{"sku": "LAMP-200", "quantity": 1}],
                           backorder_policy="preorder", workflow_input={"new_payment_wait_seconds": wait_seconds})
    await wait_for_status(handle, OrderStatus.AWAITING_STOCK)
    async with transaction(h.sessions) as s:
        await s.execute(update(Order).where(Order.id == handle.id.removeprefix("order-"))
                        .values(payment_token="tok_chargeDeclined"))
    await h.env.sleep(timedelta(days=8))
    pos = await _purchase_orders(h.sessions, "LAMP-200")
    await h.client.get_workflow_handle("replenish-LAMP-200").execute_update(
        ReplenishmentWorkflow.receive_goods, GoodsReceipt(purchase_order_id=pos[0].id, quantity=1, receipt_id=reference))
    view = await wait_for_status(handle, OrderStatus.AWAITING_CUSTOMER)
    assert view.timeline[-1].message.startswith("the card authorization expired and could not be renewed")
    return handle


async def test_a_declined_renewal_waits_for_a_new_payment_and_goes_on_with_it(make_harness) -> None:
    from domain.models import NewPayment

    async with make_harness(with_replenishment=True, own_server=True) as h:
        handle = await _renewal_declined(h, "RENEW-NEW-CARD", timedelta(hours=48).total_seconds())
        with pytest.raises(WorkflowUpdateFailedError):  # not a stock question
            await handle.execute_update(OrderWorkflow.decide_backorder,
                                        BackorderDecisionInput(decision=BackorderDecision.CANCEL_ORDER))
        declined = await handle.execute_update(OrderWorkflow.provide_payment, NewPayment(token="tok_chargeDeclined"))
        assert declined.accepted
        for _ in range(100):
            view = await handle.query(OrderWorkflow.view)
            if any("declined too" in (e.message or "") for e in view.timeline):
                break
            await asyncio.sleep(0.05)
        assert view.status == OrderStatus.AWAITING_CUSTOMER
        assert (await handle.execute_update(OrderWorkflow.provide_payment, NewPayment(token="tok_visa"))).accepted
        view = await wait_for_status(handle, OrderStatus.PICKING)
        with pytest.raises(WorkflowUpdateFailedError):  # no longer waiting for one
            await handle.execute_update(OrderWorkflow.provide_payment, NewPayment(token="tok_visa"))
        await handle.terminate("test done")
        await h.client.get_workflow_handle("replenish-LAMP-200").terminate("test done")
    assert any(e.message == "new payment authorized" for e in view.timeline)
    async with h.sessions() as s:
        order = await s.get(Order, handle.id.removeprefix("order-"))
        messages = (await s.execute(select(CustomerMessage.body).where(
            CustomerMessage.order_id == order.id, CustomerMessage.channel == "email"))).scalars().all()
    assert order.payment_token == "tok_visa"
    assert any("Betaal opnieuw" in m for m in messages)


async def test_no_new_payment_in_time_cancels_and_frees_the_stock(make_harness) -> None:
    async with make_harness(with_replenishment=True, own_server=True) as h:
        handle = await _renewal_declined(h, "RENEW-NONE", timedelta(hours=48).total_seconds())
        result = await handle.result()  # the time-skipping server runs out the wait
        try:
            await h.client.get_workflow_handle("replenish-LAMP-200").terminate("test done")
        except RPCError:
            pass  # it may have closed itself while the server skipped the 48 hours
    assert result.status == OrderStatus.CANCELLED
    assert "no new payment arrived in time" in result.timeline[-1].message
    assert await stock(h.sessions, "LAMP-200") == (1, 0)
