"""Dispatches made by a carrier's pickup schedule: the contract of the dispatch workflow and
its activity, and the pure rules for when a schedule ticks and which pickup a tick is for.

Each carrier with a pickup cut-off has a Temporal Schedule that ticks ``lead`` before the
cut-off on the carrier's pickup days (wall-clock time in the warehouse's zone); each tick makes
the dispatch for that pickup, once: the pickup's key (carrier and cut-off time) is unique
among dispatches. Stdlib + pydantic only: the workflow imports it.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from pydantic import BaseModel, Field

SCHEDULE_ID_PREFIX = "orderflow-dispatch-"
# The role of the actor the action log records for the schedule's dispatches (no API key).
SYSTEM_ROLE = "system"


def schedule_id(carrier: str) -> str:
    return f"{SCHEDULE_ID_PREFIX}{carrier}"


def pickup_key(carrier: str, pickup_at: datetime) -> str:
    """One pickup of one carrier: ``dhl@2026-11-27T15:30:00+00:00`` (the cut-off in UTC)."""
    return f"{carrier}@{pickup_at.isoformat(timespec='seconds')}"


@dataclass(frozen=True)
class Tick:
    """When a carrier's schedule ticks: wall-clock ``at`` on ``weekdays`` (Monday 0 .. Sunday
    6, as ``date.weekday()``), in the warehouse's zone."""

    at: time
    weekdays: frozenset[int]


def tick_before(cutoff: time, pickup_days: Collection[int], lead: timedelta) -> Tick:
    """The tick ``lead`` before ``cutoff`` on each pickup day. A lead that reaches past
    midnight ticks on the day before (a 00:15 cut-off with 30 minutes' lead ticks at 23:45 the
    evening before each pickup day)."""
    if not timedelta(0) <= lead < timedelta(days=1):
        raise ValueError(f"a lead of {lead} is not within one day")
    minutes = cutoff.hour * 60 + cutoff.minute - int(lead.total_seconds()) // 60
    shift = 0
    if minutes < 0:
        minutes += 24 * 60
        shift = -1
    return Tick(at=time(minutes // 60, minutes % 60),
                weekdays=frozenset((day + shift) % 7 for day in pickup_days))


class PickupDispatch(BaseModel):
    """The schedule's workflow input: the carrier whose pickup is coming."""

    carrier: str = Field(min_length=1, max_length=32)
    # How long before the cut-off the schedule ticks: the run gives up after it, the carrier
    # having been. None: a schedule made before this was passed (the default lead).
    lead_minutes: int | None = Field(default=None, ge=1, le=12 * 60)


class PickupDispatchRequest(BaseModel):
    """The activity's input: the carrier, and the tick's time (the schedule's planned time,
    so a late or repeated run of the same tick is for the same pickup)."""

    carrier: str = Field(min_length=1, max_length=32)
    tick_at: datetime


class PickupDispatchResult(BaseModel):
    carrier: str
    pickup_at: datetime = Field(description="the pickup's cut-off (UTC)")
    pickup_key: str
    dispatch_id: str | None = Field(description="the pickup's dispatch; None when nothing went")
    made: bool = Field(description="this run made it (False: an earlier run did, or nothing went)")
    note: str
