"""Determinism guard: every committed history of every workflow type replays cleanly against
today's workflow code. Never regenerate a committed history to make this pass; add new ones."""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

import temporal_client
from settings import Settings
from worker import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_every_workflow_type_has_histories() -> None:
    types = {p.name.split("_")[1] for p in HISTORIES}
    assert types >= {"order"}, "capture histories for each workflow type (tests/replay/capture_histories.py)"
    assert len(WORKFLOWS) == len(types)


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    # The production converter: histories written before encryption pass through its codec.
    replayer = Replayer(workflows=list(WORKFLOWS),
                        data_converter=temporal_client.data_converter(Settings(_env_file=None)))  # type: ignore[call-arg]
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
