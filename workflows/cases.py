"""The case-refund workflow: one short durable run per case resolved with a refund
(``case-refund-{case_id}``), started by ``POST /cases/{id}/resolve`` once the resolution is
stored. The refund is retried while the provider fails; when the retries are used up (or the
provider refuses), the case records the failure and a ``failed_refund`` alert tells operations,
who refund by hand. The workflow id makes a repeated start a no-op: one refund per case.
"""

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.alerts import AlertActivities
    from activities.cases import CaseActivities
    from domain.cases import CaseRefundFailed, CaseRefundInput, CaseRefundResult
    from domain.enums import AlertKind
    from domain.models import RaiseAlertRequest
    from workflows.activity_options import ACTIVITY_TIMEOUT, REFUND_RETRY, RETRY


def case_refund_workflow_id(case_id: str) -> str:
    return f"case-refund-{case_id}"


@workflow.defn(name="CaseRefundWorkflow")
class CaseRefundWorkflow:
    @workflow.run
    async def run(self, input: CaseRefundInput) -> CaseRefundResult:
        try:
            return await workflow.execute_activity_method(
                CaseActivities.refund_case, input, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=REFUND_RETRY)
        except ActivityError as err:
            cause = err.cause
            reason = cause.message if isinstance(cause, ApplicationError) else str(err)
        failed = await workflow.execute_activity_method(
            CaseActivities.record_case_refund_failure, CaseRefundFailed(case_id=input.case_id, reason=reason),
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY)
        await workflow.execute_activity_method(
            AlertActivities.raise_alert, RaiseAlertRequest(
                kind=AlertKind.FAILED_REFUND, order_id=failed.order_id, reference=input.case_id,
                dedupe_key=f"failed_refund:case:{input.case_id}", raised_at=workflow.now(),
                message=f"The refund for case {input.case_id} (order {failed.order_id}) failed: {reason}. "
                        "Refund it by hand with the payment provider."),
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY)
        return CaseRefundResult(amount=0, failure=reason)
