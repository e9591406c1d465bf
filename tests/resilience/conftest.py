"""Resilience tests: real processes (``scripts.stack``) with short follow-up timers, which the
tests kill and restart. Each test is marked ``slow`` (about a minute or more on 2 cores); run
only these with ``pytest -m slow``, or leave them out with ``-m "not slow"``."""

from collections.abc import AsyncIterator

import pytest

from scripts.stack import Stack, running_stack


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a resilience test of a minute or more with real processes")


@pytest.fixture(scope="module")
async def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """One stack per test module; a module's ``STACK_SETTINGS`` adds settings (failure rates)."""
    async with running_stack(tmp_path_factory.mktemp("resilience"), {
        "ORDERFLOW_FEEDBACK_REQUEST_DELAY_SECONDS": "1",
        "ORDERFLOW_FEEDBACK_WAIT_SECONDS": "1",
        "ORDERFLOW_LOG_LEVEL": "WARNING",
        **getattr(request.module, "STACK_SETTINGS", {}),
    }) as running:
        yield running
