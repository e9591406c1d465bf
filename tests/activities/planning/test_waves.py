"""The wave planner: due times from carrier cut-offs, which orders go on a trolley, and one
route through all of them."""

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from activities.planning.layout import Point, demo_layout, rack_y, walking_distance
from activities.planning.routing import plan_route
from activities.planning.waves import Trolley, WaveCandidate, choose_wave, due_at, next_cutoff, wave_route

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
CUTOFFS = {"postnl": time(17, 0), "dhl": time(16, 30), "freight": time(14, 0)}
NOON = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)  # 12:00 in Amsterdam (CET)


def test_an_order_is_due_at_its_carriers_next_cutoff_in_local_time() -> None:
    assert next_cutoff(NOON, time(17, 0), AMSTERDAM) == datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    # After the day's cut-off: tomorrow's.
    evening = datetime(2026, 11, 27, 16, 30, tzinfo=UTC)
    assert next_cutoff(evening, time(17, 0), AMSTERDAM) == datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
    # Summer time: 17:00 in Amsterdam is 15:00 UTC.
    summer = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    assert next_cutoff(summer, time(17, 0), AMSTERDAM) == datetime(2026, 7, 1, 15, 0, tzinfo=UTC)
    assert due_at(NOON, "postnl", CUTOFFS, AMSTERDAM) == datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    # No carrier chosen yet: ready for the earliest pickup of all.
    assert due_at(NOON, None, CUTOFFS, AMSTERDAM) == datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
    assert due_at(NOON, "unknown-carrier", CUTOFFS, AMSTERDAM) == due_at(NOON, None, CUTOFFS, AMSTERDAM)


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
