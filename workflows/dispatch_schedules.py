"""The carriers' pickup schedules: one Temporal Schedule per carrier with a pickup cut-off,
``orderflow-dispatch-<carrier>``, that starts ``PickupDispatchWorkflow`` the lead time before
the cut-off on each pickup day. The times are wall-clock times in the warehouse's zone, given
to Temporal as the zone's name, so a tick stays at 16:30 across the change to and from summer
time.

``schedule_pickup_dispatches`` brings the schedules in line with the settings when a worker
starts, like the escalation sweep's: creates what is missing, updates the rest (a changed
cut-off, day or lead applies at once), and deletes the schedule of a carrier no longer in the
settings (or every one, with the schedules switched off). Safe when several workers start at
once. Not a workflow module: the worker imports it, no workflow does.
"""

from collections.abc import Collection
from dataclasses import replace
from datetime import time, timedelta
from functools import partial

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from activities.planning.loading import DEFAULT_VEHICLE
from activities.planning.waves import MONDAY_TO_FRIDAY, parse_pickup_days
from domain.dispatching import SCHEDULE_ID_PREFIX, PickupDispatch, schedule_id, tick_before
from logs import get_logger
from settings import Settings
from workflows.dispatching import PickupDispatchWorkflow

log = get_logger(__name__)


def pickup_spec(cutoff: time, pickup_days: Collection[int], lead: timedelta, zone: str) -> ScheduleSpec:
    """Ticks ``lead`` before ``cutoff`` on the pickup days (Monday 0), wall-clock in ``zone``."""
    tick = tick_before(cutoff, pickup_days, lead)
    # Temporal counts the days of the week from Sunday (0), Python's weekday() from Monday.
    days = sorted((day + 1) % 7 for day in tick.weekdays)
    return ScheduleSpec(
        calendars=[ScheduleCalendarSpec(
            second=[ScheduleRange(0)], minute=[ScheduleRange(tick.at.minute)], hour=[ScheduleRange(tick.at.hour)],
            day_of_week=[ScheduleRange(day) for day in days],
            comment=f"{lead} before the {cutoff:%H:%M} pickup cut-off")],
        time_zone_name=zone)


def pickup_schedule(carrier: str, spec: ScheduleSpec, task_queue: str, lead: timedelta) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(PickupDispatchWorkflow.run,
                                           PickupDispatch(carrier=carrier, lead_minutes=int(lead.total_seconds()) // 60),
                                           id=f"dispatch-{carrier}", task_queue=task_queue),
        spec=spec,
        # A tick missed while the server was down still counts until the cut-off, not after:
        # past the cut-off the carrier has been and gone. (Temporal wants at least 10 s.)
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP,
                              catchup_window=max(lead, timedelta(minutes=1))))


def wanted_schedules(settings: Settings) -> dict[str, Schedule]:
    """Per schedule id, the schedule the settings ask for."""
    if not settings.dispatch_schedules_enabled:
        return {}
    lead = timedelta(minutes=settings.dispatch_lead_minutes)
    wanted = {}
    for carrier, at in settings.carrier_pickup_cutoffs.items():
        if carrier not in DEFAULT_VEHICLE:
            # Dispatches are planned in the carrier's usual vehicle: without one, none is made.
            log.warning("no pickup schedule: carrier has no usual vehicle", carrier=carrier,
                        carriers=sorted(DEFAULT_VEHICLE))
            continue
        days = settings.carrier_pickup_days.get(carrier)
        spec = pickup_spec(time.fromisoformat(at), parse_pickup_days(days) if days else MONDAY_TO_FRIDAY, lead,
                           settings.warehouse_timezone)
        wanted[schedule_id(carrier)] = pickup_schedule(carrier, spec, settings.task_queue, lead)
    return wanted


def _keeping_state(schedule: Schedule, current: ScheduleUpdateInput) -> ScheduleUpdate:
    # A schedule paused by hand (a public holiday) stays paused when a worker restarts.
    return ScheduleUpdate(schedule=replace(schedule, state=current.description.schedule.state))


async def schedule_pickup_dispatches(client: Client, settings: Settings) -> None:
    """Create or update each carrier's pickup schedule; delete those the settings dropped."""
    wanted = wanted_schedules(settings)
    for schedule_id_, schedule in wanted.items():
        try:
            await client.create_schedule(schedule_id_, schedule)
        except ScheduleAlreadyRunningError:
            await client.get_schedule_handle(schedule_id_).update(partial(_keeping_state, schedule))
    # The listing lags behind (visibility): the carriers with a vehicle are named as well.
    existing = {s.id async for s in await client.list_schedules() if s.id.startswith(SCHEDULE_ID_PREFIX)}
    existing |= {schedule_id(carrier) for carrier in DEFAULT_VEHICLE}
    for stale in sorted(existing - set(wanted)):
        try:
            await client.get_schedule_handle(stale).delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:  # never made, or another worker deleted it first
                raise
            continue
        log.info("pickup schedule deleted: no such pickup in the settings", schedule_id=stale)
