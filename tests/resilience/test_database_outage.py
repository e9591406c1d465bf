"""The database goes away mid-load: Orderflow on PostgreSQL behind a TCP proxy that the test
cuts for several seconds (every open connection reset, new ones refused) while orders run.
Activities fail and retry, the API answers 503 with Retry-After (never a 500) and writes
nothing, and once the database is back every order completes with nothing charged, reserved
or told twice (``invariants.check``).

Needs the PostgreSQL server of this machine (127.0.0.1:5432, user postgres, trust auth, as in
CI); a database is created for the test and dropped after."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import select

from scripts.bench_driver import Driver, order_body
from scripts.stack import CHANNEL_KEY, Stack, running_stack
from storage.db import create_engine, create_session_factory
from storage.models import Order
from tests.resilience import invariants
from tests.resilience.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]

PG_HOST, PG_PORT = "127.0.0.1", 5432
ORDERS = 30
OUTAGE_SECONDS = 8.0
FINISH_TIMEOUT = 150.0


@pytest.fixture
async def proxied_database() -> AsyncIterator[tuple[str, TcpProxy]]:
    name = f"orderflow_outage_{uuid.uuid4().hex[:8]}"
    try:
        admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database="postgres")
    except OSError as exc:
        pytest.skip(f"no PostgreSQL at {PG_HOST}:{PG_PORT}: {exc}")
    await admin.execute(f'CREATE DATABASE "{name}"')
    proxy = TcpProxy(PG_HOST, PG_PORT)
    port = await proxy.start()
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{name}", proxy
    finally:
        await proxy.cut()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_orders_survive_the_database_going_away(proxied_database, tmp_path: Path) -> None:
    database_url, proxy = proxied_database
    async with running_stack(tmp_path, {
        "ORDERFLOW_FEEDBACK_REQUEST_DELAY_SECONDS": "1", "ORDERFLOW_FEEDBACK_WAIT_SECONDS": "1",
        "ORDERFLOW_LOG_LEVEL": "WARNING", "ORDERFLOW_ESCALATION_SWEEP_SECONDS": "0",
    }, database_url=database_url) as stack:
        started = time.monotonic()
        on_hand_before = await invariants.on_hand(stack)
        order_ids = await invariants.place_orders(stack, (f"DB-OUT-{i}" for i in range(ORDERS)))
        driver = Driver(stack.temporal, "OrderWorkflow")
        refused: list[httpx.Response] = []

        async def outage() -> None:
            await asyncio.sleep(2)
            await proxy.cut()
            async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as http:
                refused.append(await http.post("/orders", json=order_body("DB-OUT-REFUSED"), headers=CHANNEL_KEY))
                refused.append(await http.get(f"/orders/{order_ids[0]}", headers=CHANNEL_KEY))
                refused.append(await http.get("/healthz"))
            await asyncio.sleep(OUTAGE_SECONDS)
            await proxy.restore()

        await asyncio.gather(driver.run_until(ORDERS, FINISH_TIMEOUT), outage())
        print(f"{ORDERS} orders through a {OUTAGE_SECONDS:.0f} s database outage in {time.monotonic() - started:.0f} s")

        placed, read, health = refused
        assert placed.status_code == 503, placed.text
        assert placed.headers["Retry-After"] and "not reachable" in placed.json()["detail"]
        # A read of an order whose workflow is running may still be answered by its workflow.
        assert read.status_code in (200, 503), read.text
        assert health.status_code == 503 and health.json()["database"].startswith("down")
        await invariants.check(stack, {oid: invariants.COMPLETED for oid in order_ids}, on_hand_before)
        await _nothing_half_written(stack)


async def _nothing_half_written(stack: Stack) -> None:
    engine = create_engine(stack.database_url)
    try:
        async with create_session_factory(engine)() as session:
            assert (await session.execute(select(Order.id).where(
                Order.external_reference == "DB-OUT-REFUSED"))).first() is None
    finally:
        await engine.dispose()
