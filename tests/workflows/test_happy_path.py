"""The whole pipeline on the time-skipping server, for both payment methods."""

import asyncio
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from domain.enums import OrderStatus, PaymentStatus, TimelineKind, TrackingEventKind
from domain.models import FeedbackInput, StepConfirmation, TrackingUpdate
from storage.models import CustomerMessage, Order, OrderEvent, OrderFeedback, PimUpdate, SandboxPaymentIntent, StockLevel
from tests.workflows.conftest import wait_for_status
from workflows.order import OrderWorkflow

FULL_PATH = [
    OrderStatus.PAYMENT_AUTHORIZED, OrderStatus.RESERVED, OrderStatus.PICKING, OrderStatus.PACKING,
    OrderStatus.READY_TO_SHIP, OrderStatus.SHIPPED, OrderStatus.IN_TRANSIT, OrderStatus.DELIVERED,
    OrderStatus.FEEDBACK_REQUESTED, OrderStatus.COMPLETED,
]


async def drive_to_delivered(handle) -> str:
    await wait_for_status(handle, OrderStatus.PICKING)
    await handle.execute_update(OrderWorkflow.confirm_picked, StepConfirmation(confirmed_by="piet"))
    await wait_for_status(handle, OrderStatus.PACKING)
    await handle.execute_update(OrderWorkflow.confirm_packed, StepConfirmation(confirmed_by="piet"))
    view = await wait_for_status(handle, OrderStatus.READY_TO_SHIP)
    await handle.execute_update(OrderWorkflow.confirm_handover, StepConfirmation(confirmed_by="piet"))
    await wait_for_status(handle, OrderStatus.SHIPPED)
    tn = view.shipment.tracking_number
    await handle.execute_update(OrderWorkflow.report_tracking, TrackingUpdate(tracking_number=tn, event=TrackingEventKind.IN_TRANSIT))
    await handle.execute_update(OrderWorkflow.report_tracking, TrackingUpdate(tracking_number=tn, event=TrackingEventKind.DELIVERED))
    await wait_for_status(handle, OrderStatus.DELIVERED)
    return tn


async def test_card_order_runs_to_completed_without_feedback(make_harness) -> None:
    async with make_harness(own_server=True) as h:
        handle = await h.start()
        tn = await drive_to_delivered(handle)
        result = await handle.result()  # the time-skipping server fires both follow-up timers

    assert result.status == OrderStatus.COMPLETED
    assert [e.status for e in result.timeline if e.kind == TimelineKind.STATUS] == FULL_PATH
    assert result.payment.status == PaymentStatus.CAPTURED
    assert result.payment.captured == result.payment.amount == Decimal("50.89")
    async with h.sessions() as s:
        order = await s.get(Order, result.order_id)
        assert (order.status, order.status_sequence) == ("COMPLETED", 10)
        events = (await s.execute(select(OrderEvent.status).where(OrderEvent.order_id == order.id)
                                  .order_by(OrderEvent.sequence))).scalars().all()
        assert events == [s_.value for s_ in FULL_PATH]
        mug = await s.get(StockLevel, "MUG-001")
        assert (mug.on_hand, mug.reserved) == (198, 0)
        assert await s.scalar(select(func.count()).select_from(PimUpdate).where(PimUpdate.order_id == order.id)) == 10
        channels = (await s.execute(select(CustomerMessage.channel, CustomerMessage.sequence)
                                    .where(CustomerMessage.order_id == order.id))).all()
        # e-mail and SMS once for each status the customer hears about (confirmed, shipped,
        # delivered, feedback request)
        assert sorted(c for c, _ in channels).count("email") == 4
        assert sorted(c for c, _ in channels).count("sms") == 4
        intent = (await s.execute(select(SandboxPaymentIntent))).scalar_one()
        assert (intent.status, intent.captured) == ("captured", intent.authorized)
    assert tn


async def test_ideal_order_is_paid_at_once_and_completes_on_feedback(make_harness) -> None:
    async with make_harness() as h:
        handle = await h.start(payment={"method": "ideal", "token": "tok_ideal"})
        view = await wait_for_status(handle, OrderStatus.PICKING)
        assert view.payment.status == PaymentStatus.CAPTURED  # paid at once
        await drive_to_delivered(handle)
        r = await handle.execute_update(OrderWorkflow.submit_feedback, FeedbackInput(rating=5, comment="snel"))
        assert r.accepted
        result = await handle.result()
    assert result.status == OrderStatus.COMPLETED
    assert result.rating == 5
    statuses = [e.status for e in result.timeline if e.kind == TimelineKind.STATUS]
    assert OrderStatus.FEEDBACK_REQUESTED not in statuses  # feedback came before the request
    async with h.sessions() as s:
        feedback = await s.get(OrderFeedback, result.order_id)
        assert (feedback.rating, feedback.comment) == (5, "snel")


async def test_feedback_timers_ask_after_delay_then_complete_on_answer(make_harness) -> None:
    async with make_harness(own_server=True) as h:
        handle = await h.start()
        await drive_to_delivered(handle)
        # Three days later the customer is asked for feedback.
        await h.env.sleep(timedelta(days=3, minutes=1))
        await wait_for_status(handle, OrderStatus.FEEDBACK_REQUESTED)
        r = await handle.execute_update(OrderWorkflow.submit_feedback, FeedbackInput(rating=4))
        assert r.accepted
        result = await handle.result()
    assert result.status == OrderStatus.COMPLETED
    assert result.timeline[-1].message == "feedback: 4/5"


async def test_feedback_before_delivery_is_refused(make_harness) -> None:
    from temporalio.client import WorkflowUpdateFailedError

    async with make_harness() as h:
        handle = await h.start()
        await wait_for_status(handle, OrderStatus.PICKING)
        try:
            await handle.execute_update(OrderWorkflow.submit_feedback, FeedbackInput(rating=5))
        except WorkflowUpdateFailedError as err:
            assert "PICKING" in str(err.cause)
            assert "delivered" in str(err.cause)
        else:
            raise AssertionError("feedback before delivery was accepted")
        view = await handle.query(OrderWorkflow.view)
        assert view.rating is None
        await handle.terminate("test done")


async def test_one_feedback_reminder_then_completed_without_an_answer(make_harness) -> None:
    async with make_harness(own_server=True) as h:
        handle = await h.start(workflow_input={"feedback_reminder_after_seconds": timedelta(days=7).total_seconds()})
        await drive_to_delivered(handle)
        result = await handle.result()  # request after 3 days, reminder 7 days later, close 7 days after that

    statuses = [e.status for e in result.timeline if e.kind == TimelineKind.STATUS]
    assert statuses == [*FULL_PATH[:-1], OrderStatus.FEEDBACK_REQUESTED, OrderStatus.COMPLETED]
    reminder = [e for e in result.timeline if e.message == "feedback reminder"]
    asked = [e for e in result.timeline if e.message == "feedback asked for"]
    assert len(reminder) == 1
    assert timedelta(days=7) <= reminder[0].at - asked[0].at < timedelta(days=7, minutes=1)
    assert timedelta(days=14) <= result.timeline[-1].at - asked[0].at < timedelta(days=14, minutes=1)
    async with h.sessions() as s:
        bodies = (await s.execute(select(CustomerMessage.body).where(
            CustomerMessage.order_id == result.order_id, CustomerMessage.channel == "email")
            .order_by(CustomerMessage.sequence))).scalars().all()
    assert "herinnering" in bodies[-1] and len(bodies) == 5  # Anna's locale is Dutch


async def test_no_reminder_once_the_customer_answered(make_harness) -> None:
    async with make_harness(own_server=True) as h:
        handle = await h.start(workflow_input={"feedback_reminder_after_seconds": timedelta(days=7).total_seconds()})
        await drive_to_delivered(handle)
        await h.env.sleep(timedelta(days=4))
        await wait_for_status(handle, OrderStatus.FEEDBACK_REQUESTED)
        await handle.execute_update(OrderWorkflow.submit_feedback, FeedbackInput(rating=5))
        result = await handle.result()
    assert not any(e.message == "feedback reminder" for e in result.timeline)
    assert result.timeline[-1].message == "feedback: 5/5"


async def test_an_order_of_several_packages_is_delivered_when_every_package_is(make_harness) -> None:
    async with make_harness() as h:
        handle = await h.start(external_reference="MULTI-PACKAGE", lines=[{"sku": "LAMP-200", "quantity": 6}])
        await wait_for_status(handle, OrderStatus.PICKING)
        for step in (OrderWorkflow.confirm_picked, OrderWorkflow.confirm_packed, OrderWorkflow.confirm_handover):
            await handle.execute_update(step, StepConfirmation())
        view = await wait_for_status(handle, OrderStatus.SHIPPED)
        first, *others = view.shipment.all_tracking_numbers()
        assert others, "six desk lamps need more than one box"

        await handle.execute_update(OrderWorkflow.report_tracking, TrackingUpdate(
            tracking_number=first, event=TrackingEventKind.DELIVERED))
        note = f"carrier: package {first} delivered (1 of {1 + len(others)})"
        for _ in range(200):  # the update is answered when queued; the workflow notes it next
            view = await handle.query(OrderWorkflow.view)
            if note in [e.message for e in view.timeline]:
                break
            await asyncio.sleep(0.05)
        assert view.status == OrderStatus.SHIPPED
        assert note in [e.message for e in view.timeline]
        for number in others:
            await handle.execute_update(OrderWorkflow.report_tracking, TrackingUpdate(
                tracking_number=number, event=TrackingEventKind.DELIVERED))
        await wait_for_status(handle, OrderStatus.DELIVERED)
