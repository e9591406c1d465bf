"""The return workflow: one durable process per return (``return-{return_id}``), started by
the API once the return is registered in the database.

Registered → waiting for the parcel (closed after a set time) → received and inspected by the
warehouse (an Update, so the HTTP caller gets a 409 when the return is past that step) → the
stock booked → refunded with a credit note. The customer is told at each step.

A refund the provider keeps failing (REFUND_RETRY's attempts used up) or refuses raises a
``failed_refund`` alert and ends the return REFUND_FAILED: operations refund by hand (a case for
the order, resolved with a refund action) rather than the return waiting on with no one to
retry it.
"""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.alerts import AlertActivities
    from activities.return_labels import ReturnLabelActivities
    from activities.returns import ReturnActivities
    from domain.enums import AlertKind, ErrorType
    from domain.models import RaiseAlertRequest
    from domain.returns import (
        InspectionInput,
        InspectionRequest,
        RefundRequest,
        RefundResult,
        ReturnLabel,
        ReturnLabelRequest,
        ReturnStatus,
        ReturnStatusChange,
        ReturnStepResult,
        ReturnView,
        ReturnWorkflowInput,
    )

# Returns whose refund failed before failures raised an alert replay without raising one.
FAILED_REFUND_ALERT_PATCH = "failed-refund-alert"
# Returns registered before return labels existed replay without booking one.
RETURN_LABEL_PATCH = "return-label"
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    non_retryable_error_types=[e.value for e in ErrorType],
)
# A refund the provider keeps failing (it is down) is given up after this many attempts and
# handed to operations, rather than retried for ever.
REFUND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=8,
    non_retryable_error_types=[e.value for e in ErrorType],
)
ACTIVITY_TIMEOUT = timedelta(seconds=30)


@workflow.defn(name="ReturnWorkflow")
class ReturnWorkflow:
    def __init__(self) -> None:
        self._return_id = ""
        self._order_id: str | None = None
        self._status = ReturnStatus.AWAITING_PARCEL
        self._inspection: InspectionInput | None = None
        self._label: ReturnLabel | None = None

    @workflow.run
    async def run(self, input: ReturnWorkflowInput) -> ReturnView:
        self._return_id = input.return_id
        detail = await self._book_return_label() if workflow.patched(RETURN_LABEL_PATCH) else None
        await self._set_status(ReturnStatus.AWAITING_PARCEL, detail)
        if not await self._parcel_arrives(input.parcel_wait_seconds):
            await self._set_status(ReturnStatus.EXPIRED, "no parcel arrived within the return's waiting time")
            return self._view()
        await self._book_inspection()
        await self._set_status(ReturnStatus.INSPECTED, None)
        await self._refund()
        return self._view()

    async def _book_return_label(self) -> str:
        """The customer's return label; a return without one (no carrier takes the parcel)
        still goes on: the customer is told to send it at their own cost."""
        try:
            self._label = await workflow.execute_activity_method(
                ReturnLabelActivities.create_return_label,
                ReturnLabelRequest(return_id=self._return_id, idempotency_key=f"{workflow.info().workflow_id}:label"),
                start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY)
        except ActivityError as err:
            cause = err.cause
            return f"no return label could be booked ({cause.message if isinstance(cause, ApplicationError) else err})"
        return (f"return label: {self._label.carrier} {self._label.tracking_number}, "
                f"download it at {self._label.url}")

    async def _parcel_arrives(self, seconds: float) -> bool:
        try:
            await workflow.wait_condition(lambda: self._inspection is not None, timeout=timedelta(seconds=seconds))
            return True
        except asyncio.TimeoutError:
            return False

    async def _book_inspection(self) -> None:
        assert self._inspection is not None
        await workflow.execute_activity_method(
            ReturnActivities.book_return_inspection,
            InspectionRequest(return_id=self._return_id, inspection=self._inspection),
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY)

    async def _refund(self) -> None:
        try:
            refund: RefundResult = await workflow.execute_activity_method(
                ReturnActivities.refund_return,
                # The actor only changes the activity's input, not the commands: old histories replay.
                RefundRequest(return_id=self._return_id, idempotency_key=f"{workflow.info().workflow_id}:refund",
                              actor=self._inspection.actor if self._inspection else None),
                start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=REFUND_RETRY)
        except ActivityError as err:
            cause = err.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(err)
            if workflow.patched(FAILED_REFUND_ALERT_PATCH):
                await self._raise_failed_refund(message)
            await self._set_status(ReturnStatus.REFUND_FAILED, f"refund failed: {message}")
            return
        if refund.credit_note_number is None:
            await self._set_status(ReturnStatus.REFUNDED, refund.note)
        else:
            detail = f"EUR {refund.amount} refunded; credit note {refund.credit_note_number}"
            await self._set_status(ReturnStatus.REFUNDED, detail)

    async def _raise_failed_refund(self, message: str) -> None:
        order = self._order_id or "unknown"
        await workflow.execute_activity_method(
            AlertActivities.raise_alert, RaiseAlertRequest(
                kind=AlertKind.FAILED_REFUND, order_id=self._order_id, reference=self._return_id,
                dedupe_key=f"failed_refund:return:{self._return_id}", raised_at=workflow.now(),
                message=f"The refund for return {self._return_id} of order {order} failed after its retries: "
                        f"{message}. Refund by hand: open a case for the order and resolve it with a refund."),
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY)

    async def _set_status(self, status: ReturnStatus, reason: str | None) -> None:
        self._status = status
        published: ReturnStatusChange = await workflow.execute_activity_method(
            ReturnActivities.publish_return_status,
            ReturnStatusChange(return_id=self._return_id, status=status, reason=reason),
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY)
        self._order_id = published.order_id or self._order_id

    def _view(self) -> ReturnView:
        return ReturnView(return_id=self._return_id, status=self._status, inspected=self._inspection is not None,
                          label=self._label)

    @workflow.query
    def view(self) -> ReturnView:
        return self._view()

    @workflow.update
    async def record_inspection(self, inspection: InspectionInput) -> ReturnStepResult:
        if self._inspection is not None:
            return ReturnStepResult(accepted=False, status=self._status, message="the return was already inspected")
        self._inspection = inspection
        return ReturnStepResult(accepted=True, status=self._status, message="inspection recorded")

    @record_inspection.validator
    def _validate_inspection(self, inspection: InspectionInput) -> None:
        if self._inspection is None and self._status != ReturnStatus.AWAITING_PARCEL:
            raise ApplicationError(f"return is {self._status.value}; it takes no inspection any more",
                                   {"status": self._status.value}, type="StepRefused")
