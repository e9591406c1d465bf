"""An order is never lost or charged twice whatever crashes: the worker is killed with SIGKILL
twice while a load of orders runs (dev server on a SQLite file, worker and API as real
processes), restarted each time, and afterwards every invariant is checked from the records:

- every order reaches the final status its scenario expects (half are driven to COMPLETED,
  half cancelled at PICKING);
- each payment is authorized once at the provider and captured once (completed) or voided
  (cancelled); one idempotency record per payment step;
- each stock movement (reserve, ship or release) exists once per order, and the SKU's stock
  adds up (nothing left reserved, on hand down by exactly the shipped units);
- the read model has each status change once, in sequence, and so do the PIM and the customer
  messages;
- every history replays without a determinism error.

The load is bounded so the test fits in about 90 s on a shared 2-core machine:
``ORDERFLOW_RESILIENCE_ORDERS`` raises it (e.g. 200 on a bigger machine).
"""

import asyncio
import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from scripts.bench_driver import BENCH_SKU, Driver, bounded, order_body
from scripts.stack import CHANNEL_KEY, OPS_KEY, Stack
from storage.db import create_engine, create_session_factory
from storage.models import (
    CustomerMessage, IdempotencyRecord, Order, OrderEvent, PimUpdate, SandboxPaymentIntent, StockLevel, StockMovement,
)
from workflows.order import OrderWorkflow
from workflows.replenishment import ReplenishmentWorkflow
from workflows.returns import ReturnWorkflow

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]

ORDERS = int(os.environ.get("ORDERFLOW_RESILIENCE_ORDERS", "30"))
FINISH_TIMEOUT = 150.0


async def place_orders(http: httpx.AsyncClient, n: int) -> list[str]:
    async def place(i: int) -> str:
        response = await http.post("/orders", json=order_body(f"RES-{i}"), headers=CHANNEL_KEY)
        assert response.status_code == 201, response.text
        return str(response.json()["order_id"])

    return await bounded((place(i) for i in range(n)), 10)


async def kill_and_restart_worker(stack: Stack, after: float) -> None:
    await asyncio.sleep(after)
    code = stack.processes.kill("worker", signal.SIGKILL)
    assert code == -signal.SIGKILL
    await asyncio.sleep(1)
    await stack.restart_worker()


async def test_orders_survive_two_worker_kills(stack: Stack) -> None:
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as http:
        level = (await http.get(f"/stock/{BENCH_SKU}", headers=OPS_KEY)).json()
        on_hand_before = int(level["on_hand"])
        order_ids = await place_orders(http, ORDERS)
    cancelled = {oid for i, oid in enumerate(order_ids) if i % 2}
    driver = Driver(stack.temporal, "OrderWorkflow", cancel={f"order-{oid}" for oid in cancelled})

    async def chaos() -> None:
        await kill_and_restart_worker(stack, after=3)
        await kill_and_restart_worker(stack, after=8)

    chaos_task = asyncio.create_task(chaos())
    await driver.run_until(ORDERS, FINISH_TIMEOUT)
    await chaos_task
    print(f"{ORDERS} orders through two worker kills in {time.monotonic() - started:.0f} s "
          f"({driver.updates_sent} updates, {driver.update_errors} retried)")

    # Every workflow closed as its scenario expects.
    expected = {oid: "CANCELLED" if oid in cancelled else "COMPLETED" for oid in order_ids}
    for oid in order_ids:
        handle = stack.temporal.get_workflow_handle_for(OrderWorkflow.run, f"order-{oid}")
        assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
        assert (await handle.result()).status == expected[oid], oid

    sessions = create_session_factory(create_engine(stack.database_url))
    async with sessions() as s:
        statuses = dict((await s.execute(select(Order.id, Order.status).where(Order.id.in_(order_ids)))).all())
        assert statuses == expected

        # Payments: one provider intent per order, captured exactly once or voided.
        intents = (await s.execute(select(SandboxPaymentIntent).where(
            SandboxPaymentIntent.reference.in_(order_ids)))).scalars().all()
        assert Counter(i.reference for i in intents) == Counter({oid: 1 for oid in order_ids})
        for intent in intents:
            if expected[intent.reference] == "COMPLETED":
                assert intent.captured == intent.authorized > 0, intent.reference
            else:
                assert intent.captured == 0, intent.reference
        # Keys are primary keys, so "once" is the database's guarantee; each must be there.
        key_set = set((await s.execute(select(IdempotencyRecord.key))).scalars().all())
        for oid in order_ids:
            assert f"psp:authorize:order-{oid}:authorize" in key_set, oid
            completed = expected[oid] == "COMPLETED"
            assert (f"psp:capture:order-{oid}:capture" in key_set) == completed, oid
            assert (f"psp:void:order-{oid}:cancel-payment" in key_set) == (not completed), oid

        # Stock: one movement per change, and the ledger adds up.
        movements = Counter((await s.execute(select(StockMovement.order_id, StockMovement.reason).where(
            StockMovement.order_id.in_(order_ids)))).all())
        for oid in order_ids:
            final = "ship" if expected[oid] == "COMPLETED" else "release"
            assert movements[(oid, "reserve")] == 1 and movements[(oid, final)] == 1, (oid, movements)
        assert sum(movements.values()) == 2 * ORDERS
        level_after = await s.get(StockLevel, BENCH_SKU)
        shipped = sum(1 for v in expected.values() if v == "COMPLETED")
        assert level_after is not None
        assert (level_after.on_hand, level_after.reserved) == (on_hand_before - shipped, 0)

        # Read model, PIM and customer messages: each status change once, in sequence.
        orders = {o.id: o for o in (await s.execute(select(Order).where(Order.id.in_(order_ids)))).scalars()}
        events = Counter((await s.execute(select(OrderEvent.order_id, OrderEvent.sequence).where(
            OrderEvent.order_id.in_(order_ids)))).all())
        pim = Counter((await s.execute(select(PimUpdate.order_id, PimUpdate.sequence).where(
            PimUpdate.order_id.in_(order_ids)))).all())
        for oid, order in orders.items():
            wanted = Counter({(oid, n): 1 for n in range(1, order.status_sequence + 1)})
            assert Counter({k: v for k, v in events.items() if k[0] == oid}) == wanted, oid
            assert Counter({k: v for k, v in pim.items() if k[0] == oid}) == wanted, oid
        duplicates = (await s.execute(
            select(CustomerMessage.order_id, CustomerMessage.sequence, CustomerMessage.channel)
            .where(CustomerMessage.order_id.in_(order_ids))
            .group_by(CustomerMessage.order_id, CustomerMessage.sequence, CustomerMessage.channel)
            .having(func.count() > 1))).all()
        assert duplicates == []
        assert await s.scalar(select(func.count()).select_from(CustomerMessage).where(
            CustomerMessage.order_id.in_(order_ids))) > 0

    # No history fails the replayer.
    client = await Client.connect(stack.temporal_address, data_converter=pydantic_data_converter)

    async def histories() -> AsyncIterator[WorkflowHistory]:
        for oid in order_ids:
            yield await client.get_workflow_handle(f"order-{oid}").fetch_history()

    replayer = Replayer(workflows=[OrderWorkflow, ReplenishmentWorkflow, ReturnWorkflow],
                        data_converter=pydantic_data_converter)
    results = await replayer.replay_workflows(histories(), raise_on_replay_failure=False)
    assert {run_id: str(err) for run_id, err in results.replay_failures.items()} == {}
