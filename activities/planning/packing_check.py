"""Independent checker of packing plans. It imports nothing from the planner on purpose: it
reads a plan as plain data (``PackingPlan.to_dict()``, or the JSON stored for an order) and
the original items, and lists every rule broken: each item packed exactly once, in a size that
is a rotation of the item (plus padding for fragile items), upright items upright, inside the
container, no two items overlapping, contents under the container's weight limit."""

from typing import Any


def check_plan(plan: dict[str, Any], items: list[dict[str, Any]], padding_mm: int) -> list[str]:
    """``items``: dicts with id, length, width, height, weight_g, fragile, upright. Returns the
    problems found; empty means the plan is sound."""
    problems: list[str] = []
    by_id = {i["id"]: i for i in items}
    seen: dict[str, int] = {}
    for n, container in enumerate(plan["containers"]):
        cl, cw, ch = container["inner"]
        boxes = []
        weight = 0
        for p in container["items"]:
            item = by_id.get(p["item_id"])
            seen[p["item_id"]] = seen.get(p["item_id"], 0) + 1
            if item is None:
                problems.append(f"container {n}: unknown item {p['item_id']}")
                continue
            pad = 2 * padding_mm if item["fragile"] else 0
            want = sorted((item["length"] + pad, item["width"] + pad, item["height"] + pad))
            got = (p["length"], p["width"], p["height"])
            if sorted(got) != want:
                problems.append(f"container {n}: item {p['item_id']} placed as {got}, not a rotation of {want}")
            if item["upright"] and p["height"] != item["height"] + pad:
                problems.append(f"container {n}: upright item {p['item_id']} is not standing upright")
            if item["fragile"] and not p.get("instruction"):
                problems.append(f"container {n}: fragile item {p['item_id']} has no wrapping instruction")
            x, y, z = p["x"], p["y"], p["z"]
            if min(x, y, z) < 0 or x + got[0] > cl or y + got[1] > cw or z + got[2] > ch:
                problems.append(f"container {n}: item {p['item_id']} sticks out of the container")
            for other_id, (ox, oy, oz, ol, ow, oh) in boxes:
                if x < ox + ol and ox < x + got[0] and y < oy + ow and oy < y + got[1] and z < oz + oh and oz < z + got[2]:
                    problems.append(f"container {n}: items {p['item_id']} and {other_id} overlap")
            boxes.append((p["item_id"], (x, y, z, *got)))
            weight += item["weight_g"]
        if weight > container["max_weight_g"]:
            problems.append(f"container {n}: contents {weight} g over its limit {container['max_weight_g']} g")
    unpacked = set(plan.get("unpacked", []))
    for item_id in by_id:
        if seen.get(item_id, 0) + (item_id in unpacked) != 1:
            problems.append(f"item {item_id} packed {seen.get(item_id, 0)} times")
    return problems
