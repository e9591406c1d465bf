"""The carrier pickup dispatch: one short workflow run per tick of a carrier's
``orderflow-dispatch-<carrier>`` Temporal Schedule (``workflows.dispatch_schedules``; the worker
creates them), shortly before the carrier's pickup cut-off. The run makes the dispatch for that
pickup, as staff would with ``POST /warehouse/dispatches``, once per pickup.

The tick's planned time, not the run's start, says which pickup it is for: a tick that starts
late (the worker was down) or is repeated still makes the dispatch for its own pickup, found
again by its key rather than made twice.
"""

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from activities.dispatching import DispatchActivities
    from domain.dispatching import PickupDispatch, PickupDispatchRequest, PickupDispatchResult
    from workflows.activity_options import RETRY

# Temporal sets it on every workflow a schedule starts: the time the action was planned for.
SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
# A full trailer's plan takes seconds, planned up to four times to keep orders whole.
DISPATCH_TIMEOUT = timedelta(minutes=2)


@workflow.defn
class PickupDispatchWorkflow:
    @workflow.run
    async def run(self, pickup: PickupDispatch) -> PickupDispatchResult:
        return await workflow.execute_activity_method(
            DispatchActivities.make_pickup_dispatch,
            PickupDispatchRequest(carrier=pickup.carrier, tick_at=self._tick_at()),
            start_to_close_timeout=DISPATCH_TIMEOUT, retry_policy=RETRY)

    @staticmethod
    def _tick_at() -> datetime:
        # Started by hand (temporal workflow start, a test): now is the tick.
        return workflow.info().typed_search_attributes.get(SCHEDULED_START) or workflow.now()
