"""Human steps: early confirmations are kept, repeats are harmless, skipped steps are refused
with the current status; signals of the same names work for the CLI."""

import asyncio

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.enums import OrderStatus, TimelineKind
from domain.models import StepConfirmation
from tests.workflows.conftest import gated, wait_for_status
from workflows.order import OrderWorkflow


async def test_pick_sent_while_stock_is_being_reserved_is_applied(make_harness) -> None:
    started, release, wrap = gated("reserve_order_stock")
    async with make_harness(replace={"reserve_order_stock": wrap}) as h:
        handle = await h.start()
        await asyncio.wait_for(started.wait(), 20)
        r = await handle.execute_update(OrderWorkflow.confirm_picked, StepConfirmation(confirmed_by="piet"))
        assert r.accepted and r.status == OrderStatus.PAYMENT_AUTHORIZED
        assert "applied when it reaches PICKING" in r.message
        release.set()
        # The recorded pick is applied as soon as the order gets there: it moves on to PACKING.
        view = await wait_for_status(handle, OrderStatus.PACKING)
        statuses = [e.status for e in view.timeline if e.kind == TimelineKind.STATUS]
        assert statuses[-2:] == [OrderStatus.PICKING, OrderStatus.PACKING]
        await handle.terminate("test done")


async def test_duplicate_pick_is_a_harmless_no_op(make_harness) -> None:
    async with make_harness() as h:
        handle = await h.start()
        await wait_for_status(handle, OrderStatus.PICKING)
        first = await handle.execute_update(OrderWorkflow.confirm_picked, StepConfirmation())
        again = await handle.execute_update(OrderWorkflow.confirm_picked, StepConfirmation())
        assert first.accepted and not again.accepted
        assert again.message == "pick was already confirmed"
        view = await wait_for_status(handle, OrderStatus.PACKING)
        assert [e.status for e in view.timeline if e.kind == TimelineKind.STATUS].count(OrderStatus.PACKING) == 1
        await handle.terminate("test done")


@pytest.mark.parametrize("step, wanted", [
    (OrderWorkflow.confirm_packed, "confirm the pick before the pack"),
    (OrderWorkflow.confirm_handover, "confirm the pack before the handover"),
])
async def test_skipping_a_step_is_refused_with_the_current_status(make_harness, step, wanted) -> None:
    async with make_harness() as h:
        handle = await h.start()
        await wait_for_status(handle, OrderStatus.PICKING)
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await handle.execute_update(step, StepConfirmation())
        assert err.value.cause.message == f"order is PICKING; {wanted}"
        assert err.value.cause.details[0] == {"status": "PICKING"}
        view = await handle.query(OrderWorkflow.view)
        assert view.status == OrderStatus.PICKING
        await handle.terminate("test done")


async def test_steps_after_the_order_is_cancelled_are_refused(make_harness) -> None:
    from domain.models import CancelRequest

    async with make_harness() as h:
        handle = await h.start()
        await wait_for_status(handle, OrderStatus.PICKING)
        await handle.execute_update(OrderWorkflow.cancel_order, CancelRequest(reason="changed my mind"))
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(OrderWorkflow.confirm_picked, StepConfirmation())
        result = await handle.result()
        assert result.status == OrderStatus.CANCELLED


async def test_signals_drive_the_order_and_a_refused_signal_is_recorded_as_ignored(make_harness) -> None:
    async with make_harness() as h:
        handle = await h.start()
        await wait_for_status(handle, OrderStatus.PICKING)
        await handle.signal("confirm_packed", StepConfirmation(confirmed_by="cli"))  # skips the pick
        await handle.signal("confirm_picked", StepConfirmation(confirmed_by="cli"))
        view = await wait_for_status(handle, OrderStatus.PACKING)
        ignored = [e for e in view.timeline if e.kind == TimelineKind.IGNORED]
        assert len(ignored) == 1
        assert ignored[0].message == "signal confirm_packed ignored: order is PICKING; confirm the pick before the pack"
        await handle.signal("confirm_packed", StepConfirmation(confirmed_by="cli"))
        await wait_for_status(handle, OrderStatus.READY_TO_SHIP)
        await handle.terminate("test done")
