"""Vehicle load plans, checked by the independent checker over many generated dispatches, and
the checker itself shown to find each rule broken."""

import copy
from dataclasses import asdict

from hypothesis import given, settings, strategies as st

from activities.planning.loading import (
    MIN_SUPPORT,
    VEHICLE_BY_CODE,
    VEHICLES,
    Package,
    Vehicle,
    load_length_lower_bound,
    number_stops,
    plan_load,
    stop_region,
)
from activities.planning.loading_check import check_load_plan

VAN = VEHICLE_BY_CODE["VAN"]


def _dicts(packages: list[Package]) -> list[dict]:
    return [asdict(p) for p in packages]


def _check(plan: dict, packages: list[Package]) -> list[str]:
    return check_load_plan(plan, _dicts(packages), MIN_SUPPORT)


# Parcels of every shape, the packing plan's boxes and crates, and pallets (upright, floor only).
_parcel = st.tuples(st.integers(50, 1_800), st.integers(50, 1_200), st.integers(20, 1_000),
                    st.integers(100, 60_000), st.booleans()).map(
    lambda t: dict(length=t[0], width=t[1], height=t[2], weight_g=t[3], upright=t[4], pallet=False))
_container = st.sampled_from([(300, 200, 150), (400, 300, 250), (600, 400, 400), (1_000, 600, 600)]).flatmap(
    lambda d: st.tuples(st.just(d), st.integers(200, 30_000), st.booleans())).map(
    lambda t: dict(length=t[0][0], width=t[0][1], height=t[0][2], weight_g=t[1], upright=t[2], pallet=False))
_pallet = st.tuples(st.sampled_from([(1_200, 800), (1_800, 800)]), st.integers(300, 1_500),
                    st.integers(20_000, 800_000)).map(
    lambda t: dict(length=t[0][0], width=t[0][1], height=t[1], weight_g=t[2], upright=True, pallet=True))

packages_strategy = st.lists(
    st.tuples(st.one_of(_parcel, _container, _container, _pallet), st.integers(1, 5)),
    min_size=1, max_size=60,
).map(lambda rows: [Package(id=f"P{k}", stop=stop, **row) for k, (row, stop) in enumerate(rows)])

vehicles_strategy = st.one_of(
    st.sampled_from(VEHICLES),
    st.builds(lambda l, w, h, kg: Vehicle("ODD", "generated", l, w, h, kg),
              st.integers(1_000, 8_000), st.integers(800, 2_500), st.integers(800, 2_800), st.integers(100, 5_000)),
)


@settings(max_examples=200, deadline=None)
@given(packages_strategy, vehicles_strategy)
def test_every_load_plan_passes_the_independent_checker(packages: list[Package], vehicle: Vehicle) -> None:
    plan = plan_load(packages, vehicle)
    assert _check(plan.to_dict(), packages) == []
    assert plan.weight_g <= vehicle.payload_g
    assert 0 <= plan.volume_utilisation <= 1
    # The loading order is the stop order reversed: staff load the last stop first.
    assert [p.sequence for p in plan.placements] == list(range(1, len(plan.placements) + 1))
    assert [p.stop for p in plan.placements] == sorted((p.stop for p in plan.placements), reverse=True)


@settings(max_examples=100, deadline=None)
@given(packages_strategy)
def test_what_is_left_out_is_left_out_for_a_reason(packages: list[Package]) -> None:
    plan = plan_load(packages, VAN)
    by_id = {p.id: p for p in packages}
    for u in plan.unplaced:
        p = by_id[u.package_id]
        fits_alone = any(a <= VAN.length and b <= VAN.width and h <= VAN.height
                         for a, b, h in ([(p.length, p.width, p.height), (p.width, p.length, p.height)]
                                         if p.upright or p.pallet else
                                         [(p.length, p.width, p.height), (p.length, p.height, p.width),
                                          (p.width, p.length, p.height), (p.width, p.height, p.length),
                                          (p.height, p.length, p.width), (p.height, p.width, p.length)]))
        if not fits_alone:
            assert "larger" in u.reason
        elif p.weight_g > VAN.payload_g:
            assert "heavier" in u.reason
        else:
            assert "payload" in u.reason or "no room" in u.reason


@settings(max_examples=100, deadline=None)
@given(packages_strategy)
def test_the_load_length_is_never_below_the_lower_bound(packages: list[Package]) -> None:
    trailer = VEHICLE_BY_CODE["TRAILER"]
    plan = plan_load(packages, trailer)
    placed = {p.package_id for p in plan.placements}
    assert plan.load_length_mm >= load_length_lower_bound([p for p in packages if p.id in placed], trailer)


def test_a_single_stop_of_boxes_that_fits_is_loaded_whole_and_densely() -> None:
    boxes = [Package(f"B{n}", 1, 400, 300, 250, 8_000) for n in range(60)]  # 1.8 m³ in a 10 m³ van
    plan = plan_load(boxes, VAN)
    assert plan.unplaced == []
    assert plan.load_length_mm <= 2 * load_length_lower_bound(boxes, VAN)


def test_the_last_stop_is_loaded_first_and_deepest() -> None:
    # Boxes the full width and height of the van, so the two stops share every cross section.
    first = Package("first", 1, 500, VAN.width, VAN.height, 10_000)
    last = Package("last", 2, 500, VAN.width, VAN.height, 10_000)
    plan = plan_load([first, last], VAN)
    by_id = {p.package_id: p for p in plan.placements}
    assert by_id["last"].sequence == 1 and by_id["last"].x == 0
    assert by_id["first"].x >= by_id["last"].x + by_id["last"].length
    assert _check(plan.to_dict(), [first, last]) == []


def test_nothing_stands_on_a_pallet_and_a_pallet_stays_upright() -> None:
    pallet = Package("pal", 1, 1_200, 800, 1_000, 300_000, upright=True, pallet=True)
    boxes = [Package(f"b{n}", 1, 400, 300, 250, 5_000) for n in range(30)]
    plan = plan_load([pallet, *boxes], VAN)
    p = next(p for p in plan.placements if p.package_id == "pal")
    assert p.z == 0 and p.height == 1_000
    for q in plan.placements:
        if q is not p and q.x < p.x + p.length and p.x < q.x + q.length and q.y < p.y + p.width and p.y < q.y + q.width:
            raise AssertionError(f"{q.package_id} stands on the pallet")


def test_packages_that_cannot_go_say_why() -> None:
    too_long = Package("long", 1, 3_500, 400, 400, 10_000)  # longer than the van in every way
    too_heavy = Package("heavy", 1, 1_200, 800, 1_000, 1_200_000, upright=True, pallet=True)
    filler = [Package(f"f{n}", 1, 1_000, 800, 800, 300_000) for n in range(4)]
    plan = plan_load([too_long, too_heavy, *filler], VAN)
    reasons = {u.package_id: u.reason for u in plan.unplaced}
    assert "larger" in reasons["long"] and "3500" in reasons["long"]
    assert "heavier" in reasons["heavy"]
    assert any("over the payload" in r for pid, r in reasons.items() if pid.startswith("f"))
    assert _check(plan.to_dict(), [too_long, too_heavy, *filler]) == []


def test_stops_go_home_country_first_then_by_postcode_region() -> None:
    assert stop_region("NL", "1012 LG") == "NL-10"
    assert stop_region("de", "10115") == "DE-10"
    assert stop_region("BE", "") == "BE"
    assert number_stops(["DE-10", "NL-35", "BE-10", "NL-10", "NL-35"]) == {
        "NL-10": 1, "NL-35": 2, "BE-10": 3, "DE-10": 4}


def test_the_checker_finds_each_rule_broken() -> None:
    a = Package("a", 1, 400, 300, 250, 5_000, upright=True)
    b = Package("b", 2, 400, 300, 250, 5_000)
    pal = Package("pal", 2, 1_200, 800, 1_000, 100_000, upright=True, pallet=True)
    packages = [a, b, pal]
    good = plan_load(packages, VAN).to_dict()
    assert _check(good, packages) == []

    def broken(change) -> list[str]:
        plan = copy.deepcopy(good)
        by_id = {p["package_id"]: p for p in plan["placements"]}
        change(plan, by_id)
        return _check(plan, packages)

    def overlap(plan, by_id):
        by_id["a"].update(x=by_id["b"]["x"], y=by_id["b"]["y"], z=by_id["b"]["z"])
    assert any("overlap" in p for p in broken(overlap))

    def outside(plan, by_id):
        by_id["a"]["x"] = VAN.length - 10
    assert any("sticks out" in p for p in broken(outside))

    def on_its_side(plan, by_id):
        by_id["a"].update(length=250, height=400)
    assert any("upright" in p for p in broken(on_its_side))

    def heavy(plan, by_id):
        plan["vehicle"]["payload_g"] = 50_000
    assert any("over the payload" in p for p in broken(heavy))

    def floating(plan, by_id):
        by_id["a"].update(x=VAN.length - 400, y=0, z=900)
    assert any("rests on" in p for p in broken(floating))

    def on_the_pallet(plan, by_id):
        p = by_id["pal"]
        by_id["a"].update(x=p["x"], y=p["y"], z=p["height"])
    assert any("on top of pallet" in p for p in broken(on_the_pallet))

    def pallet_in_the_air(plan, by_id):
        by_id["pal"]["z"] = 5
    assert any("not on the floor" in p for p in broken(pallet_in_the_air))

    def later_stop_at_the_doors(plan, by_id):
        # b (stop 2) moved right in front of a (stop 1), in the same cross section.
        by_id["b"].update(x=by_id["a"]["x"] + 400, y=by_id["a"]["y"], z=by_id["a"]["z"], length=400, width=300,
                          height=250)
    assert any("between" in p and "doors" in p for p in broken(later_stop_at_the_doors))

    def later_stop_on_top(plan, by_id):
        by_id["b"].update(x=by_id["a"]["x"], y=by_id["a"]["y"], z=by_id["a"]["z"] + 250, length=400, width=300,
                          height=250)
        by_id["b"]["sequence"] = max(p["sequence"] for p in plan["placements"]) + 1
    assert any("on top of a" in p for p in broken(later_stop_on_top))

    def lost(plan, by_id):
        plan["placements"] = [p for p in plan["placements"] if p["package_id"] != "a"]
    assert any("a is placed or listed 0 times" in p for p in broken(lost))

    def twice(plan, by_id):
        plan["unplaced"].append({"package_id": "b", "stop": 2, "reason": "twice"})
    assert any("b is placed or listed 2 times" in p for p in broken(twice))

    def resized(plan, by_id):
        by_id["b"]["length"] = 390
    assert any("not a rotation" in p for p in broken(resized))
