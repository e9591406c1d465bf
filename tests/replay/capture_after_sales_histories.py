"""Capture histories of the after-sales workflows for the replay tests. Not collected by
default; run:

    .venv/bin/pytest tests/replay/capture_after_sales_histories.py

Writes new files into tests/replay/histories/ (today's date); never regenerates one.
"""

from datetime import UTC, datetime
from decimal import Decimal

from domain.cases import CaseActionKind, CaseActionStatus, CaseKind, CaseRefundInput
from domain.returns import Disposition, InspectedLine, InspectionInput, ReturnWorkflowInput
from storage.cases import open_case
from storage.db import transaction
from tests.replay.capture_histories import _save
from tests.returns_helpers import delivered_order
from tests.workflows.test_failed_refunds import always_failing
from tests.workflows.test_returns import _register
from workflows.cases import CaseRefundWorkflow
from workflows.returns import ReturnWorkflow


async def _resolved_with_refund(sessions, order_id: str, amount: str) -> str:
    async with transaction(sessions) as session:
        case = await open_case(session, kind=CaseKind.DAMAGED, subject="replay", opened_by="replay", order_id=order_id)
        case.status, case.resolved_at = "resolved", datetime.now(UTC)
        case.action_kind, case.refund_amount = CaseActionKind.REFUND.value, Decimal(amount)
        case.action_status = CaseActionStatus.PENDING.value
        return case.id


async def test_capture_case_refunds(make_harness) -> None:
    async with make_harness() as h:
        order_id = await delivered_order(h.sessions)
        case_id = await _resolved_with_refund(h.sessions, order_id, "5.00")
        handle = await h.client.start_workflow(CaseRefundWorkflow.run, CaseRefundInput(case_id=case_id),
                                               id=f"case-refund-{case_id}", task_queue=h.task_queue)
        await handle.result()
        await _save(handle, "refunded", workflow_type="caserefund")


async def test_capture_failed_refunds(make_harness) -> None:
    failing = {"refund_case": always_failing("refund_case"), "refund_return": always_failing("refund_return")}
    async with make_harness(own_server=True, replace=failing) as h:
        order_id = await delivered_order(h.sessions)
        case_id = await _resolved_with_refund(h.sessions, order_id, "5.00")
        handle = await h.client.start_workflow(CaseRefundWorkflow.run, CaseRefundInput(case_id=case_id),
                                               id=f"case-refund-{case_id}", task_queue=h.task_queue)
        await handle.result()
        await _save(handle, "failed_with_alert", workflow_type="caserefund")

        return_id = await _register(h.sessions, order_id, [(1, 1)])
        handle = await h.client.start_workflow(ReturnWorkflow.run, ReturnWorkflowInput(return_id=return_id),
                                               id=f"return-{return_id}", task_queue=h.task_queue)
        await handle.execute_update(ReturnWorkflow.record_inspection, InspectionInput(
            lines=[InspectedLine(line_no=1, disposition=Disposition.RESELLABLE)]))
        await handle.result()
        await _save(handle, "refund_failed_with_alert", workflow_type="return")
