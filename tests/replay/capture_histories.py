"""Capture order workflow histories for the replay tests. Not collected by default; run:

    .venv/bin/pytest tests/replay/capture_histories.py

It writes new files into tests/replay/histories/ named by today's date. Committed histories are
never regenerated to make a test pass: add new ones next to them.
"""

import asyncio
from datetime import date
from pathlib import Path

from domain.enums import OrderStatus, TrackingEventKind
from domain.models import CancelRequest, FeedbackInput, StepConfirmation, TrackingUpdate
from tests.workflows.conftest import wait_for_status
from workflows.order import OrderWorkflow

OUT = Path(__file__).parent / "histories"


async def _save(handle, name: str, workflow_type: str = "order") -> None:
    path = OUT / f"{date.today():%Y%m%d}_{workflow_type}_{name}.json"
    if any(p.name.endswith(f"_{workflow_type}_{name}.json") for p in OUT.glob("*.json")):
        return  # never regenerate a committed history
    history = await handle.fetch_history()
    path.write_text(history.to_json())


async def test_capture_backorders(make_harness) -> None:
    from sqlalchemy import select

    from domain.enums import BackorderDecision
    from domain.stock import BackorderDecisionInput, GoodsReceipt
    from storage.models import PurchaseOrder
    from workflows.replenishment import ReplenishmentWorkflow

    async with make_harness(with_replenishment=True) as h:
        handle = await h.start(external_reference="REPLAY-7",
                               lines=[{"sku": "MUG-001", "quantity": 1}, {"sku": "SOLDOUT-1", "quantity": 1}])
        await wait_for_status(handle, OrderStatus.AWAITING_CUSTOMER)
        await handle.execute_update(OrderWorkflow.decide_backorder, BackorderDecisionInput(decision=BackorderDecision.PREORDER))
        await wait_for_status(handle, OrderStatus.AWAITING_STOCK)
        replenish = h.client.get_workflow_handle("replenish-SOLDOUT-1")
        for _ in range(100):
            async with h.sessions() as s:
                po = (await s.execute(select(PurchaseOrder))).scalars().first()
            if po:
                break
            await asyncio.sleep(0.05)
        await replenish.execute_update(ReplenishmentWorkflow.receive_goods, GoodsReceipt(
            purchase_order_id=po.id, quantity=po.quantity, receipt_id="replay-receipt"))
        await wait_for_status(handle, OrderStatus.PICKING)
        await handle.execute_update(OrderWorkflow.cancel_order, CancelRequest(reason="replay"))
        await handle.result()
        await _save(handle, "preorder_received_then_cancelled")
        await _save(replenish, "preorder_and_receipt", workflow_type="replenishment")

        handle = await h.start(external_reference="REPLAY-8", backorder_policy="cancel",
                               lines=[{"sku": "MUG-001", "quantity": 1}, {"sku": "SOLDOUT-1", "quantity": 1}])
        await wait_for_status(handle, OrderStatus.PICKING)
        await handle.execute_update(OrderWorkflow.cancel_order, CancelRequest(reason="replay"))
        await handle.result()
        await _save(handle, "line_dropped_then_cancelled")


async def test_capture(make_harness) -> None:
    async with make_harness() as h:
        handle = await h.start(external_reference="REPLAY-1")
        await wait_for_status(handle, OrderStatus.PICKING)
        await handle.signal("confirm_packed", StepConfirmation())  # ignored: skips the pick
        await handle.execute_update(OrderWorkflow.confirm_picked, StepConfirmation(confirmed_by="piet"))
        await handle.execute_update(OrderWorkflow.confirm_picked, StepConfirmation(confirmed_by="piet"))  # repeat
        await handle.execute_update(OrderWorkflow.confirm_packed, StepConfirmation(confirmed_by="piet"))
        view = await wait_for_status(handle, OrderStatus.READY_TO_SHIP)
        await handle.execute_update(OrderWorkflow.confirm_handover, StepConfirmation())
        tn = view.shipment.tracking_number
        for event in (TrackingEventKind.IN_TRANSIT, TrackingEventKind.EXCEPTION, TrackingEventKind.OUT_FOR_DELIVERY,
                      TrackingEventKind.DELIVERED):
            await handle.execute_update(OrderWorkflow.report_tracking, TrackingUpdate(tracking_number=tn, event=event))
        await wait_for_status(handle, OrderStatus.DELIVERED)
        await h.env.sleep(3 * 86400 + 60)
        await wait_for_status(handle, OrderStatus.FEEDBACK_REQUESTED)
        await handle.execute_update(OrderWorkflow.submit_feedback, FeedbackInput(rating=4, comment="prima"))
        await handle.result()
        await _save(handle, "completed_with_feedback")

        handle = await h.start(external_reference="REPLAY-2", payment={"method": "ideal", "token": "tok_ideal"})
        await wait_for_status(handle, OrderStatus.PICKING)
        await handle.execute_update(OrderWorkflow.confirm_picked, StepConfirmation())
        await handle.execute_update(OrderWorkflow.confirm_packed, StepConfirmation())
        await wait_for_status(handle, OrderStatus.READY_TO_SHIP)
        await handle.execute_update(OrderWorkflow.cancel_order, CancelRequest(reason="customer asked"))
        await handle.result()
        await _save(handle, "ideal_cancelled_ready_to_ship")

        handle = await h.start(external_reference="REPLAY-3", payment={"method": "card", "token": "tok_chargeDeclined"})
        await handle.result()
        await _save(handle, "payment_failed")

        handle = await h.start(external_reference="REPLAY-4", lines=[{"sku": "SOLDOUT-1", "quantity": 1}])
        await handle.result()
        await _save(handle, "out_of_stock")

        handle = await h.start(external_reference="REPLAY-5")
        await wait_for_status(handle, OrderStatus.PICKING)
        await handle.cancel()
        try:
            await handle.result()
        except Exception:
            pass
        await _save(handle, "temporal_cancel_picking")

        handle = await h.start(external_reference="REPLAY-6")
        await wait_for_status(handle, OrderStatus.PICKING)
        for step in (OrderWorkflow.confirm_picked, OrderWorkflow.confirm_packed, OrderWorkflow.confirm_handover):
            await handle.execute_update(step, StepConfirmation())
        view = await wait_for_status(handle, OrderStatus.SHIPPED)
        await handle.execute_update(OrderWorkflow.report_tracking,
                                    TrackingUpdate(tracking_number=view.shipment.tracking_number, event=TrackingEventKind.DELIVERED))
        await handle.result()  # no feedback: both timers fire
        await _save(handle, "completed_without_feedback")


async def test_capture_documents(make_harness) -> None:
    """The "documents" patch: label, invoice and packing slip rendered after booking."""
    async with make_harness(own_server=True) as h:
        handle = await h.start(external_reference="REPLAY-9")
        await wait_for_status(handle, OrderStatus.PICKING)
        for step in (OrderWorkflow.confirm_picked, OrderWorkflow.confirm_packed, OrderWorkflow.confirm_handover):
            await handle.execute_update(step, StepConfirmation())
        view = await wait_for_status(handle, OrderStatus.SHIPPED)
        await handle.execute_update(OrderWorkflow.report_tracking, TrackingUpdate(
            tracking_number=view.shipment.tracking_number, event=TrackingEventKind.DELIVERED))
        await handle.execute_update(OrderWorkflow.submit_feedback, FeedbackInput(rating=5))
        await handle.result()
        await _save(handle, "documents_completed_with_feedback")

        handle = await h.start(external_reference="REPLAY-10")
        await wait_for_status(handle, OrderStatus.PICKING)
        await handle.execute_update(OrderWorkflow.confirm_picked, StepConfirmation())
        await handle.execute_update(OrderWorkflow.confirm_packed, StepConfirmation())
        await wait_for_status(handle, OrderStatus.READY_TO_SHIP)
        await handle.execute_update(OrderWorkflow.cancel_order, CancelRequest(reason="customer asked"))
        await handle.result()
        await _save(handle, "documents_cancelled_ready_to_ship")


async def test_capture_warehouse(make_harness) -> None:
    # Stops before the pack, so the history holds the pick list and packing plan steps only.
    async with make_harness() as h:
        handle = await h.start(external_reference="REPLAY-11",
                               lines=[{"sku": "VASE-010", "quantity": 1}, {"sku": "BENCH-500", "quantity": 1}])
        await wait_for_status(handle, OrderStatus.PICKING)
        await handle.execute_update(OrderWorkflow.confirm_picked, StepConfirmation(confirmed_by="piet"))
        await wait_for_status(handle, OrderStatus.PACKING)
        await handle.execute_update(OrderWorkflow.cancel_order, CancelRequest(reason="replay"))
        await handle.result()
        await _save(handle, "warehouse_picked_then_cancelled")


async def test_capture_returns(make_harness) -> None:
    """The return workflow: inspected and refunded; and closed when no parcel arrives."""
    from datetime import UTC, datetime

    from domain.returns import Disposition, InspectedLine, InspectionInput, ReturnLineRequest, ReturnWorkflowInput
    from storage.db import transaction
    from storage.returns import register_return
    from tests.returns_helpers import delivered_order
    from workflows.returns import ReturnWorkflow

    async def start(h, order_id: str, wait: float):
        async with transaction(h.sessions) as session:
            ret = await register_return(session, order_id, [ReturnLineRequest(line_no=1, quantity=1)], "replay",
                                        "replay", now=datetime.now(UTC), window_days=30)
        return await h.client.start_workflow(ReturnWorkflow.run, ReturnWorkflowInput(
            return_id=ret.id, parcel_wait_seconds=wait), id=f"return-{ret.id}", task_queue=h.task_queue)

    async with make_harness(own_server=True) as h:
        handle = await start(h, await delivered_order(h.sessions, external_reference="REPLAY-R1"), 7 * 86400)
        await handle.execute_update(ReturnWorkflow.record_inspection, InspectionInput(
            lines=[InspectedLine(line_no=1, disposition=Disposition.RESELLABLE)]))
        await handle.execute_update(ReturnWorkflow.record_inspection, InspectionInput(
            lines=[InspectedLine(line_no=1, disposition=Disposition.RESELLABLE)]))  # a repeat
        await handle.result()
        await _save(handle, "inspected_and_refunded", workflow_type="return")

        handle = await start(h, await delivered_order(h.sessions, external_reference="REPLAY-R2"), 3600)
        await handle.result()
        await _save(handle, "no_parcel_expired", workflow_type="return")

        # The "return-label" patch: the parcel booked and labelled before the wait.
        handle = await start(h, await delivered_order(h.sessions, external_reference="REPLAY-R3"), 7 * 86400)
        await handle.execute_update(ReturnWorkflow.record_inspection, InspectionInput(
            lines=[InspectedLine(line_no=1, disposition=Disposition.DAMAGED)]))
        await handle.result()
        await _save(handle, "labelled_inspected_and_refunded", workflow_type="return")


async def test_capture_alerts(make_harness) -> None:
    """The "alerts" patch (a carrier exception raises an alert), the attention signal, and one
    run of the escalation sweep workflow."""
    from domain.models import AttentionChange
    from workflows.escalations import EscalationSweepWorkflow

    async with make_harness() as h:
        handle = await h.start(external_reference="REPLAY-ALERTS")
        await wait_for_status(handle, OrderStatus.PICKING)
        await handle.signal(OrderWorkflow.attention_changed, AttentionChange(open_alerts=1, message="late pick"))
        for step in (OrderWorkflow.confirm_picked, OrderWorkflow.confirm_packed, OrderWorkflow.confirm_handover):
            await handle.execute_update(step, StepConfirmation())
        await handle.signal(OrderWorkflow.attention_changed, AttentionChange(open_alerts=0, message="resolved"))
        view = await wait_for_status(handle, OrderStatus.SHIPPED)
        for event in (TrackingEventKind.EXCEPTION, TrackingEventKind.DELIVERED):
            await handle.execute_update(OrderWorkflow.report_tracking, TrackingUpdate(
                tracking_number=view.shipment.tracking_number, event=event, description="address not found"))
        await handle.execute_update(OrderWorkflow.submit_feedback, FeedbackInput(rating=4))
        await handle.result()
        await _save(handle, "alerts_exception_then_delivered")

        sweep = await h.env.client.start_workflow(EscalationSweepWorkflow.run, id="replay-escalation-sweep",
                                                  task_queue=h.task_queue)
        await sweep.result()
        await _save(sweep, "one_run", workflow_type="escalation")


async def test_capture_waiting(make_harness) -> None:
    """An order parked in every status the workflow can wait in, captured while it waits: the
    histories of orders in flight, which a changed workflow must replay without a
    nondeterminism error (README: Changing the order workflow safely)."""
    from datetime import timedelta

    day = timedelta(days=1).total_seconds()
    async with make_harness() as h:
        async def parked(name: str, status: OrderStatus, **order) -> None:
            handle = await h.start(external_reference=f"REPLAY-WAIT-{name}", workflow_input={
                "feedback_request_delay_seconds": 3 * day, "feedback_wait_seconds": 14 * day,
                "feedback_reminder_after_seconds": 7 * day}, **order)
            await wait_for_status(handle, OrderStatus.PICKING if status not in (
                OrderStatus.AWAITING_CUSTOMER, OrderStatus.AWAITING_STOCK) else status)
            steps = {OrderStatus.PACKING: 1, OrderStatus.READY_TO_SHIP: 2, OrderStatus.SHIPPED: 3,
                     OrderStatus.IN_TRANSIT: 3, OrderStatus.DELIVERED: 3}.get(status, 0)
            for step in (OrderWorkflow.confirm_picked, OrderWorkflow.confirm_packed,
                         OrderWorkflow.confirm_handover)[:steps]:
                await handle.execute_update(step, StepConfirmation())
            if status in (OrderStatus.IN_TRANSIT, OrderStatus.DELIVERED):
                view = await wait_for_status(handle, OrderStatus.SHIPPED)
                events = [TrackingEventKind.IN_TRANSIT] + ([TrackingEventKind.DELIVERED] * (status == OrderStatus.DELIVERED))
                for event in events:
                    await handle.execute_update(OrderWorkflow.report_tracking, TrackingUpdate(
                        tracking_number=view.shipment.tracking_number, event=event))
            await wait_for_status(handle, status)
            await asyncio.sleep(0.3)  # let the workflow task that started the wait complete
            await _save(handle, f"waiting_{name}")

        await parked("awaiting_customer", OrderStatus.AWAITING_CUSTOMER,
                     lines=[{"sku": "MUG-001", "quantity": 1}, {"sku": "SOLDOUT-1", "quantity": 1}])
        await parked("awaiting_stock", OrderStatus.AWAITING_STOCK, backorder_policy="preorder",
                     lines=[{"sku": "MUG-001", "quantity": 1}, {"sku": "SOLDOUT-1", "quantity": 1}])
        for status in (OrderStatus.PICKING, OrderStatus.PACKING, OrderStatus.READY_TO_SHIP, OrderStatus.SHIPPED,
                       OrderStatus.IN_TRANSIT, OrderStatus.DELIVERED):
            await parked(status.value.lower(), status)


async def test_capture_waiting_for_feedback(make_harness) -> None:
    """Parked in FEEDBACK_REQUESTED (its timers need a server of its own to skip time)."""
    from datetime import timedelta

    day = timedelta(days=1).total_seconds()
    async with make_harness(own_server=True) as h:
        handle = await h.start(external_reference="REPLAY-WAIT-FEEDBACK", workflow_input={
            "feedback_request_delay_seconds": 3 * day, "feedback_wait_seconds": 14 * day,
            "feedback_reminder_after_seconds": 7 * day})
        await wait_for_status(handle, OrderStatus.PICKING)
        for step in (OrderWorkflow.confirm_picked, OrderWorkflow.confirm_packed, OrderWorkflow.confirm_handover):
            await handle.execute_update(step, StepConfirmation())
        view = await wait_for_status(handle, OrderStatus.SHIPPED)
        await handle.execute_update(OrderWorkflow.report_tracking, TrackingUpdate(
            tracking_number=view.shipment.tracking_number, event=TrackingEventKind.DELIVERED))
        await h.env.sleep(timedelta(days=3, hours=1))
        await wait_for_status(handle, OrderStatus.FEEDBACK_REQUESTED)
        await asyncio.sleep(0.3)
        await _save(handle, "waiting_feedback_requested")


async def test_capture_receipt_serving_several_preorders(make_harness) -> None:
    """The "signals-together" patch: one receipt serves two pre-orders, told at once."""
    from sqlalchemy import select

    from domain.stock import GoodsReceipt
    from storage.models import PurchaseOrder
    from workflows.replenishment import ReplenishmentWorkflow

    async with make_harness(with_replenishment=True) as h:
        handles = []
        for n in (1, 2):
            handle = await h.start(external_reference=f"REPLAY-SERVED-{n}", backorder_policy="preorder",
                                   lines=[{"sku": "SOLDOUT-1", "quantity": 1}])
            await wait_for_status(handle, OrderStatus.AWAITING_STOCK)
            handles.append(handle)
        replenish = h.client.get_workflow_handle("replenish-SOLDOUT-1")
        for _ in range(100):
            async with h.sessions() as s:
                po = (await s.execute(select(PurchaseOrder))).scalars().first()
            if po:
                break
            await asyncio.sleep(0.05)
        await replenish.execute_update(ReplenishmentWorkflow.receive_goods, GoodsReceipt(
            purchase_order_id=po.id, quantity=po.quantity, receipt_id="replay-served-together"))
        for handle in handles:
            await wait_for_status(handle, OrderStatus.PICKING)
        await _save(replenish, "two_preorders_served_together", workflow_type="replenishment")


async def test_capture_batched_status(make_harness) -> None:
    """The "batched-status" patch: changes between two waits published together; the whole
    happy path, a cancellation at picking, and Temporal's own cancel."""
    async with make_harness(own_server=True) as h:
        handle = await h.start(external_reference="REPLAY-BATCH-1")
        await wait_for_status(handle, OrderStatus.PICKING)
        for step in (OrderWorkflow.confirm_picked, OrderWorkflow.confirm_packed, OrderWorkflow.confirm_handover):
            await handle.execute_update(step, StepConfirmation())
        view = await wait_for_status(handle, OrderStatus.SHIPPED)
        for event in (TrackingEventKind.IN_TRANSIT, TrackingEventKind.DELIVERED):
            await handle.execute_update(OrderWorkflow.report_tracking, TrackingUpdate(
                tracking_number=view.shipment.tracking_number, event=event))
        await handle.result()
        await _save(handle, "batched_completed_without_feedback")

        handle = await h.start(external_reference="REPLAY-BATCH-2")
        await wait_for_status(handle, OrderStatus.PICKING)
        await handle.execute_update(OrderWorkflow.cancel_order, CancelRequest(reason="customer asked"))
        await handle.result()
        await _save(handle, "batched_cancelled_at_picking")

        handle = await h.start(external_reference="REPLAY-BATCH-3")
        await wait_for_status(handle, OrderStatus.PICKING)
        await handle.cancel()
        try:
            await handle.result()
        except Exception:  # noqa: BLE001 - a cancelled workflow's result raises
            pass
        await _save(handle, "batched_temporal_cancel_at_picking")


async def test_capture_short_pick(make_harness) -> None:
    """A pick list that finished short: the order asks the customer (waiting), then goes on
    with the units that were picked after the customer cancelled the missing ones."""
    from domain.enums import BackorderDecision, BackorderPolicy
    from domain.stock import BackorderDecisionInput, ShortLine, ShortPickReport

    async with make_harness() as h:
        handle = await h.start(external_reference="REPLAY-SHORT-1", lines=[{"sku": "MUG-001", "quantity": 2}])
        await wait_for_status(handle, OrderStatus.PICKING)
        await handle.execute_update(OrderWorkflow.report_short_pick, ShortPickReport(
            pick_list_id="pl_replay", confirmed_by="replay",
            lines=[ShortLine(sku="MUG-001", missing=1, policy=BackorderPolicy.ASK)]))
        await wait_for_status(handle, OrderStatus.AWAITING_CUSTOMER)
        await asyncio.sleep(0.3)  # let the workflow task that started the wait complete
        await _save(handle, "short_pick_waiting_awaiting_customer")
        await handle.execute_update(OrderWorkflow.decide_backorder,
                                    BackorderDecisionInput(decision=BackorderDecision.CANCEL))
        await wait_for_status(handle, OrderStatus.PACKING)
        await asyncio.sleep(0.3)
        await _save(handle, "short_pick_units_cancelled_waiting_packing")


async def test_capture_parallel_handover(make_harness) -> None:
    """Ship stock and capture at once at handover ("parallel-handover"): waiting in transit."""
    async with make_harness() as h:
        handle = await h.start(external_reference="REPLAY-HANDOVER-1")
        await wait_for_status(handle, OrderStatus.PICKING)
        for step in (OrderWorkflow.confirm_picked, OrderWorkflow.confirm_packed, OrderWorkflow.confirm_handover):
            await handle.execute_update(step, StepConfirmation())
        view = await wait_for_status(handle, OrderStatus.SHIPPED)
        await handle.execute_update(OrderWorkflow.report_tracking, TrackingUpdate(
            tracking_number=view.shipment.tracking_number, event=TrackingEventKind.IN_TRANSIT))
        await wait_for_status(handle, OrderStatus.IN_TRANSIT)
        await asyncio.sleep(0.3)  # let the workflow task that started the wait complete
        await _save(handle, "parallel_handover_waiting_in_transit")


async def test_capture_waiting_for_a_new_payment(make_harness) -> None:
    """A pre-order whose card renewal was declined, waiting in AWAITING_CUSTOMER for a new
    payment, once before any and once after a new card that was declined too."""
    from datetime import timedelta

    from domain.models import NewPayment
    from tests.workflows.test_backorders import _renewal_declined

    async with make_harness(with_replenishment=True, own_server=True) as h:
        handle = await _renewal_declined(h, "REPLAY-NEW-PAYMENT", timedelta(hours=48).total_seconds())
        await asyncio.sleep(0.3)  # let the workflow task that started the wait complete
        await _save(handle, "waiting_for_new_payment")
        await handle.execute_update(OrderWorkflow.provide_payment, NewPayment(token="tok_chargeDeclined"))
        for _ in range(100):
            view = await handle.query(OrderWorkflow.view)
            if any("declined too" in (e.message or "") for e in view.timeline):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        await _save(handle, "new_payment_declined_waiting_again")
        await handle.terminate("captured")
        await h.client.get_workflow_handle("replenish-LAMP-200").terminate("captured")


async def test_capture_partial_shipments(make_harness) -> None:
    """An order shipped in parts (ship_partial): waiting in PARTIALLY_SHIPPED after the first
    shipment left, and (the pre-ordered rest received) its second shipment waiting in
    READY_TO_SHIP."""
    from tests.workflows.test_partial_shipments import _receive_all

    async with make_harness(with_replenishment=True) as h:
        handle = await h.start(external_reference="REPLAY-PARTIAL-1", backorder_policy="preorder", ship_partial=True,
                               workflow_input={"ship_partial": True},
                               lines=[{"sku": "MUG-001", "quantity": 2}, {"sku": "SOLDOUT-1", "quantity": 1}])
        await wait_for_status(handle, OrderStatus.PICKING)
        for step in (OrderWorkflow.confirm_picked, OrderWorkflow.confirm_packed, OrderWorkflow.confirm_handover):
            await handle.execute_update(step, StepConfirmation())
        await wait_for_status(handle, OrderStatus.PARTIALLY_SHIPPED)
        await asyncio.sleep(0.3)  # let the workflow task that started the wait complete
        await _save(handle, "partial_waiting_partially_shipped")

        await _receive_all(h, "SOLDOUT-1", "replay-partial")
        for _ in range(200):  # PICKING again, now for the second shipment
            view = await handle.query(OrderWorkflow.view)
            if view.status == OrderStatus.PICKING:
                break
            await asyncio.sleep(0.05)
        for step in (OrderWorkflow.confirm_picked, OrderWorkflow.confirm_packed):
            await handle.execute_update(step, StepConfirmation())
        view = await wait_for_status(handle, OrderStatus.READY_TO_SHIP)
        assert view.timeline[-1].message.endswith("(shipment 2 of 2)")
        await asyncio.sleep(0.3)
        await _save(handle, "partial_second_part_ready_to_ship")
        await handle.terminate("captured")
        await h.client.get_workflow_handle("replenish-SOLDOUT-1").terminate("captured")
