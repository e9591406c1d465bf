"""Turning tracing on does not change what a workflow does: every committed history (written
without tracing) replays cleanly through the interceptors a traced worker gets from its
client. (A history written with tracing on replays with it on and off:
tests/api/test_tracing.py.)"""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.worker import Replayer

import temporal_client
from settings import Settings
from worker import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
TRACED = Settings(_env_file=None, otlp_endpoint="http://127.0.0.1:1")  # type: ignore[call-arg]


def test_tracing_on_means_the_tracing_interceptor() -> None:
    assert [type(i) for i in temporal_client.client_interceptors(TRACED)] == [TracingInterceptor]


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays_with_tracing_on(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=temporal_client.data_converter(TRACED),
                        interceptors=temporal_client.client_interceptors(TRACED))
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
