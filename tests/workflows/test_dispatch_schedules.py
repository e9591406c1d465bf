"""The carriers' pickup schedules: when each ticks (the lead before the cut-off, on the pickup
days, in the warehouse's zone) as pure unit tests; then on the real dev server, that the worker's
start creates them (the server's own next tick times, in Amsterdam, are 30 minutes before the
cut-off on pickup days only), updates a changed cut-off,
deletes a carrier dropped from the settings, leaves a pause made by hand, and that a tick makes the dispatch for the pickup
of its own planned time."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import ScheduleActionExecutionStartWorkflow, ScheduleRange
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.dispatching import pickup_times
from activities.planning.waves import MONDAY_TO_FRIDAY, parse_pickup_days
from domain.dispatching import PickupDispatchResult, pickup_key, schedule_id, tick_before
from settings import Settings
from worker import WORKFLOWS, build_activities
from workflows.dispatch_schedules import pickup_spec, schedule_pickup_dispatches, wanted_schedules

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
HALF_HOUR = timedelta(minutes=30)


def test_the_tick_is_the_lead_before_the_cut_off_on_each_pickup_day() -> None:
    assert tick_before(time(17, 0), MONDAY_TO_FRIDAY, HALF_HOUR).at == time(16, 30)
    assert tick_before(time(16, 15), {5}, timedelta(minutes=45)).at == time(15, 30)
    assert tick_before(time(16, 0), MONDAY_TO_FRIDAY, HALF_HOUR).weekdays == MONDAY_TO_FRIDAY
    assert tick_before(time(14, 0), {0}, timedelta(0)).at == time(14, 0)


def test_a_lead_past_midnight_ticks_the_evening_before() -> None:
    tick = tick_before(time(0, 15), parse_pickup_days("Mon,Sat"), HALF_HOUR)
    assert tick.at == time(23, 45)
    assert tick.weekdays == frozenset({6, 4})  # Sunday and Friday evenings
    with pytest.raises(ValueError, match="not within one day"):
        tick_before(time(17, 0), {0}, timedelta(days=1))


def test_the_spec_counts_days_from_sunday_in_the_warehouse_zone() -> None:
    spec = pickup_spec(time(17, 0), parse_pickup_days("Mon-Sat"), HALF_HOUR, "Europe/Amsterdam")
    (calendar,) = spec.calendars
    assert (calendar.hour, calendar.minute, calendar.second) == ([ScheduleRange(16)], [ScheduleRange(30)],
                                                                 [ScheduleRange(0)])
    assert [r.start for r in calendar.day_of_week] == [1, 2, 3, 4, 5, 6]  # Temporal: Sunday 0, Monday 1
    assert spec.time_zone_name == "Europe/Amsterdam"
    sunday = pickup_spec(time(9, 0), parse_pickup_days("Sun"), HALF_HOUR, "Europe/London")
    assert [r.start for r in sunday.calendars[0].day_of_week] == [0] and sunday.time_zone_name == "Europe/London"


def test_each_carrier_with_a_cut_off_and_a_vehicle_gets_a_schedule_from_the_settings() -> None:
    settings = Settings(_env_file=None, dispatch_lead_minutes=20,  # type: ignore[call-arg]
                        carrier_pickup_cutoffs={"dhl": "16:30", "ups": "18:00"}, carrier_pickup_days={"dhl": "Tue"})
    wanted = wanted_schedules(settings)
    assert list(wanted) == ["orderflow-dispatch-dhl"]  # ups: no vehicle to plan its loads in
    schedule = wanted["orderflow-dispatch-dhl"]
    calendar = schedule.spec.calendars[0]
    assert (calendar.hour, calendar.minute, calendar.day_of_week) == ([ScheduleRange(16)], [ScheduleRange(10)],
                                                                      [ScheduleRange(2)])
    assert schedule.policy.catchup_window == timedelta(minutes=20)  # missed by more: the carrier has gone
    assert wanted_schedules(settings.model_copy(update={"dispatch_schedules_enabled": False})) == {}


def test_a_tick_is_for_the_first_cut_off_after_it() -> None:
    pickups = pickup_times({"dpd": "16:00"}, {"dpd": "Mon-Fri"}, "Europe/Amsterdam")
    friday_tick = datetime(2026, 11, 27, 15, 30, tzinfo=AMSTERDAM)
    assert pickups.next_pickup("dpd", friday_tick) == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    # A tick after Friday's cut-off is for Monday's pickup.
    assert pickups.next_pickup("dpd", friday_tick + timedelta(hours=1)) == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert pickup_key("dpd", datetime(2026, 11, 27, 15, 0, tzinfo=UTC)) == "dpd@2026-11-27T15:00:00+00:00"


def test_a_lead_of_zero_minutes_is_refused_as_the_tick_would_miss_its_pickup() -> None:
    # Ticking on the cut-off itself, the tick is for the next pickup (strictly after it).
    with pytest.raises(ValueError, match="ORDERFLOW_DISPATCH_LEAD_MINUTES.*at least 1"):
        Settings(_env_file=None, dispatch_lead_minutes=0)  # type: ignore[call-arg]
    assert Settings(_env_file=None, dispatch_lead_minutes=1).dispatch_lead_minutes == 1  # type: ignore[call-arg]


@pytest.fixture
async def cleared(dev_server_env: WorkflowEnvironment) -> AsyncIterator[WorkflowEnvironment]:
    """The dev server is shared by the session: no pickup schedule left before or after."""
    off = Settings(_env_file=None, dispatch_schedules_enabled=False)  # type: ignore[call-arg]
    await schedule_pickup_dispatches(dev_server_env.client, off)
    yield dev_server_env
    await schedule_pickup_dispatches(dev_server_env.client, off)


async def _missing(env: WorkflowEnvironment, carrier: str) -> bool:
    try:
        await env.client.get_schedule_handle(schedule_id(carrier)).describe()
    except RPCError as exc:
        return exc.status == RPCStatusCode.NOT_FOUND
    return False


@pytest.mark.integration
async def test_the_worker_keeps_the_schedules_in_line_with_the_settings_and_a_tick_dispatches(
        cleared: WorkflowEnvironment, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
    env = cleared
    local = settings.model_copy(update={"task_queue": f"dispatch-{uuid.uuid4().hex[:8]}"})
    await schedule_pickup_dispatches(env.client, local)
    await schedule_pickup_dispatches(env.client, local)  # every worker start: changes nothing

    described = await env.client.get_schedule_handle(schedule_id("dpd")).describe()
    # The server's own plan: 15:30 in Amsterdam (cut-off 16:00), Monday to Friday; in UTC that
    # is 14:30 or 13:30 by the season, so only the zone's name gets this right all year.
    ticks = [t.astimezone(AMSTERDAM) for t in described.info.next_action_times]
    assert ticks and all((t.hour, t.minute, t.weekday() < 5) == (15, 30, True) for t in ticks)
    assert not await _missing(env, "postnl") and not await _missing(env, "freight")

    async with Worker(env.client, task_queue=local.task_queue, workflows=list(WORKFLOWS),
                      activities=build_activities(local, sessions)):
        await env.client.get_schedule_handle(schedule_id("dpd")).trigger()
        deadline = asyncio.get_running_loop().time() + 30
        while not (described := await env.client.get_schedule_handle(schedule_id("dpd")).describe()).info.recent_actions:
            assert asyncio.get_running_loop().time() < deadline, "the triggered tick never started"
            await asyncio.sleep(0.2)
        tick = described.info.recent_actions[-1]
        assert isinstance(tick.action, ScheduleActionExecutionStartWorkflow)
        result = await env.client.get_workflow_handle(tick.action.workflow_id,
                                                      result_type=PickupDispatchResult).result()
    expected = pickup_times(local.carrier_pickup_cutoffs, local.carrier_pickup_days,
                            local.warehouse_timezone).next_pickup("dpd", tick.scheduled_at)
    assert (result.pickup_at, result.pickup_key) == (expected, pickup_key("dpd", expected))
    assert result.dispatch_id is None and "nothing is ready for dpd" in result.note  # no order here

    # DHL's cut-off moves, freight is dropped from the settings; PostNL was paused by hand.
    await env.client.get_schedule_handle(schedule_id("postnl")).pause(note="public holiday")
    changed = local.model_copy(update={"carrier_pickup_cutoffs": {"postnl": "17:00", "dhl": "17:15", "dpd": "16:00"}})
    await schedule_pickup_dispatches(env.client, changed)
    dhl = (await env.client.get_schedule_handle(schedule_id("dhl")).describe()).schedule.spec.calendars[0]
    assert (list(dhl.hour), list(dhl.minute)) == ([ScheduleRange(16)], [ScheduleRange(45)])
    assert (await env.client.get_schedule_handle(schedule_id("postnl")).describe()).schedule.state.paused
    assert await _missing(env, "freight") and not await _missing(env, "dpd")
