"""Engine and sessions. One engine per process; SQLite and PostgreSQL behave the same.

Write transactions go through ``transaction()``. On SQLite it starts them with ``BEGIN
IMMEDIATE`` (the write lock is taken up front, so a transaction that reads then writes cannot
fail half-way with "database is locked"); plain reading sessions begin deferred and do not
block writers. The database runs in WAL mode with a busy timeout, so writers queue.

SQLite's busy timeout queues writers by polling: a waiting connection sleeps (up to 100 ms at
a time) and tries again, so with many concurrent writers in one process (the worker runs up
to 100 activities at once) a short transaction could wait most of a second for a lock that
was free long before. Within a process, write transactions on SQLite therefore queue on an
``asyncio.Lock`` first, woken the moment the previous one commits; only writers of different
processes (API and worker) still meet in SQLite's busy handler.
"""

import asyncio
import contextvars
import weakref
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "orderflow_write"

# SQLite engines (their sync side) -> per event loop, the lock their write transactions queue on.
_write_locks: "weakref.WeakKeyDictionary[object, weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]]" = (
    weakref.WeakKeyDictionary())
# The engines whose write lock this task (or the task that started it) holds.
_holding: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar("orderflow_write_lock_held",
                                                                         default=frozenset())


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(database_url: str, *, echo: bool = False) -> AsyncEngine:
    if not is_sqlite(database_url):
        return create_async_engine(database_url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)

    url = make_url(database_url)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        database_url,
        echo=echo,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        poolclass=NullPool if url.database in (None, "", ":memory:") else None,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # Let SQLAlchemy's "begin" event below emit BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")

    _write_locks[engine.sync_engine] = weakref.WeakKeyDictionary()
    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def _queued_writer(engine: AsyncEngine | None) -> AsyncIterator[None]:
    """Hold this process's write lock of a SQLite engine (nothing for other databases)."""
    locks = _write_locks.get(engine.sync_engine) if engine is not None else None
    held = _holding.get()
    if locks is None or id(engine) in held:
        # Not SQLite; or a write transaction inside one this task holds already, which SQLite
        # refuses after its busy timeout as it always did (waiting here would hang for ever).
        yield
        return
    lock = locks.get(loop := asyncio.get_running_loop())
    if lock is None:
        lock = locks[loop] = asyncio.Lock()
    # No timeout of its own: a writer holding the lock holds SQLite's write lock too, so waiting
    # longer here only replaces "database is locked" after the busy timeout by the caller's
    # own deadline (an activity's timeout, a request's).
    async with lock:
        token = _holding.set(held | {id(engine)})
        try:
            yield
        finally:
            _holding.reset(token)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session inside one write transaction: committed on success, rolled back on any error."""
    bind = sessions.kw.get("bind")
    async with AsyncExitStack() as stack:
        # A new session holds no connection yet; the lock is taken before it gets one and given
        # back right after the commit, before the connection goes back to the pool (a rollback
        # of its own): on SQLite the lock is held for nothing but the transaction.
        session = await stack.enter_async_context(sessions())
        await stack.enter_async_context(_queued_writer(bind if isinstance(bind, AsyncEngine) else None))
        await stack.enter_async_context(session.begin())
        await session.connection(execution_options={WRITE_OPTION: True})
        yield session
