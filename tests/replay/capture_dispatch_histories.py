"""Capture a history of the carrier pickup dispatch workflow for the replay tests. Not
collected by default; run:

    .venv/bin/pytest tests/replay/capture_dispatch_histories.py

Writes new files into tests/replay/histories/ (today's date); never regenerates one.
"""

from domain.dispatching import PickupDispatch
from tests.replay.capture_histories import _save
from workflows.dispatching import PickupDispatchWorkflow


async def test_capture_pickup_dispatch(make_harness) -> None:
    async with make_harness() as h:
        # Nothing is ready: the run finds no package and makes no dispatch (same commands).
        handle = await h.client.start_workflow(PickupDispatchWorkflow.run, PickupDispatch(carrier="dpd"),
                                               id="replay-dispatch-dpd", task_queue=h.task_queue)
        result = await handle.result()
        assert result.dispatch_id is None and result.pickup_key.startswith("dpd@")
        await _save(handle, "nothing_ready", workflow_type="dispatch")
