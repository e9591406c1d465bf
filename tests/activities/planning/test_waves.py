"""The wave planner: due times from carrier cut-offs on the carriers' pickup days, which
orders go on a trolley, and one route through all of them."""

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from activities.planning.layout import Point, demo_layout, rack_y, walking_distance
from activities.planning.routing import plan_route
from activities.planning.waves import (
    MONDAY_TO_FRIDAY,
    Trolley,
    WaveCandidate,
    choose_wave,
    due_at,
    next_cutoff,
    parse_pickup_days,
    wave_route,
)
from settings import Settings

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
CUTOFFS = {"postnl": time(17, 0), "dhl": time(16, 30), "freight": time(14, 0)}
DAYS = {"postnl": parse_pickup_days("Mon-Sat"), "dhl": MONDAY_TO_FRIDAY}  # freight: not named
NOON = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)  # Friday, 12:00 in Amsterdam (CET)
EVERY_DAY = frozenset(range(7))


def test_an_order_is_due_at_its_carriers_next_cutoff_in_local_time() -> None:
    assert next_cutoff(NOON, time(17, 0), AMSTERDAM, MONDAY_TO_FRIDAY) == datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    # After the day's cut-off: the next day's, for a carrier that comes every day.
    evening = datetime(2026, 11, 27, 16, 30, tzinfo=UTC)
    assert next_cutoff(evening, time(17, 0), AMSTERDAM, EVERY_DAY) == datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
    # Exactly at the cut-off is too late: the truck is leaving.
    assert next_cutoff(datetime(2026, 11, 27, 16, 0, tzinfo=UTC), time(17, 0), AMSTERDAM,
                       EVERY_DAY) == datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
    # Summer time: 17:00 in Amsterdam is 15:00 UTC.
    summer = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    assert next_cutoff(summer, time(17, 0), AMSTERDAM, MONDAY_TO_FRIDAY) == datetime(2026, 7, 1, 15, 0, tzinfo=UTC)
    assert due_at(NOON, "postnl", CUTOFFS, AMSTERDAM, DAYS) == datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    # No carrier chosen yet: ready for the earliest pickup of all.
    assert due_at(NOON, None, CUTOFFS, AMSTERDAM, DAYS) == datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
    assert due_at(NOON, "unknown-carrier", CUTOFFS, AMSTERDAM, DAYS) == due_at(NOON, None, CUTOFFS, AMSTERDAM, DAYS)


def test_after_fridays_cutoff_an_order_waits_for_the_next_pickup_day() -> None:
    evening = datetime(2026, 11, 27, 16, 45, tzinfo=UTC)  # Friday 17:45, every cut-off passed
    monday_dhl = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)  # Monday 16:30 CET
    assert due_at(evening, "dhl", CUTOFFS, AMSTERDAM, DAYS) == monday_dhl
    # A carrier not named collects Monday to Friday.
    assert due_at(evening, "freight", CUTOFFS, AMSTERDAM, DAYS) == datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
    # PostNL collects on Saturday: due then; without a carrier the earliest of all is that too.
    saturday_postnl = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
    assert due_at(evening, "postnl", CUTOFFS, AMSTERDAM, DAYS) == saturday_postnl
    assert due_at(evening, None, CUTOFFS, AMSTERDAM, DAYS) == saturday_postnl
    # Released on Saturday morning or Sunday: DHL's next pickup is Monday's, never the weekend's.
    for weekend in (datetime(2026, 11, 28, 8, 0, tzinfo=UTC), datetime(2026, 11, 29, 20, 0, tzinfo=UTC)):
        assert due_at(weekend, "dhl", CUTOFFS, AMSTERDAM, DAYS) == monday_dhl
    # On a pickup day before its cut-off: that day. A once-a-week carrier: a week on, after it.
    wednesdays = frozenset({2})
    wednesday = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    assert next_cutoff(wednesday, time(14, 0), AMSTERDAM, wednesdays) == datetime(2026, 12, 2, 13, 0, tzinfo=UTC)
    assert next_cutoff(wednesday + timedelta(hours=5), time(14, 0), AMSTERDAM,
                       wednesdays) == datetime(2026, 12, 9, 13, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="no weekday"):
        next_cutoff(wednesday, time(14, 0), AMSTERDAM, frozenset())


def test_over_a_weekend_with_a_clock_change_the_cutoff_keeps_its_wall_clock_time() -> None:
    # Summer time ends on Sunday 25 October 2026: Friday's 16:30 is 14:30 UTC, Monday's 15:30.
    friday = datetime(2026, 10, 23, 14, 0, tzinfo=UTC)
    assert due_at(friday, "dhl", CUTOFFS, AMSTERDAM, DAYS) == datetime(2026, 10, 23, 14, 30, tzinfo=UTC)
    assert due_at(friday + timedelta(hours=1), "dhl", CUTOFFS, AMSTERDAM, DAYS) == datetime(2026, 10, 26, 15, 30, tzinfo=UTC)
    # It begins on Sunday 29 March 2026: Friday 16:30 CET is 15:30 UTC, Monday 16:30 CEST 14:30.
    friday = datetime(2026, 3, 27, 16, 0, tzinfo=UTC)
    assert due_at(friday, "dhl", CUTOFFS, AMSTERDAM, DAYS) == datetime(2026, 3, 30, 14, 30, tzinfo=UTC)
    # The answer keeps the zone it was asked in.
    local = due_at(friday.astimezone(AMSTERDAM), "dhl", CUTOFFS, AMSTERDAM, DAYS)
    assert (local.tzinfo, local.hour, local.minute, local.weekday()) == (AMSTERDAM, 16, 30, 0)


def test_pickup_days_are_read_from_ranges_and_lists_of_weekdays() -> None:
    assert parse_pickup_days("Mon-Fri") == MONDAY_TO_FRIDAY == frozenset({0, 1, 2, 3, 4})
    assert parse_pickup_days("mon-sat") == frozenset(range(6))
    assert parse_pickup_days("Mon, Wed ,Friday") == frozenset({0, 2, 4})
    assert parse_pickup_days("Mon-Wed,Fri") == frozenset({0, 1, 2, 4})
    assert parse_pickup_days("Sat-Mon") == frozenset({5, 6, 0})  # past Sunday
    assert parse_pickup_days("Sun") == frozenset({6})
    for wrong in ("", "Mon-", "Mon-Tue-Wed", "Mo-Fr", "weekdays", "Mon;Fri", "Mon,,Fri"):
        with pytest.raises(ValueError, match="no list of weekdays; give e.g. Mon-Fri"):
            parse_pickup_days(wrong)


def test_the_pickup_days_setting_is_checked_at_startup(monkeypatch) -> None:
    defaults = Settings(_env_file=None)
    assert {c: parse_pickup_days(d) for c, d in defaults.carrier_pickup_days.items()} == {
        "postnl": frozenset(range(6)), "dhl": MONDAY_TO_FRIDAY, "dpd": MONDAY_TO_FRIDAY, "freight": MONDAY_TO_FRIDAY}
    monkeypatch.setenv("ORDERFLOW_CARRIER_PICKUP_DAYS", '{"postnl": "Mon-Fri", "dhl": "Mon,Wed,Fri"}')
    assert Settings(_env_file=None).carrier_pickup_days == {"postnl": "Mon-Fri", "dhl": "Mon,Wed,Fri"}
    with pytest.raises(ValidationError, match=r"ORDERFLOW_CARRIER_PICKUP_DAYS: 'dhl' has 'Mon-Frii' is no list of weekdays"):
        Settings(_env_file=None, carrier_pickup_days={"dhl": "Mon-Frii"})
    with pytest.raises(ValidationError, match=r"ORDERFLOW_CARRIER_PICKUP_DAYS: no cut-off in "
                       r"ORDERFLOW_CARRIER_PICKUP_CUTOFFS for 'post-nl' \(it has postnl, dhl, dpd, freight\)"):
        Settings(_env_file=None, carrier_pickup_days={"post-nl": "Mon-Sat"})
    # The default days name carriers a deployment may not use: no error for those.
    monkeypatch.delenv("ORDERFLOW_CARRIER_PICKUP_DAYS")
    assert Settings(_env_file=None, carrier_pickup_cutoffs={"ups": "18:00"}).carrier_pickup_cutoffs == {"ups": "18:00"}


def _c(name: str, due_h: float, released_min: int = 0, volume: float = 10, weight: float = 5) -> WaveCandidate:
    return WaveCandidate(pick_list_id=name, released_at=NOON + timedelta(minutes=released_min),
                         due_at=NOON + timedelta(hours=due_h), volume_l=volume, weight_kg=weight)


def test_a_wave_takes_the_orders_due_first_up_to_the_trolleys_load() -> None:
    trolley = Trolley(max_orders=3, max_volume_l=100, max_weight_kg=50)
    window = timedelta(hours=1)
    # Due first (and within the window after it), oldest release first, three at most.
    candidates = [_c("late", 5), _c("b", 1, 20), _c("a", 1, 10), _c("c", 1.5, 0), _c("d", 1.5, 5)]
    assert [c.pick_list_id for c in choose_wave(candidates, trolley, window)] == ["a", "b", "c"]
    # Outside the window: a wave of its own later.
    assert [c.pick_list_id for c in choose_wave([_c("a", 1), _c("z", 3)], trolley, window)] == ["a"]
    # Volume and weight: a big order is passed over for the smaller ones behind it.
    heavy = [_c("a", 1, 0, volume=60), _c("big", 1, 1, volume=50), _c("small", 1, 2, volume=30)]
    assert [c.pick_list_id for c in choose_wave(heavy, trolley, window)] == ["a", "small"]
    weighty = [_c("a", 1, 0, weight=30), _c("b", 1, 1, weight=30)]
    assert [c.pick_list_id for c in choose_wave(weighty, trolley, window)] == ["a"]
    # Too big for any trolley: never in a wave (and it does not hold the others' due time).
    assert [c.pick_list_id for c in choose_wave([_c("bench", 0.5, volume=720), _c("a", 2)], trolley, window)] == ["a"]
    assert choose_wave([], trolley, window) == []


def test_one_route_for_the_wave_visits_every_bin_once_and_beats_walking_each_order() -> None:
    layout = demo_layout()
    rng = random.Random(7)
    back_to_depot = walking_distance(layout, layout.pack_station, layout.depot)
    for _ in range(30):
        orders = [[Point(rng.choice(layout.aisle_xs[:6]), rack_y(layout, rng.randint(1, 16)))
                   for _ in range(rng.randint(1, 3))] for _ in range(3)]
        stops, route = wave_route(layout, orders)
        assert len(stops) == len(set(stops)) == len({p for o in orders for p in o})
        assert sorted(route.order) == list(range(len(stops)))
        singles = sum(plan_route(layout, list(dict.fromkeys(o))).length for o in orders)
        # Walking the orders one after another (back from the pack station to the depot in
        # between) is one walk through every stop: the exact wave route is never longer.
        assert route.exact
        assert route.length <= singles + (len(orders) - 1) * back_to_depot + 1e-9
