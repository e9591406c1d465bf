"""Search attributes on the real dev server (the time-skipping server has no visibility API):
the worker registers them idempotently and operations can find orders by status and customer."""

import asyncio
import uuid

from temporalio.common import WorkflowIDReusePolicy
from temporalio.testing import WorkflowEnvironment

from domain.models import OrderWorkflowInput
from settings import Settings
from tests.factories import place_order, seed
from worker import build_activities, build_worker, prepare_namespace
from workflows import search_attributes as sa
from workflows.order import OrderWorkflow


async def test_orders_are_found_by_status_and_customer(dev_server_env: WorkflowEnvironment, sessions, settings: Settings) -> None:
    client = dev_server_env.client
    # Twice: registration and retention must be idempotent on an existing namespace.
    await prepare_namespace(client, settings)
    await prepare_namespace(client, settings)
    await seed(sessions)
    order_id = await place_order(sessions, payment={"method": "card", "token": "tok_chargeDeclined"})
    customer = f"cus_{uuid.uuid4().hex[:8]}"
    local = settings.model_copy(update={"task_queue": f"orders-{uuid.uuid4().hex[:8]}"})
    async with build_worker(client, local, build_activities(local, sessions)):
        handle = await client.start_workflow(
            OrderWorkflow.run, OrderWorkflowInput(order_id=order_id), id=f"order-{order_id}",
            task_queue=local.task_queue, id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=sa.for_new_order("webshop", customer))
        await handle.result()

    query = f'OrderStatus = "PAYMENT_FAILED" AND CustomerId = "{customer}" AND Channel = "webshop"'
    for _ in range(100):  # visibility is eventually consistent
        found = [w.id async for w in client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.1)
    assert found == [handle.id]
