"""The whole of Orderflow as real processes: the Temporal dev server (a temporary SQLite file,
free ports, no UI), the worker and the API, configured through environment variables like an
operator would, on a temporary database that is migrated and seeded first.

The process handling lives in ``scripts.stack`` (shared with the resilience tests and the
benchmark). Everything is torn down when the fixture ends, also when a test or the start-up
fails; the children's log tails are printed at teardown (pytest shows them on failure).
"""

from collections.abc import AsyncIterator

import httpx
import pytest

from scripts.stack import CARRIER_KEY, CHANNEL_KEY, OPS_KEY, WAREHOUSE_KEY, Processes, Stack, free_port, running_stack

__all__ = ["CARRIER_KEY", "CHANNEL_KEY", "OPS_KEY", "WAREHOUSE_KEY", "Processes", "Stack", "free_port"]

# The follow-up timers, short: feedback is asked for a second after delivery.
FEEDBACK_REQUEST_DELAY_SECONDS = 1
FEEDBACK_WAIT_SECONDS = 120


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path_factory.mktemp("stack"), {
        "ORDERFLOW_FEEDBACK_REQUEST_DELAY_SECONDS": str(FEEDBACK_REQUEST_DELAY_SECONDS),
        "ORDERFLOW_FEEDBACK_WAIT_SECONDS": str(FEEDBACK_WAIT_SECONDS),
    }) as running:
        yield running


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as http:
        yield http
