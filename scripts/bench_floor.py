"""The benchmark's engine floor: a workflow with exactly the order's happy-path shape (the same
activities in the same order, the same search-attribute upserts and patch markers, the same
updates and timers) whose activities do nothing. Whatever the order workflow costs
above this is ours; the floor is what the Temporal server and SDK cost.

Run as its own worker process (``python -m scripts.bench_floor``) with the same worker
settings as the order worker, on its own task queue.
"""

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.common import RawValue, RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.enums import OrderStatus
    from domain.models import StepResult
    from workflows import search_attributes as sa

FLOOR_TASK_QUEUE = "bench-floor"
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=60))


class FloorCommand(BaseModel):
    """One command of the order's history: ``activity``, ``upsert`` (of an OrderStatus value),
    ``patch`` (a patch id), ``timer`` (seconds) or ``update`` (wait for the next update of a name)."""

    kind: str
    value: str = ""
    seconds: float = 0.0
    count: int = 1  # activities: how many the order scheduled at once


class FloorInput(BaseModel):
    order_id: str
    shape: list[FloorCommand]


class FloorStep(BaseModel):
    order_id: str
    step: int


@activity.defn(name="floor_noop")
async def floor_noop(step: FloorStep) -> FloorStep:
    return step


@workflow.defn
class FloorWorkflow:
    """Replays the command sequence of a real order (taken from its history by the benchmark),
    so the two have the same activities, upserts, markers, timers and updates by construction,
    also after the order workflow changes."""

    def __init__(self) -> None:
        self._status = OrderStatus.RECEIVED.value
        self._updates: Counter[str] = Counter()

    @workflow.run
    async def run(self, input: FloorInput) -> str:
        waited: Counter[str] = Counter()
        for n, command in enumerate(input.shape):
            match command.kind:
                case "activity":
                    await asyncio.gather(*(
                        workflow.execute_activity(floor_noop, FloorStep(order_id=input.order_id, step=n * 10 + i),
                                                  start_to_close_timeout=timedelta(seconds=30), retry_policy=RETRY)
                        for i in range(command.count)))
                case "upsert":
                    self._status = command.value
                    workflow.upsert_search_attributes([sa.ORDER_STATUS.value_set(command.value),
                                                       sa.NEEDS_ATTENTION.value_set(False)])
                case "patch":
                    workflow.patched(command.value)
                case "timer":
                    try:
                        await workflow.wait_condition(lambda: False, timeout=timedelta(seconds=command.seconds))
                    except TimeoutError:
                        pass
                case "update":
                    waited[command.value] += 1
                    target = waited[command.value]
                    await workflow.wait_condition(lambda: self._updates[command.value] >= target)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status

    @workflow.update(dynamic=True)
    async def any_update(self, name: str, args: Sequence[RawValue]) -> StepResult:
        self._updates[name] += 1
        return StepResult(accepted=True, status=OrderStatus(self._status), message="ok")


async def main() -> None:
    from temporalio.worker import Worker

    from settings import get_settings
    from worker import connect

    settings = get_settings()
    client = await connect(settings)
    worker = Worker(
        client,
        task_queue=FLOOR_TASK_QUEUE,
        workflows=[FloorWorkflow],
        activities=[floor_noop],
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        max_cached_workflows=settings.worker_max_cached_workflows,
    )
    await worker.run()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
