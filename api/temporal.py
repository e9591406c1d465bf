"""The API's side of Temporal: start an order's workflow (and repair a start that a crash
missed, and a case refund's that an outage missed), send it updates with refusals mapped to
HTTP answers, and read its live view."""

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.adapters.temporal_case_refunds import start_pending_case_refunds
from api.errors import ApiError
from domain.enums import OrderStatus
from domain.models import OrderView, OrderWorkflowInput, StepResult
from logs import get_logger
from settings import Settings
from storage.db import transaction
from storage.models import Order
from storage.queries import get_order, mark_workflow_started, unstarted_order_ids
from workflows import search_attributes as sa
from workflows.order import OrderWorkflow

log = get_logger(__name__)

QUERY_TIMEOUT = timedelta(seconds=5)
UNAVAILABLE_CODES = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED}


def workflow_id(order_id: str) -> str:
    return f"order-{order_id}"


def is_unavailable(exc: BaseException) -> bool:
    """Temporal cannot be reached: the server is down, or a lazy client never connected."""
    if isinstance(exc, RPCError):
        return exc.status in UNAVAILABLE_CODES
    if isinstance(exc, WorkflowUpdateRPCTimeoutOrCancelledError):
        return True
    # The SDK reports a failed (lazy) connection as a plain RuntimeError.
    return isinstance(exc, RuntimeError) and str(exc).startswith("Failed client connect")


def temporal_unavailable(action: str) -> ApiError:
    return ApiError(503, f"Temporal is not reachable, so the order could not be {action}; try again shortly",
                    headers={"Retry-After": "5"})


def order_workflow_input(settings: Settings, order_id: str, *, ship_partial: bool = False) -> OrderWorkflowInput:
    """The order's workflow input: its id, whether it may ship in parts, and the timers and
    policies in force now."""
    return OrderWorkflowInput(
        order_id=order_id, ship_partial=ship_partial,
        feedback_request_delay_seconds=settings.feedback_request_delay_seconds,
        feedback_wait_seconds=settings.feedback_wait_seconds,
        feedback_reminder_after_seconds=settings.feedback_reminder_after_seconds,
        backorder_decision_timeout_seconds=settings.backorder_decision_timeout_seconds,
        backorder_default=settings.backorder_default,
        authorization_validity_seconds=settings.authorization_validity_seconds,
        new_payment_wait_seconds=settings.new_payment_wait_seconds,
    )


async def start_order_workflow(
    client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession], order: Order
) -> None:
    """Start the order's workflow unless it runs already, then record that it was started."""
    try:
        await client.start_workflow(
            OrderWorkflow.run,
            order_workflow_input(settings, order.id, ship_partial=order.ship_partial),
            id=workflow_id(order.id),
            task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=sa.for_new_order(order.channel, order.customer_id),
        )
        log.info("order workflow started", order_id=order.id, workflow_id=workflow_id(order.id))
    except WorkflowAlreadyStartedError:
        pass  # a twin request or the startup sweep got there first
    async with transaction(sessions) as session:
        await mark_workflow_started(session, order.id)
    order.workflow_started = True


async def ensure_started(
    client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession], order: Order
) -> None:
    """Crash repair on touch: an order whose workflow was never started is started now."""
    if order.workflow_started:
        return
    try:
        await start_order_workflow(client, settings, sessions, order)
    except Exception as exc:
        if is_unavailable(exc):
            raise temporal_unavailable("started") from exc
        raise


async def sweep_unstarted_orders(client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> int:
    """Start the workflow of every stored order whose start a crash interrupted."""
    async with sessions() as session:
        order_ids = await unstarted_order_ids(session)
    started = 0
    for order_id in order_ids:
        async with sessions() as session:
            order = await get_order(session, order_id)
        if order is None or order.workflow_started:
            continue
        await start_order_workflow(client, settings, sessions, order)
        started += 1
    if started:
        log.warning("started workflows of orders that were stored but never started", count=started)
    return started


async def sweep_until_done(client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> int:
    """The startup sweep, retried with back-off while Temporal is unreachable: the orders never
    started, and the case refunds left pending; how many workflows it started."""
    delay = 1.0
    while True:
        try:
            return (await sweep_unstarted_orders(client, settings, sessions)
                    + await start_pending_case_refunds(client, settings.task_queue, sessions))
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.warning("startup sweep waits for Temporal", error=str(exc), retry_in_seconds=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def live_view(client: Client, order_id: str) -> OrderView | None:
    """The running workflow's own view, or None when it cannot be asked (not found, Temporal
    down, no worker answering): the caller falls back to the read model."""
    handle = client.get_workflow_handle_for(OrderWorkflow.run, workflow_id(order_id))
    try:
        return await handle.query(OrderWorkflow.view, rpc_timeout=QUERY_TIMEOUT)
    except (RPCError, WorkflowQueryFailedError, RuntimeError) as exc:
        if isinstance(exc, RuntimeError) and not is_unavailable(exc):
            raise
        log.warning("order query failed; answering from the read model", order_id=order_id, error=str(exc))
        return None


async def send_update(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    order: Order,
    update: Any,
    arg: Any,
) -> StepResult:
    """Send ``update`` to the order's workflow.

    A refusal by the workflow's validator → 409 with its message and the current status; a
    closed workflow → 409 naming the read model's status; no workflow → 404.
    """
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(workflow_id(order.id))
    try:
        return await handle.execute_update(update, arg, result_type=StepResult)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == "StepRefused":
            details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
            raise ApiError(409, cause.message, status=details.get("status", order.status)) from exc
        raise
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            await _closed_or_missing(handle, sessions, order)
        if is_unavailable(exc):
            raise temporal_unavailable("updated") from exc
        raise
    except (WorkflowUpdateRPCTimeoutOrCancelledError, RuntimeError) as exc:
        if is_unavailable(exc):
            raise temporal_unavailable("updated") from exc
        raise


async def _closed_or_missing(
    handle: WorkflowHandle[Any, Any], sessions: async_sessionmaker[AsyncSession], order: Order
) -> None:
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(404, f"order {order.id} has no workflow in Temporal (workflow id {handle.id}); "
                                "it may have passed the namespace's retention") from exc
        raise
    if description.status is None or description.status.name == "RUNNING":
        return  # not closed: let the caller report the original error
    async with sessions() as session:
        current = await session.get(Order, order.id)
    status = current.status if current is not None else order.status
    raise ApiError(409, f"order {order.id} is {status}: its workflow has ended "
                        f"({description.status.name}), so it takes no more steps", status=status)
