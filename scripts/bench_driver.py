"""Load for the benchmark and the resilience tests: orders written to the database and started
the way the API starts them, and a simulated warehouse, carrier and customer that answer each
human step as soon as an order reaches it.

The driver learns where orders are from Temporal's visibility API: one list call per tick for
all running orders of a workflow type (by the ``OrderStatus`` search attribute), never a
query per order. It sends the step's update directly to the workflow; a refused or failed
update is simply tried again on a later tick (an accepted repeat is a harmless no-op).
"""

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.common import TypedSearchAttributes  # noqa: E402

from api.temporal import order_workflow_input, workflow_id
from domain.intake import NewOrder
from domain.models import CancelRequest, StepConfirmation, TrackingUpdate
from settings import Settings
from storage.db import transaction
from storage.orders import add_order
from storage.queries import mark_workflow_started
from workflows import search_attributes as sa
from workflows.order import OrderWorkflow

BENCH_SKU = "TEA-100"

# status the order waits in -> (update name, argument)
STEPS: dict[str, tuple[str, Any]] = {
    "PICKING": ("confirm_picked", StepConfirmation(confirmed_by="bench warehouse")),
    "PACKING": ("confirm_packed", StepConfirmation(confirmed_by="bench warehouse")),
    "READY_TO_SHIP": ("confirm_handover", StepConfirmation(confirmed_by="bench warehouse")),
    "SHIPPED": ("report_tracking", TrackingUpdate(tracking_number="BENCH", event="IN_TRANSIT")),
    "IN_TRANSIT": ("report_tracking", TrackingUpdate(tracking_number="BENCH", event="DELIVERED")),
}


def order_body(reference: str, *, sku: str = BENCH_SKU, quantity: int = 1, token: str = "tok_visa",
               method: str = "card", backorder_policy: str = "ask") -> dict[str, Any]:
    return {
        "external_reference": reference,
        "customer": {"id": f"cust-{reference}", "name": "Bench Customer", "email": "bench@example.nl",
                     "phone": "+31612345678", "locale": "nl", "notification_channels": ["email"]},
        "shipping_address": {"country": "NL", "street": "Damrak", "house_number": "1", "postcode": "1012 LG",
                             "city": "Amsterdam"},
        "lines": [{"sku": sku, "quantity": quantity}],
        "payment": {"method": method, "token": token},
        "shipping": {"preference": "cheapest"},
        "backorder_policy": backorder_policy,
    }


async def create_orders(sessions: async_sessionmaker[AsyncSession], prefix: str, n: int,
                        **body: Any) -> list[str]:
    """Write ``n`` orders as the API would (without starting them); returns their ids."""
    ids = []
    async with transaction(sessions) as session:
        for i in range(n):
            order = await add_order(session, "webshop", NewOrder.model_validate(order_body(f"{prefix}-{i}", **body)))
            ids.append(order.id)
    return ids


async def start_order(client: Client, settings: Settings, order_id: str) -> None:
    """``client.start_workflow`` exactly as the API calls it."""
    await client.start_workflow(
        OrderWorkflow.run, order_workflow_input(settings, order_id), id=workflow_id(order_id),
        task_queue=settings.task_queue, id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=sa.for_new_order("webshop", f"cust-{order_id}"))


async def mark_started(sessions: async_sessionmaker[AsyncSession], ids: Iterable[str]) -> None:
    async with transaction(sessions) as session:
        for order_id in ids:
            await mark_workflow_started(session, order_id)


async def bounded(coros: Iterable[Any], limit: int) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def one(coro: Any) -> Any:
        async with semaphore:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


@dataclass
class Driver:
    """Answers human steps for running workflows of one type until enough have closed."""

    client: Client
    workflow_type: str
    cancel: set[str] = field(default_factory=set)  # workflow ids to cancel at PICKING instead
    tick: float = 0.25
    concurrency: int = 50
    sent: dict[str, set[str]] = field(default_factory=dict)
    updates_sent: int = 0
    update_errors: int = 0

    async def closed(self) -> int:
        count = await self.client.count_workflows(
            f'WorkflowType="{self.workflow_type}" AND ExecutionStatus!="Running"')
        return count.count

    async def run_until(self, closed_target: int, timeout: float) -> float:
        """Drive until ``closed_target`` workflows of the type have closed; returns seconds taken."""
        started = time.monotonic()
        semaphore = asyncio.Semaphore(self.concurrency)
        pending: set[asyncio.Task[None]] = set()
        while True:
            if await self.closed() >= closed_target:
                break
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{self.workflow_type}: fewer than {closed_target} closed after {timeout:.0f} s")
            statuses = ", ".join(f'"{s}"' for s in STEPS)
            query = f'WorkflowType="{self.workflow_type}" AND ExecutionStatus="Running" AND OrderStatus IN ({statuses})'
            async for wf in self.client.list_workflows(query):
                status = TypedSearchAttributes.get(wf.typed_search_attributes, sa.ORDER_STATUS)
                if status is None or status in self.sent.setdefault(wf.id, set()):
                    continue
                self.sent[wf.id].add(status)
                task = asyncio.create_task(self._answer(semaphore, wf.id, status))
                pending.add(task)
                task.add_done_callback(pending.discard)
            await asyncio.sleep(self.tick)
        for task in list(pending):
            task.cancel()
        return time.monotonic() - started

    async def _answer(self, semaphore: asyncio.Semaphore, wid: str, status: str) -> None:
        name, arg = STEPS[status]
        if status == "PICKING" and wid in self.cancel:
            name, arg = "cancel_order", CancelRequest(reason="resilience test: cancelled at PICKING", requested_by="bench")
        async with semaphore:
            try:
                await asyncio.wait_for(self.client.get_workflow_handle(wid).execute_update(name, arg), 30)
                self.updates_sent += 1
            except Exception:  # noqa: BLE001 (a dead worker or server: try again on a later tick)
                self.update_errors += 1
                self.sent[wid].discard(status)
