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
# A full trailer's plan takes seconds, planned again until no order is split.
DISPATCH_TIMEOUT = timedelta(minutes=2)
# The lead of a schedule made before the lead was passed in (the setting's default).
DEFAULT_LEAD = timedelta(minutes=30)


@workflow.defn
class PickupDispatchWorkflow:
    @workflow.run
    async def run(self, pickup: PickupDispatch) -> PickupDispatchResult:
        # Retried (the packages changed under the plan, the database away) until the cut-off,
        # no longer: after it the dispatch is pointless, and a run still retrying would make
        # the schedule skip the next ticks (overlap SKIP). The run then fails, saying so.
        lead = timedelta(minutes=pickup.lead_minutes) if pickup.lead_minutes else DEFAULT_LEAD
        return await workflow.execute_activity_method(
            DispatchActivities.make_pickup_dispatch,
            PickupDispatchRequest(carrier=pickup.carrier, tick_at=self._tick_at()),
            start_to_close_timeout=DISPATCH_TIMEOUT, schedule_to_close_timeout=max(lead, DISPATCH_TIMEOUT),
            retry_policy=RETRY)

    @staticmethod
    def _tick_at() -> datetime:
        # Started by hand (temporal workflow start, a test): now is the tick.
        return workflow.info().typed_search_attributes.get(SCHEDULED_START) or workflow.now()
