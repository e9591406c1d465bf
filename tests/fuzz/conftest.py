"""The API as real processes (``scripts.stack``) for the schema fuzz: short timers, quiet logs."""

from collections.abc import AsyncIterator

import pytest

from scripts.stack import Stack, running_stack


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path_factory.mktemp("fuzz"), {"ORDERFLOW_LOG_LEVEL": "WARNING"}) as running:
        yield running


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a test of a minute or more with real processes")
