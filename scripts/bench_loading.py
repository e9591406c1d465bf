"""Vehicle load plans on generated dispatches: how full the vehicle gets, the load length
against its lower bound, what the stop order costs, and the time each plan takes. Part of
``make bench-warehouse``; alone: ``python -m scripts.bench_loading`` (seeded, so the figures
repeat)."""

import random
import statistics
import time

from activities.planning.loading import (
    MIN_SUPPORT,
    VEHICLE_BY_CODE,
    Package,
    load_length_lower_bound,
    plan_load,
)
from activities.planning.loading_check import check_load_plan

ROUNDS = 10
# The packing plan's boxes and crate as packages: (l, w, h mm, share of upright ones)
BOXES = [(300, 200, 150), (400, 300, 250), (400, 300, 250), (600, 400, 400), (1_000, 600, 600)]


def _dispatch(rng: random.Random, n: int, stops: int, pallets: int = 0) -> list[Package]:
    packages = []
    for i in range(n):
        l, w, h = rng.choice(BOXES)
        packages.append(Package(f"P{i}", rng.randint(1, stops), l, w, h, rng.randint(500, 12_000),
                                upright=rng.random() < 0.25))
    for i in range(pallets):
        packages.append(Package(f"PAL{i}", rng.randint(1, stops), 1_200, 800, rng.randint(800, 1_500),
                                rng.randint(100_000, 500_000), upright=True, pallet=True))
    return packages


def bench_loading(rng: random.Random) -> None:
    print("\nvehicle loading (boxes of the packing catalogue, 25% upright; stops drawn at random)")
    print(f"{'vehicle':>9} {'pkgs':>5} {'stops':>5} {'placed':>7} {'vol util':>9} {'kg util':>8} {'length/LB':>10} "
          f"{'1 stop l/LB':>12} {'ms/plan':>8}")
    cases = [("VAN", 60, 3, 0), ("VAN", 250, 3, 0), ("BOX-TRUCK", 150, 5, 0), ("BOX-TRUCK", 500, 5, 0),
             ("TRAILER", 400, 4, 8), ("TRAILER", 1_000, 4, 8)]
    for code, n, stops, pallets in cases:
        vehicle = VEHICLE_BY_CODE[code]
        placed, util, kg_util, vs_lb, one_stop_vs_lb, times = [], [], [], [], [], []
        for _ in range(ROUNDS):
            packages = _dispatch(rng, n, stops, pallets)
            start = time.perf_counter()
            plan = plan_load(packages, vehicle)
            times.append(time.perf_counter() - start)
            assert check_load_plan(plan.to_dict(), [p.__dict__ for p in packages], MIN_SUPPORT) == []
            placed.append(len(plan.placements) / len(packages))
            util.append(plan.volume_utilisation)
            kg_util.append(plan.weight_utilisation)
            if not plan.unplaced:  # the load length means something only when all went
                vs_lb.append(plan.load_length_mm / load_length_lower_bound(packages, vehicle))
                single = [Package(p.id, 1, p.length, p.width, p.height, p.weight_g, p.upright, p.pallet)
                          for p in packages]
                one_stop_vs_lb.append(plan_load(single, vehicle).load_length_mm
                                      / load_length_lower_bound(single, vehicle))
        lb = f"{statistics.mean(vs_lb):.2f}" if vs_lb else "full"
        one = f"{statistics.mean(one_stop_vs_lb):.2f}" if one_stop_vs_lb else "full"
        print(f"{code:>9} {n + pallets:>5} {stops:>5} {statistics.mean(placed):>7.0%} {statistics.mean(util):>9.2f} "
              f"{statistics.mean(kg_util):>8.2f} {lb:>10} {one:>12} {1000 * statistics.median(times):>8.0f}")
    print(f"  (means over {ROUNDS} dispatches, ms the median; LB = the packages' volume over the cross-section, a\n"
          "   pallet taking the full height; '1 stop' plans the same packages as one stop: what stop order costs;\n"
          "   'full' = more than fits, so vol util is what counts there; every plan passed the checker)")


if __name__ == "__main__":
    bench_loading(random.Random(7))
