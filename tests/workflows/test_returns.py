"""The return workflow with time-skipping: a parcel that never arrives closes the return (and
frees its quantities); an inspected return is refunded once, also when the refund activity
runs twice with the same key."""

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select

from activities.adapters.sandbox_payments import SandboxPaymentProvider
from activities.adapters.sandbox_outbound import SandboxNotifier
from activities.returns import ReturnActivities
from domain.enums import NotificationChannel
from domain.returns import (
    Disposition,
    InspectedLine,
    InspectionInput,
    RefundRequest,
    ReturnLineRequest,
    ReturnStatus,
    ReturnWorkflowInput,
)
from storage.db import transaction
from storage.models import Refund, Return
from storage.returns import register_return, returned_quantities
from tests.returns_helpers import delivered_order
from workflows.returns import ReturnWorkflow


async def _register(sessions, order_id: str, lines: list[tuple[int, int]]) -> str:
    async with transaction(sessions) as session:
        ret = await register_return(session, order_id, [ReturnLineRequest(line_no=n, quantity=q) for n, q in lines],
                                    "changed my mind", "test", now=datetime.now(UTC), window_days=30)
        return ret.id


async def test_a_return_whose_parcel_never_arrives_is_closed_and_frees_its_quantities(make_harness) -> None:
    async with make_harness(own_server=True) as h:
        order_id = await delivered_order(h.sessions)
        return_id = await _register(h.sessions, order_id, [(1, 2)])
        handle = await h.client.start_workflow(
            ReturnWorkflow.run, ReturnWorkflowInput(return_id=return_id, parcel_wait_seconds=7 * 86400),
            id=f"return-{return_id}", task_queue=h.task_queue)
        h.started.append(handle.id)
        view = await handle.result()  # skips the week
        assert view.status == ReturnStatus.EXPIRED and view.inspected is False
        async with h.sessions() as session:
            ret = await session.get(Return, return_id)
            assert ret is not None and ret.status == ReturnStatus.EXPIRED
            assert await returned_quantities(session, order_id) == {}
            assert (await session.execute(select(Refund))).scalars().all() == []


async def test_an_inspection_before_the_deadline_leads_to_the_refund(make_harness) -> None:
    async with make_harness(own_server=True) as h:
        order_id = await delivered_order(h.sessions)
        return_id = await _register(h.sessions, order_id, [(2, 1)])
        handle = await h.client.start_workflow(
            ReturnWorkflow.run, ReturnWorkflowInput(return_id=return_id, parcel_wait_seconds=7 * 86400),
            id=f"return-{return_id}", task_queue=h.task_queue)
        h.started.append(handle.id)
        await h.env.sleep(6 * 86400)
        result = await handle.execute_update(ReturnWorkflow.record_inspection, InspectionInput(
            lines=[InspectedLine(line_no=2, disposition=Disposition.RESELLABLE)]))
        assert result.accepted
        view = await handle.result()
        assert view.status == ReturnStatus.REFUNDED


async def test_the_same_refund_key_twice_at_once_refunds_once_with_one_credit_note(sessions) -> None:
    from tests.factories import seed

    await seed(sessions)
    order_id = await delivered_order(sessions)
    return_id = await _register(sessions, order_id, [(1, 1)])
    activities = ReturnActivities(sessions, SandboxPaymentProvider(sessions),
                                  {c: SandboxNotifier(sessions) for c in NotificationChannel})
    req = RefundRequest(return_id=return_id, idempotency_key=f"return-{return_id}:refund")
    first, second = await asyncio.gather(activities.refund_return(req), activities.refund_return(req))
    assert first == second and first.credit_note_number == 1
    again = await activities.refund_return(req)
    assert again == first
    async with sessions() as session:
        refunds = (await session.execute(select(Refund))).scalars().all()
    assert [(r.credit_note_number, str(r.amount)) for r in refunds] == [(1, "12.95")]
