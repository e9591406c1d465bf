"""Binds the order and activity to every log line an activity writes (structlog contextvars),
so an operator can follow one order through the worker's logs."""

from typing import Any

import structlog
from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor


class _BindOrderContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        order_id = info.workflow_id.removeprefix("order-") if info.workflow_id else None
        with structlog.contextvars.bound_contextvars(
            order_id=order_id, workflow_id=info.workflow_id, activity=info.activity_type,
            attempt=info.attempt, request_id=f"{info.workflow_run_id}:{info.activity_id}",
        ):
            return await super().execute_activity(input)


class LoggingInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BindOrderContext(next)
