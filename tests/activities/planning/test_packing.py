"""Packing plans, checked by the independent checker over many generated orders."""

from hypothesis import given, settings, strategies as st

from activities.planning.packing import CONTAINERS, PADDING_MM, Item, first_fit_decreasing, lower_bound, plan_packing
from activities.planning.packing_check import check_plan


def _items_as_dicts(items: list[Item]) -> list[dict]:
    return [{"id": i.id, "length": i.length, "width": i.width, "height": i.height, "weight_g": i.weight_g,
             "fragile": i.fragile, "upright": i.upright} for i in items]


items_strategy = st.lists(
    st.builds(lambda n, l, w, h, g, f, u: (l, w, h, g, f, u), st.integers(0),
              st.integers(20, 700), st.integers(20, 500), st.integers(10, 500), st.integers(50, 25_000),
              st.booleans(), st.booleans()),
    min_size=1, max_size=40,
).map(lambda rows: [Item(str(k), f"SKU-{k % 5}", *row) for k, row in enumerate(rows)])


@settings(max_examples=150, deadline=None)
@given(items_strategy)
def test_every_plan_passes_the_independent_checker(items: list[Item]) -> None:
    plan = plan_packing(items).to_dict()
    assert check_plan(plan, _items_as_dicts(items), PADDING_MM) == []
    assert plan["unpacked"] == []


@settings(max_examples=60, deadline=None)
@given(items_strategy)
def test_never_more_boxes_than_first_fit_decreasing(items: list[Item]) -> None:
    box = max((c for c in CONTAINERS if c.kind == "box"), key=lambda c: c.volume)
    if any(not any(a <= box.length and b <= box.width and c <= box.height
                   for a, b, c in [(i.length, i.width, i.height)]) for i in items):
        return
    plan = plan_packing(items)
    ffd, left = first_fit_decreasing(items, box)
    if not left and len(ffd) <= 4:
        assert len(plan.containers) <= len(ffd)
        assert len(plan.containers) >= min(lower_bound(items, box), 1)


def test_the_checker_finds_what_is_wrong() -> None:
    items = [Item("a", "X", 100, 100, 100, 500, upright=True), Item("b", "Y", 100, 100, 200, 500, fragile=True)]
    good = plan_packing(items).to_dict()
    assert check_plan(good, _items_as_dicts(items), PADDING_MM) == []
    bad = plan_packing(items).to_dict()
    first, second = bad["containers"][0]["items"]
    second.update(x=first["x"], y=first["y"], z=first["z"])
    assert any("overlap" in p for p in check_plan(bad, _items_as_dicts(items), PADDING_MM))
    bad = plan_packing(items).to_dict()
    a = next(p for p in bad["containers"][0]["items"] if p["item_id"] == "a")
    a["length"], a["height"] = 100, 100  # same cube: make it not upright by changing the item instead
    upright_wrong = [dict(d, height=50, length=200) if d["id"] == "a" else d for d in _items_as_dicts(items)]
    assert check_plan(bad, upright_wrong, PADDING_MM)
    bad["containers"][0]["max_weight_g"] = 10
    assert any("over its limit" in p for p in check_plan(bad, _items_as_dicts(items), PADDING_MM))
    bad["containers"][0]["items"][0]["x"] = 10_000
    assert any("sticks out" in p for p in check_plan(bad, _items_as_dicts(items), PADDING_MM))
    bad["containers"][0]["items"].pop()
    assert any("packed 0 times" in p for p in check_plan(bad, _items_as_dicts(items), PADDING_MM))


def test_mixed_order_bench_on_a_pallet_vase_wrapped() -> None:
    items = [Item("vase", "VASE-010", 160, 160, 320, 1_800, fragile=True, upright=True),
             Item("book1", "BOOK-042", 250, 190, 30, 900), Item("book2", "BOOK-042", 250, 190, 30, 900),
             Item("bench", "BENCH-500", 1_500, 600, 800, 38_000, upright=True)]
    plan = plan_packing(items).to_dict()
    assert check_plan(plan, _items_as_dicts(items), PADDING_MM) == []
    where = {p["item_id"]: c for c in plan["containers"] for p in c["items"]}
    assert where["bench"]["kind"] == "pallet"
    assert where["vase"]["kind"] == "box" and where["book1"]["kind"] == "box"
    vase = next(p for p in where["vase"]["items"] if p["item_id"] == "vase")
    assert vase["padding_mm"] == PADDING_MM and "bubble wrap" in vase["instruction"]
    assert vase["height"] == 320 + 2 * PADDING_MM  # upright
    assert len(plan["containers"]) == 2


def test_a_large_order_goes_on_a_pallet() -> None:
    items = [Item(str(k), "LAMP-200", 450, 200, 200, 2_100) for k in range(40)]
    plan = plan_packing(items).to_dict()
    assert check_plan(plan, _items_as_dicts(items), PADDING_MM) == []
    assert [c["kind"] for c in plan["containers"]] == ["pallet"]
