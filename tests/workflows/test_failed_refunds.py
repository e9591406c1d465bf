"""Refunds that keep failing: once the retry policy gives up, a ``failed_refund`` alert tells
operations (once, naming the order, which then needs attention), the return ends
REFUND_FAILED and the case records the failure; nothing is refunded."""

import typing
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from temporalio import activity

from domain.cases import CaseActionKind, CaseActionStatus, CaseKind, CaseRefundInput
from domain.returns import Disposition, InspectedLine, InspectionInput, ReturnStatus, ReturnWorkflowInput
from storage.cases import open_case
from storage.db import transaction
from storage.models import Alert, Order, Refund, Return, ServiceCase
from tests.returns_helpers import delivered_order
from tests.workflows.test_returns import _register
from workflows.cases import CaseRefundWorkflow
from workflows.returns import ReturnWorkflow

calls: dict[str, int] = {}


def always_failing(name: str):
    """The activity in ``real``'s place fails every attempt, as a provider that is down does."""

    def wrap(real):
        async def failing(arg: Any) -> Any:
            calls[name] = calls.get(name, 0) + 1
            raise RuntimeError("payment provider: 503 service unavailable")

        hints = typing.get_type_hints(real)
        (arg_type,) = [t for n, t in hints.items() if n != "return"]
        failing.__annotations__ = {"arg": arg_type, "return": hints["return"]}
        return activity.defn(name=name)(failing)

    return wrap


async def _alerts(sessions) -> list[Alert]:
    async with sessions() as session:
        return list((await session.execute(select(Alert))).scalars())


async def test_a_return_whose_refund_keeps_failing_raises_one_alert_and_ends_refund_failed(make_harness) -> None:
    calls.clear()
    async with make_harness(own_server=True, replace={"refund_return": always_failing("refund_return")}) as h:
        order_id = await delivered_order(h.sessions)
        return_id = await _register(h.sessions, order_id, [(1, 1)])
        handle = await h.client.start_workflow(
            ReturnWorkflow.run, ReturnWorkflowInput(return_id=return_id), id=f"return-{return_id}",
            task_queue=h.task_queue)
        h.started.append(handle.id)
        await handle.execute_update(ReturnWorkflow.record_inspection, InspectionInput(
            lines=[InspectedLine(line_no=1, disposition=Disposition.RESELLABLE)]))
        view = await handle.result()  # skips through the retries' back-off
    assert view.status == ReturnStatus.REFUND_FAILED
    assert calls["refund_return"] == 8  # REFUND_RETRY's attempts, then given up
    [alert] = await _alerts(h.sessions)
    assert (alert.kind, alert.order_id, alert.reference) == ("failed_refund", order_id, return_id)
    assert "503" in alert.message and alert.resolved_at is None
    async with h.sessions() as session:
        ret = await session.get(Return, return_id)
        order = await session.get(Order, order_id)
        assert ret.status == ReturnStatus.REFUND_FAILED and "503" in (ret.status_reason or "")
        assert order.needs_attention is True
        assert (await session.execute(select(Refund))).scalars().all() == []


async def test_a_case_refund_that_keeps_failing_is_recorded_on_the_case_with_an_alert(make_harness) -> None:
    calls.clear()
    async with make_harness(own_server=True, replace={"refund_case": always_failing("refund_case")}) as h:
        order_id = await delivered_order(h.sessions)
        async with transaction(h.sessions) as session:
            case = await open_case(session, kind=CaseKind.DAMAGED, subject="broken", opened_by="test", order_id=order_id)
            case.status, case.resolved_at = "resolved", datetime.now(UTC)
            case.action_kind, case.refund_amount = CaseActionKind.REFUND.value, Decimal("5.00")
            case.action_status = CaseActionStatus.PENDING.value
            case_id = case.id
        handle = await h.client.start_workflow(CaseRefundWorkflow.run, CaseRefundInput(case_id=case_id),
                                               id=f"case-refund-{case_id}", task_queue=h.task_queue)
        h.started.append(handle.id)
        result = await handle.result()
    assert result.failure and "503" in result.failure and result.credit_note_number is None
    assert calls["refund_case"] == 8
    [alert] = await _alerts(h.sessions)
    assert (alert.kind, alert.order_id, alert.reference) == ("failed_refund", order_id, case_id)
    async with h.sessions() as session:
        case = await session.get(ServiceCase, case_id)
        assert case.action_status == "failed"
        assert any("refund failed" in n.text for n in case.notes)
