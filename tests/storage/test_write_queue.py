"""On SQLite, write transactions of one process queue on the process's own lock before they
reach SQLite, so none of them waits in SQLite's busy handler (which polls, sleeping up to
100 ms at a time) for another of the same process. The tests set the busy timeout to 0: a
transaction that met another's write lock inside SQLite would fail at once."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import create_engine, create_session_factory, is_sqlite, transaction
from storage.models import StockLevel
from tests.factories import seed


@pytest.fixture
async def impatient(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a SQLite engine whose connections never wait for a lock inside SQLite."""
    if not is_sqlite(database_url):
        pytest.skip("the write queue is for SQLite; PostgreSQL locks rows, not the database")
    engine = create_engine(database_url)

    @event.listens_for(engine.sync_engine, "connect")
    def _no_busy_wait(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    sessions = create_session_factory(engine)
    await seed(sessions)
    yield sessions
    await engine.dispose()


async def on_hand(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return await session.scalar(select(StockLevel.on_hand).where(StockLevel.sku == "MUG-001"))


async def test_concurrent_write_transactions_of_one_process_all_commit(impatient) -> None:
    before = await on_hand(impatient)

    async def add_one() -> None:
        async with transaction(impatient) as session:
            # Read, yield to the other writers, then write: they must wait for this one.
            current = await session.scalar(select(StockLevel.on_hand).where(StockLevel.sku == "MUG-001"))
            await asyncio.sleep(0)
            await session.execute(update(StockLevel).where(StockLevel.sku == "MUG-001").values(on_hand=current + 1))

    await asyncio.wait_for(asyncio.gather(*(add_one() for _ in range(30))), 30)
    assert await on_hand(impatient) == before + 30


async def test_a_failed_write_transaction_lets_the_next_one_through(impatient) -> None:
    before = await on_hand(impatient)

    class Refused(Exception):
        pass

    async def fail() -> None:
        async with transaction(impatient) as session:
            await session.execute(update(StockLevel).where(StockLevel.sku == "MUG-001").values(on_hand=0))
            raise Refused

    async def add_one() -> None:
        async with transaction(impatient) as session:
            await session.execute(update(StockLevel).where(StockLevel.sku == "MUG-001")
                                  .values(on_hand=StockLevel.on_hand + 1))

    results = await asyncio.wait_for(asyncio.gather(fail(), add_one(), fail(), add_one(), return_exceptions=True), 30)
    assert [type(r) for r in results] == [Refused, type(None), Refused, type(None)]
    assert await on_hand(impatient) == before + 2  # the failed ones rolled back, nothing hangs
