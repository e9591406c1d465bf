"""Independent checker of vehicle load plans. It imports nothing from the planner on purpose:
it reads a plan as plain data (``LoadPlan.to_dict()``, or the JSON stored with a dispatch)
and the packages as given to the planner, and lists every rule broken:

- every package placed exactly once or listed as not loaded (with a reason), nothing else;
- each placed size a rotation of the package; upright packages and pallets with their height
  vertical; pallets on the floor with nothing on top;
- inside the load space; no two packages overlapping;
- the placed weight within the payload;
- a package off the floor rests, for at least ``min_support`` of its base, on the tops of
  packages loaded before it (lower ``sequence``);
- stop order: for ``a`` of an earlier stop and ``b`` of a later one, overlapping cross sections
  (y × z) mean ``b`` is entirely deeper (``b.x + b.length <= a.x``; ``x = 0`` is the front
  wall, the doors are at the far end), and overlapping footprints (x × y) mean ``b`` is under
  ``a``.
"""

from typing import Any


def _overlap(a0: int, a1: int, b0: int, b1: int) -> bool:
    return a0 < b1 and b0 < a1


def _area(p: dict[str, Any], q: dict[str, Any]) -> int:
    dx = min(p["x"] + p["length"], q["x"] + q["length"]) - max(p["x"], q["x"])
    dy = min(p["y"] + p["width"], q["y"] + q["width"]) - max(p["y"], q["y"])
    return max(dx, 0) * max(dy, 0)


def check_load_plan(plan: dict[str, Any], packages: list[dict[str, Any]], min_support: float) -> list[str]:
    """``packages``: dicts with id, stop, length, width, height, weight_g, upright, pallet.
    Returns the problems found; empty means the plan is sound."""
    problems: list[str] = []
    by_id = {p["id"]: p for p in packages}
    vl, vw, vh = plan["vehicle"]["inner"]
    placed = plan["placements"]
    seen: dict[str, int] = {}
    for u in plan.get("unplaced", []):
        seen[u["package_id"]] = seen.get(u["package_id"], 0) + 1
        if not u.get("reason"):
            problems.append(f"package {u['package_id']} is not loaded and no reason is given")
    sequences = [p["sequence"] for p in placed]
    if len(set(sequences)) != len(sequences):
        problems.append("two placements share a loading sequence number")
    weight = 0
    for p in placed:
        pid = p["package_id"]
        seen[pid] = seen.get(pid, 0) + 1
        pkg = by_id.get(pid)
        if pkg is None:
            continue  # reported below
        weight += pkg["weight_g"]
        got = (p["length"], p["width"], p["height"])
        if sorted(got) != sorted((pkg["length"], pkg["width"], pkg["height"])):
            problems.append(f"package {pid} placed as {got}, not a rotation of its size")
        if (pkg["upright"] or pkg["pallet"]) and p["height"] != pkg["height"]:
            problems.append(f"package {pid} must stand upright but is placed on its side")
        if pkg["pallet"] and p["z"] != 0:
            problems.append(f"pallet {pid} is not on the floor")
        if min(p["x"], p["y"], p["z"]) < 0 or p["x"] + got[0] > vl or p["y"] + got[1] > vw or p["z"] + got[2] > vh:
            problems.append(f"package {pid} sticks out of the load space")
    if weight > plan["vehicle"]["payload_g"]:
        problems.append(f"load of {weight} g over the payload of {plan['vehicle']['payload_g']} g")

    for i, p in enumerate(placed):
        pkg = by_id.get(p["package_id"])
        if pkg is None:
            continue
        support = 0
        for q in placed[:i] + placed[i + 1:]:
            other = by_id.get(q["package_id"])
            if other is None:
                continue
            in_x = _overlap(p["x"], p["x"] + p["length"], q["x"], q["x"] + q["length"])
            in_y = _overlap(p["y"], p["y"] + p["width"], q["y"], q["y"] + q["width"])
            in_z = _overlap(p["z"], p["z"] + p["height"], q["z"], q["z"] + q["height"])
            if in_x and in_y and in_z:
                if p["sequence"] < q["sequence"]:
                    problems.append(f"packages {p['package_id']} and {q['package_id']} overlap")
                continue
            if in_x and in_y and q["z"] >= p["z"] + p["height"]:  # q stands above p
                if pkg["pallet"]:
                    problems.append(f"package {q['package_id']} is loaded on top of pallet {p['package_id']}")
                if pkg["stop"] < other["stop"]:
                    problems.append(f"package {q['package_id']} (stop {other['stop']}) is on top of "
                                    f"{p['package_id']} (stop {pkg['stop']}), which is unloaded before it")
            if in_y and in_z and pkg["stop"] < other["stop"] and q["x"] + q["length"] > p["x"]:
                problems.append(f"package {q['package_id']} (stop {other['stop']}) stands between "
                                f"{p['package_id']} (stop {pkg['stop']}) and the doors")
            if q["z"] + q["height"] == p["z"] and q["sequence"] < p["sequence"]:
                support += _area(p, q)
        if p["z"] > 0 and support < min_support * p["length"] * p["width"]:
            problems.append(f"package {p['package_id']} rests on {support / (p['length'] * p['width']):.0%} "
                            f"of its base, less than {min_support:.0%}")

    for pid in by_id:
        if seen.get(pid, 0) != 1:
            problems.append(f"package {pid} is placed or listed {seen.get(pid, 0)} times, not once")
    for pid in seen:
        if pid not in by_id:
            problems.append(f"unknown package {pid} in the plan")
    return problems
