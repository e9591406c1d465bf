"""Warehouse planners on generated orders: pick route length against the S-shape rule and the
optimum, packing containers and utilisation against a lower bound and first-fit decreasing,
wave picking against one order at a time, vehicle loading (``scripts.bench_loading``), and the time
each plan takes. Run: ``make bench-warehouse`` (prints a table; seeded, so the
figures repeat)."""

import random
import statistics
import time

from activities.planning.layout import Point, demo_layout, rack_y
from activities.planning.packing import CONTAINERS, Item, first_fit_decreasing, lower_bound, pack_kind, plan_packing
from activities.planning.routing import held_karp, plan_route, s_shape
from activities.planning.waves import wave_route
from scripts.bench_loading import bench_loading

ORDERS = 40
# Parcel goods like the demo catalogue's: (l, w, h mm, grams, fragile)
GOODS = [(120, 90, 100, 450, False), (160, 160, 320, 1_800, True), (250, 190, 30, 900, False),
         (100, 70, 50, 120, False), (450, 200, 200, 2_100, False), (220, 220, 200, 1_400, True),
         (300, 200, 100, 1_000, False), (180, 120, 60, 300, False)]


def bench_routes(rng: random.Random) -> None:
    layout = demo_layout()
    print("pick routes (demo warehouse, 8 aisles x 16 racks)")
    print(f"{'picks':>6} {'route/S-shape':>14} {'route/optimum':>14} {'ms/list':>8} {'Held-Karp ms':>13}")
    for n in (5, 10, 20, 50, 100):
        ratios_s, ratios_opt, times, reference_times = [], [], [], []
        for _ in range(ORDERS):
            stops = list({Point(rng.choice(layout.aisle_xs), rack_y(layout, rng.randint(1, 16))) for _ in range(n)})
            start = time.perf_counter()
            route = plan_route(layout, stops)
            times.append(time.perf_counter() - start)
            assert route.exact
            ratios_s.append(route.length / s_shape(layout, stops).length)
            if n <= 10:  # the independent optimum; exponential, so only for short lists
                start = time.perf_counter()
                ratios_opt.append(route.length / held_karp(layout, stops).length)
                reference_times.append(time.perf_counter() - start)
        opt = f"{statistics.mean(ratios_opt):.3f}" if ratios_opt else "exact"
        ref = f"{1000 * statistics.mean(reference_times):.1f}" if reference_times else "-"
        print(f"{n:>6} {statistics.mean(ratios_s):>14.3f} {opt:>14} {1000 * statistics.mean(times):>8.2f} {ref:>13}")
    print("  (picks drawn at random, duplicates merged; routes by Ratliff-Rosenthal, exact for any number of stops;\n"
          "   route/optimum checks them against Held-Karp where that is quick enough)")


def bench_packing(rng: random.Random) -> None:
    largest_box = max((c for c in CONTAINERS if c.kind == "box"), key=lambda c: c.volume)
    print("\npacking into boxes (fragile items padded), per order")
    print(f"{'items':>6} {'boxes/LB':>9} {'boxes/FFD':>10} {'util':>6} {'FFD util':>9} {'ms/order':>9} {'full plan':>12}")
    for n in (10, 50, 200):
        vs_lb, vs_ffd, util, ffd_util, times, kinds = [], [], [], [], [], []
        for k in range(10):
            items = [Item(f"{k}.{i}", "X", *rng.choice(GOODS), upright=False) for i in range(n)]
            items = [Item(i.id, i.sku, i.length, i.width, i.height, i.weight_g, i.fragile, i.fragile) for i in items]
            volume = sum(a * b * c for a, b, c in (i.padded() for i in items))
            start = time.perf_counter()
            spaces, _ = pack_kind(items, ("box",), CONTAINERS)
            times.append(time.perf_counter() - start)
            ffd, _ = first_fit_decreasing(items, largest_box)
            vs_lb.append(len(spaces) / lower_bound(items, largest_box))
            vs_ffd.append(len(spaces) / len(ffd))
            util.append(volume / sum(s.c.volume for s in spaces))
            ffd_util.append(volume / (len(ffd) * largest_box.volume))
            kinds.append("+".join(sorted({c.container.code for c in plan_packing(items).containers})))
        print(f"{n:>6} {statistics.mean(vs_lb):>9.2f} {statistics.mean(vs_ffd):>10.2f} {statistics.mean(util):>6.2f} "
              f"{statistics.mean(ffd_util):>9.2f} {1000 * statistics.mean(times):>9.1f} {max(set(kinds), key=kinds.count):>12}")
    print("  LB = item volume / largest box, rounded up; 'full plan' = what plan_packing picks (pallet above 4 boxes)")


def bench_waves(rng: random.Random) -> None:
    """Orders of 1-5 items at random zone-A bins, walked one at a time (each its own shortest
    route, depot to pack station) against one wave route through all of them."""
    layout = demo_layout()
    print("\nwave picking (orders of 1-5 items in zone A, one trolley round against one order at a time)")
    print(f"{'orders':>7} {'wave/single':>12} {'m/order single':>15} {'m/order wave':>13} {'ms/wave':>8}")
    for orders in (5, 10, 20):
        ratios, single_per_order, wave_per_order, times = [], [], [], []
        for _ in range(ORDERS):
            picks = [[Point(rng.choice(layout.aisle_xs[:6]), rack_y(layout, rng.randint(1, 16)))
                      for _ in range(rng.randint(1, 5))] for _ in range(orders)]
            singles = sum(plan_route(layout, list(dict.fromkeys(p))).length for p in picks)
            start = time.perf_counter()
            _, route = wave_route(layout, picks)
            times.append(time.perf_counter() - start)
            ratios.append(route.length / singles)
            single_per_order.append(singles / orders)
            wave_per_order.append(route.length / orders)
        print(f"{orders:>7} {statistics.mean(ratios):>12.3f} {statistics.mean(single_per_order):>15.1f} "
              f"{statistics.mean(wave_per_order):>13.1f} {1000 * statistics.mean(times):>8.1f}")
    print(f"  (means over {ORDERS} rounds; a bin two orders share is visited once)")


if __name__ == "__main__":
    rng = random.Random(5)
    bench_routes(rng)
    bench_packing(rng)
    bench_waves(rng)
    bench_loading(rng)
