"""Pick routes through the rectangular warehouse (``layout``): the S-shape rule that pickers
follow by habit, and the route Orderflow gives them, which is never longer.

``plan_route`` is exact (Held–Karp dynamic programming over the shortest walking distances)
up to ``EXACT_LIMIT`` distinct stops; above that it improves the better of the S-shape order
and a nearest-neighbour order with 2-opt and or-opt moves. The route starts at the depot and
ends at the pack station.
"""

from dataclasses import dataclass

from activities.planning.layout import Layout, Point, walking_distance

EXACT_LIMIT = 11


@dataclass(frozen=True)
class Route:
    order: list[int]  # indices into the stops given, in walking order
    length: float  # metres, depot to pack station
    exact: bool = False


def route_length(layout: Layout, stops: list[Point], order: list[int]) -> float:
    path = [layout.depot, *(stops[i] for i in order), layout.pack_station]
    return sum(walking_distance(layout, a, b) for a, b in zip(path, path[1:]))


def s_shape(layout: Layout, stops: list[Point]) -> Route:
    """Walk every aisle that holds a pick from end to end, left to right, alternating
    direction; with an odd number of such aisles the last one is entered from the front and
    left the same way. The length is the real S-shape walk, not shortcut."""
    if not stops:
        return Route([], walking_distance(layout, layout.depot, layout.pack_station))
    aisles = sorted({p.x for p in stops})
    order: list[int] = []
    length = abs(layout.depot.x - aisles[0])
    for i, x in enumerate(aisles):
        in_aisle = sorted((i_ for i_, p in enumerate(stops) if abs(p.x - x) < 1e-9), key=lambda k: stops[k].y)
        if i > 0:
            length += x - aisles[i - 1]
        at_front = i % 2 == 0
        if i == len(aisles) - 1 and at_front:
            length += 2 * max(stops[k].y for k in in_aisle)
            order += in_aisle
        else:
            length += layout.aisle_length
            order += in_aisle if at_front else in_aisle[::-1]
    length += abs(aisles[-1] - layout.pack_station.x)
    return Route(order, length)


def _matrix(layout: Layout, stops: list[Point]) -> list[list[float]]:
    # index 0 = depot, 1..n = stops, n+1 = pack station
    points = [layout.depot, *stops, layout.pack_station]
    return [[walking_distance(layout, a, b) for b in points] for a in points]


def _held_karp(d: list[list[float]], n: int) -> list[int]:
    """Shortest path 0 → every stop 1..n → n+1, exactly."""
    full = (1 << n) - 1
    cost: dict[tuple[int, int], float] = {}
    parent: dict[tuple[int, int], int] = {}
    for j in range(n):
        cost[(1 << j, j)] = d[0][j + 1]
    for mask in range(1, full + 1):
        for j in range(n):
            if not mask & (1 << j) or (mask, j) not in cost:
                continue
            base = cost[(mask, j)]
            for k in range(n):
                if mask & (1 << k):
                    continue
                key = (mask | (1 << k), k)
                value = base + d[j + 1][k + 1]
                if value < cost.get(key, float("inf")):
                    cost[key] = value
                    parent[key] = j
    last = min(range(n), key=lambda j: cost[(full, j)] + d[j + 1][n + 1])
    order, mask = [], full
    while True:
        order.append(last)
        prev = parent.get((mask, last))
        mask &= ~(1 << last)
        if prev is None:
            break
        last = prev
    return order[::-1]


def _path_cost(d: list[list[float]], order: list[int], n: int) -> float:
    seq = [0, *(i + 1 for i in order), n + 1]
    return sum(d[a][b] for a, b in zip(seq, seq[1:]))


def _improve(d: list[list[float]], order: list[int], n: int) -> list[int]:
    """2-opt (reverse a stretch) and or-opt (move one stop) until neither helps."""
    seq = [0, *(i + 1 for i in order), n + 1]
    improved = True
    while improved:
        improved = False
        for i in range(1, len(seq) - 2):
            for j in range(i + 1, len(seq) - 1):
                a, b, c, e = seq[i - 1], seq[i], seq[j], seq[j + 1]
                if d[a][c] + d[b][e] < d[a][b] + d[c][e] - 1e-9:
                    seq[i:j + 1] = seq[i:j + 1][::-1]
                    improved = True
        for i in range(1, len(seq) - 1):
            node = seq[i]
            removed = d[seq[i - 1]][node] + d[node][seq[i + 1]] - d[seq[i - 1]][seq[i + 1]]
            rest = seq[:i] + seq[i + 1:]
            best_gain, best_pos = 1e-9, None
            for p in range(1, len(rest)):
                added = d[rest[p - 1]][node] + d[node][rest[p]] - d[rest[p - 1]][rest[p]]
                if removed - added > best_gain:
                    best_gain, best_pos = removed - added, p
            if best_pos is not None:
                seq = rest[:best_pos] + [node] + rest[best_pos:]
                improved = True
                break
    return [k - 1 for k in seq[1:-1]]


def _nearest_neighbour(d: list[list[float]], n: int) -> list[int]:
    left, at, order = set(range(1, n + 1)), 0, []
    while left:
        at = min(left, key=lambda k: (d[at][k], k))
        left.remove(at)
        order.append(at - 1)
    return order


def plan_route(layout: Layout, stops: list[Point], exact_limit: int = EXACT_LIMIT) -> Route:
    """The walking order for ``stops`` (distinct pick points): optimal up to ``exact_limit``
    stops, never longer than the S-shape walk."""
    n = len(stops)
    if n == 0:
        return s_shape(layout, stops)
    d = _matrix(layout, stops)
    if n <= exact_limit:
        order = _held_karp(d, n)
        return Route(order, _path_cost(d, order, n), exact=True)
    s_order = s_shape(layout, stops).order
    candidates = [_improve(d, start, n) for start in (s_order, _nearest_neighbour(d, n))] + [s_order]
    best = min(candidates, key=lambda o: _path_cost(d, o, n))
    return Route(best, _path_cost(d, best, n))
