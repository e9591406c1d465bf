"""An order is never lost or charged twice whatever crashes: the worker is killed with SIGKILL
twice while a load of orders runs (dev server on a SQLite file, worker and API as real
processes) and restarted each time. Half the orders are driven to COMPLETED, half cancelled
at PICKING; afterwards ``invariants.check`` reads every record.

The load is 200 orders (about 130 s on 2 cores: the activities a killed worker held wait out
their 30 s start-to-close timeout); ``ORDERFLOW_RESILIENCE_ORDERS`` changes it.
"""

import asyncio
import os
import signal
import time

import pytest

from scripts.bench_driver import Driver
from scripts.stack import Stack
from tests.resilience import invariants

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

ORDERS = int(os.environ.get("ORDERFLOW_RESILIENCE_ORDERS", "200"))
FINISH_TIMEOUT = 240.0


async def kill_and_restart_worker(stack: Stack, after: float) -> None:
    await asyncio.sleep(after)
    assert stack.processes.kill("worker", signal.SIGKILL) == -signal.SIGKILL
    await asyncio.sleep(1)
    await stack.restart_worker()


async def test_orders_survive_two_worker_kills(stack: Stack) -> None:
    started = time.monotonic()
    on_hand_before = await invariants.on_hand(stack)
    order_ids = await invariants.place_orders(stack, (f"KILL-{i}" for i in range(ORDERS)))
    cancelled = set(order_ids[1::2])
    driver = Driver(stack.temporal, "OrderWorkflow", cancel={f"order-{oid}" for oid in cancelled})

    async def chaos() -> None:
        await kill_and_restart_worker(stack, after=3)
        await kill_and_restart_worker(stack, after=8)

    chaos_task = asyncio.create_task(chaos())
    await driver.run_until(ORDERS, FINISH_TIMEOUT)
    await chaos_task
    print(f"{ORDERS} orders through two worker kills in {time.monotonic() - started:.0f} s "
          f"({driver.updates_sent} updates, {driver.update_errors} retried)")

    await invariants.check(stack, {oid: invariants.CANCELLED if oid in cancelled else invariants.COMPLETED
                                   for oid in order_ids}, on_hand_before)
