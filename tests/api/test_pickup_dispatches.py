"""Dispatches made by a carrier's pickup schedule, with real orders brought to READY_TO_SHIP
over the API: the activity makes one dispatch of the carrier's ready packages, as staff would;
the same pickup again (a repeated or retried tick, also two at once) makes none; nothing ready
makes none. The dispatch says it was the schedule's, and the action log records the system as
its actor. The workflow runs the activity on the time-skipping server."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, RetryState
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.dispatching import DispatchActivities, pickup_times
from domain.dispatching import PickupDispatch, PickupDispatchRequest, PickupDispatchResult
from storage.dispatches import Dispatch
from storage.models import StaffAction
from tests.api.conftest import WAREHOUSE, Api
from tests.conftest import start_time_skipping_server
from tests.api.test_dispatches import AMSTERDAM, BRUSSELS, UTRECHT, _ready
from workflows.dispatching import PickupDispatchWorkflow

# Friday 27 November 2026, 15:30 in Amsterdam (14:30 UTC): DPD's tick before its 16:00 cut-off.
FRIDAY_TICK = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)
MONDAY_TICK = datetime(2026, 11, 30, 14, 30, tzinfo=UTC)


def _activities(api: Api) -> DispatchActivities:
    s = api.settings
    return DispatchActivities(api.sessions, pickup_times(s.carrier_pickup_cutoffs, s.carrier_pickup_days,
                                                         s.warehouse_timezone), s.returns_country)


async def _dispatches(api: Api) -> int:
    async with api.sessions() as session:
        return (await session.execute(select(func.count()).select_from(Dispatch))).scalar_one()


def _numbers(order: dict) -> set[str]:
    shipment = order["shipments"][0]
    return set(shipment["package_tracking_numbers"] or [shipment["tracking_number"]])


async def test_a_pickup_gets_one_dispatch_of_the_ready_packages_however_often_it_ticks(api: Api) -> None:
    dispatching, env = _activities(api), ActivityEnvironment()
    tick = PickupDispatchRequest(carrier="dpd", tick_at=FRIDAY_TICK)

    nothing = await env.run(dispatching.make_pickup_dispatch, tick)
    assert nothing.dispatch_id is None and not nothing.made and "nothing is ready for dpd" in nothing.note
    assert nothing.pickup_at == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # 16:00 in Amsterdam
    assert await _dispatches(api) == 0

    dpd = [await _ready(api, "WEB-PUD-AMS", AMSTERDAM, [{"sku": "MUG-001", "quantity": 2}], "dpd"),
           await _ready(api, "WEB-PUD-BRU", BRUSSELS, [{"sku": "BOOK-042", "quantity": 1}], "dpd")]
    dhl = await _ready(api, "WEB-PUD-DHL", UTRECHT, [{"sku": "MUG-001", "quantity": 1}], "dhl")

    made = await env.run(dispatching.make_pickup_dispatch, tick)
    assert made.made and made.dispatch_id and made.pickup_key == "dpd@2026-11-27T15:00:00+00:00"
    again = await env.run(dispatching.make_pickup_dispatch, tick)  # the tick retried or repeated
    assert (again.made, again.dispatch_id) == (False, made.dispatch_id)
    assert await _dispatches(api) == 1

    shown = (await api.http.get(f"/warehouse/dispatches/{made.dispatch_id}", headers=WAREHOUSE)).json()
    assert {p["tracking_number"] for p in shown["packages"]} == _numbers(dpd[0]) | _numbers(dpd[1])
    assert shown["vehicle"] == "VAN" and [s["region"] for s in shown["stops"]] == ["NL-10", "BE-10"]
    assert (shown["made_by"], shown["created_by"]) == ("schedule", "orderflow-dispatch-dpd (system)")
    assert datetime.fromisoformat(shown["pickup_at"].replace("Z", "+00:00")) == made.pickup_at
    async with api.sessions() as session:
        (logged,) = (await session.execute(select(StaffAction).where(StaffAction.action == "dispatch"))).scalars()
    assert (logged.actor, logged.actor_role) == ("orderflow-dispatch-dpd", "system")
    assert made.dispatch_id in logged.detail and "pickup at 2026-11-27 15:00 UTC" in logged.detail

    # Staff make DHL's: the same dispatch, said to be theirs.
    by_staff = await api.http.post("/warehouse/dispatches", json={"carrier": "dhl"}, headers=WAREHOUSE)
    assert by_staff.status_code == 201, by_staff.text
    assert (by_staff.json()["made_by"], by_staff.json()["pickup_at"]) == ("staff", None)
    assert {p["tracking_number"] for p in by_staff.json()["packages"]} == _numbers(dhl)
    listed = (await api.http.get("/warehouse/dispatches", headers=WAREHOUSE)).json()
    assert sorted(d["made_by"] for d in listed) == ["schedule", "staff"]


async def test_two_runs_of_one_tick_at_once_make_one_dispatch(api: Api) -> None:
    await _ready(api, "WEB-PUD-TWIN", AMSTERDAM, [{"sku": "MUG-001", "quantity": 1}], "dpd")
    dispatching = _activities(api)
    tick = PickupDispatchRequest(carrier="dpd", tick_at=MONDAY_TICK)
    first, second = await asyncio.gather(ActivityEnvironment().run(dispatching.make_pickup_dispatch, tick),
                                         ActivityEnvironment().run(dispatching.make_pickup_dispatch, tick))
    assert first.dispatch_id == second.dispatch_id is not None
    assert sorted([first.made, second.made]) == [False, True]
    assert await _dispatches(api) == 1


async def test_the_workflow_makes_the_pickups_dispatch_once(api: Api) -> None:
    order = await _ready(api, "WEB-PUD-WF", UTRECHT, [{"sku": "BOOK-042", "quantity": 1}], "postnl")

    async def run() -> object:
        return await api.temporal.execute_workflow(
            PickupDispatchWorkflow.run, PickupDispatch(carrier="postnl"), id=f"dispatch-postnl-{uuid.uuid4().hex[:8]}",
            task_queue=api.settings.task_queue)

    first, second = await run(), await run()
    assert first.made and first.dispatch_id is not None
    assert first.pickup_at > datetime.now(UTC)  # started by hand: the next PostNL pickup from now
    if second.pickup_key == first.pickup_key:  # (unless a cut-off passed between the two runs)
        assert (second.made, second.dispatch_id) == (False, first.dispatch_id)
    shown = (await api.http.get(f"/warehouse/dispatches/{first.dispatch_id}", headers=WAREHOUSE)).json()
    assert shown["made_by"] == "schedule"
    assert {p["tracking_number"] for p in shown["packages"]} == _numbers(order)


class _DatabaseAway:
    """The dispatch activity as it answers while the database cannot be reached: a retryable error."""

    @activity.defn(name="make_pickup_dispatch")
    async def make_pickup_dispatch(self, request: PickupDispatchRequest) -> PickupDispatchResult:
        raise RuntimeError("database unreachable")


async def test_a_run_that_keeps_failing_ends_at_the_cut_off() -> None:
    # A server of its own: on the shared one, a workflow another test left waiting for a
    # worker holds the clock, and the half hour of retries would not be skipped.
    env = await start_time_skipping_server()
    task_queue = f"dispatch-{uuid.uuid4().hex[:8]}"
    try:
        async with Worker(env.client, task_queue=task_queue, workflows=[PickupDispatchWorkflow],
                          activities=[_DatabaseAway().make_pickup_dispatch]):
            with pytest.raises(WorkflowFailureError) as failed:
                await asyncio.wait_for(env.client.execute_workflow(
                    PickupDispatchWorkflow.run, PickupDispatch(carrier="dpd", lead_minutes=30),
                    id=f"dispatch-dpd-{uuid.uuid4().hex[:8]}", task_queue=task_queue), timeout=120)
    finally:
        await env.shutdown()
    # Given up when the next attempt would pass the cut-off, the last failure saying why.
    assert isinstance(failed.value.cause, ActivityError)
    assert failed.value.cause.retry_state == RetryState.TIMEOUT
    assert "database unreachable" in str(failed.value.cause.cause)
