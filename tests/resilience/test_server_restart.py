"""The Temporal dev server is stopped (SIGTERM) and started again on the same SQLite file while
a load of orders runs: the worker, the API and the driver reconnect, and every order finishes
as its scenario expects with nothing charged or moved twice (``invariants.check``)."""

import asyncio
import os
import signal
import time

import pytest

from scripts.bench_driver import Driver
from scripts.stack import Stack
from tests.resilience import invariants

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]

ORDERS = int(os.environ.get("ORDERFLOW_RESILIENCE_ORDERS", "40"))
FINISH_TIMEOUT = 150.0


async def test_orders_survive_a_dev_server_restart(stack: Stack) -> None:
    started = time.monotonic()
    on_hand_before = await invariants.on_hand(stack)
    order_ids = await invariants.place_orders(stack, (f"RESTART-{i}" for i in range(ORDERS)))
    cancelled = set(order_ids[1::2])
    driver = Driver(stack.temporal, "OrderWorkflow", cancel={f"order-{oid}" for oid in cancelled})

    async def chaos() -> None:
        await asyncio.sleep(4)
        stack.processes.kill("temporal", signal.SIGTERM)
        await asyncio.sleep(2)
        await stack.restart_temporal()

    chaos_task = asyncio.create_task(chaos())
    await driver.run_until(ORDERS, FINISH_TIMEOUT)
    await chaos_task
    print(f"{ORDERS} orders through a dev-server restart in {time.monotonic() - started:.0f} s "
          f"({driver.updates_sent} updates, {driver.update_errors} retried)")

    await invariants.check(stack, {oid: invariants.CANCELLED if oid in cancelled else invariants.COMPLETED
                                   for oid in order_ids}, on_hand_before)
