"""Pick routes through the rectangular warehouse (``layout``): the S-shape rule that pickers
follow by habit, and the route Orderflow gives them, which is the shortest there is.

``plan_route`` is exact for any number of stops: the Ratliff–Rosenthal dynamic programme
(Ratliff & Rosenthal, "Order-picking in a rectangular warehouse", Operations Research 31, 1983)
finds the shortest *route subgraph* of the walking graph, column by column, in time linear in
the number of aisles; the walking order is an Euler path through that subgraph. Held–Karp
(``held_karp``, exponential) stays as the independent reference the tests and the benchmark
check it against.

Why this is exact, in short. A walk from the depot through every stop to the pack station,
drawn on the walking graph (aisle ends, stops, depot and pack station joined along aisles and
cross-aisles), is a connected multigraph holding every stop, in which the depot and the pack
station have odd degree and every other vertex even degree (both even when they are the same
point). Conversely such a multigraph has an Euler path from the depot to the pack station that
passes every stop, and taking the stops in the order that path first reaches them is a route no
longer than the multigraph. So the shortest route equals the lightest such multigraph, and
removing two copies of an edge keeps parity and connectivity, so no edge is needed more than
twice. Sweeping the columns (every aisle, the depot and the pack station) left to right, what
the part left of a cut between two columns means for the rest is only: how many copies (0, 1,
2) of the front and of the back cross-aisle edge cross the cut, whether the left part's pieces
at those two edges are one component or two, and whether the left part is already a finished
whole. Within an aisle, the segments between consecutive stops all carry the same parity
(each stop has even degree): all once (*through*), all twice, or twice with one segment left
out: the first (*from the back*), the last (*from the front*), or the largest gap between two
stops; leaving out two would cut the stops between them off. Those are the aisle's choices.
"""

from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from activities.planning.layout import Layout, Point, walking_distance

_EPS = 1e-9


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


# --- Ratliff–Rosenthal ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    """A cut of the sweep: an aisle, or the depot or pack station between or beside aisles."""

    x: float
    aisle: bool
    ys: tuple[float, ...]  # distinct stop depths strictly inside the aisle, ascending
    odd_front: bool  # the depot or the pack station (not both) is at the front vertex
    need_front: bool  # the front vertex must be walked to (a terminal, or a stop at y = 0)
    need_back: bool  # a stop at the back end of the aisle
    back_right: bool  # the back cross-aisle goes on to the next column
    gap: float  # metres to the next column


@dataclass(frozen=True)
class _AisleChoice:
    kind: str  # none, through, twice, from_back, from_front, gap
    cost: float
    front_degree: int  # edges it adds at the aisle's front vertex
    back_degree: int
    joins_ends: bool  # front and back vertex connected through the aisle
    skip: int = -1  # the segment left out (segment i ends at stop i, counted from the front)


def _choices(column: _Column, length: float) -> list[_AisleChoice]:
    if not column.aisle:
        return [_AisleChoice("none", 0.0, 0, 0, False)]
    ys = column.ys
    choices = [_AisleChoice("through", length, 1, 1, True), _AisleChoice("twice", 2 * length, 2, 2, True)]
    if not ys:
        return [_AisleChoice("none", 0.0, 0, 0, False), *choices]
    choices += [_AisleChoice("from_back", 2 * (length - ys[0]), 0, 2, False, skip=0),
                _AisleChoice("from_front", 2 * ys[-1], 2, 0, False, skip=len(ys))]
    if len(ys) >= 2:
        i = max(range(len(ys) - 1), key=lambda k: ys[k + 1] - ys[k])
        choices.append(_AisleChoice("gap", 2 * (length - (ys[i + 1] - ys[i])), 2, 2, False, skip=i + 1))
    return choices


# A state at the cut right of a column: copies of the front and of the back cross-aisle edge
# crossing it, whether the left part's pieces at those two edges are one component, and
# whether the left part is already a finished whole (nothing may cross or come after).
_State = tuple[int, int, bool, bool]
_EMPTY: _State = (0, 0, True, False)
_DONE: _State = (0, 0, True, True)


@lru_cache(maxsize=None)
def _connect(left_front: bool, left_back: bool, joined: bool, front_deg: bool, back_deg: bool,
             through: bool, out_front: bool, out_back: bool, aisle: bool) -> tuple[bool, bool] | None:
    """The connectivity after one column: ``None`` when a piece is cut off for good, else
    (finished whole, front and back crossing pieces joined). Nodes: 0 the left part's piece at
    the front edge, 1 at the back edge, 2 this column's front vertex, 3 its back vertex (in a
    column without an aisle the back edge just passes over: node 1 goes on)."""
    parent = list(range(4))

    def find(n: int) -> int:
        while parent[n] != n:
            n = parent[n]
        return n

    def union(a: int, b: int) -> None:
        parent[find(a)] = find(b)

    present = set()
    if left_front:
        present.add(0)
    if left_back:
        present.add(1)
    if left_front and left_back and joined:
        union(0, 1)
    if left_front or out_front or front_deg:
        present.add(2)
    if aisle and (left_back or out_back or back_deg):
        present.add(3)
    if left_front:
        union(0, 2)
    if aisle and left_back:
        union(1, 3)
    if through:
        union(2, 3)
    outs = set()
    if out_front:
        outs.add(find(2))
    if out_back:
        outs.add(find(3 if aisle else 1))
    pieces = {find(n) for n in present}
    if not outs:
        return (True, True) if len(pieces) == 1 else None if pieces else (False, True)
    if pieces - outs:
        return None
    return False, len(outs) == 1


def _columns(layout: Layout, stops: list[Point]) -> tuple[list[_Column], dict[tuple[int, str, int], list[int]]]:
    """The sweep's columns, and which stops stand at each vertex: ``(column, "F" | "B" | "S",
    i)`` for the front end, the back end and the i-th stop depth of the column."""
    length = layout.aisle_length
    for name, p in (("depot", layout.depot), ("pack station", layout.pack_station)):
        if abs(p.y) > _EPS:
            raise ValueError(f"the {name} {p} must be on the front cross-aisle (y = 0)")
    aisle_xs = sorted(layout.aisle_xs)
    xs: list[float] = []
    for x in sorted({*aisle_xs, layout.depot.x, layout.pack_station.x}):
        if not xs or x - xs[-1] > _EPS:  # a depot in an aisle's mouth is that aisle's front vertex
            xs.append(x)
    aisles = {k for k, x in enumerate(xs) if any(abs(x - a) <= _EPS for a in aisle_xs)}

    def column(x: float) -> int:
        return min(range(len(xs)), key=lambda k: abs(xs[k] - x))

    where: list[tuple[int, str, float]] = []
    for i, p in enumerate(stops):
        k = column(p.x)
        if k not in aisles or abs(xs[k] - p.x) > _EPS or not -_EPS <= p.y <= length + _EPS:
            raise ValueError(f"stop {i} {p} is in no aisle: aisles are at x = {aisle_xs}, 0 <= y <= {length}")
        where.append((k, "F", 0.0) if p.y <= _EPS else (k, "B", 0.0) if p.y >= length - _EPS else (k, "S", p.y))
    ys = {k: tuple(sorted({y for c, kind, y in where if c == k and kind == "S"})) for k in range(len(xs))}
    at: dict[tuple[int, str, int], list[int]] = defaultdict(list)
    for i, (k, kind, y) in enumerate(where):
        at[(k, kind, ys[k].index(y) if kind == "S" else 0)].append(i)
    terminals = [column(layout.depot.x), column(layout.pack_station.x)]
    return [_Column(x=x, aisle=k in aisles, ys=ys[k], odd_front=terminals.count(k) == 1,
                    need_front=k in terminals or (k, "F", 0) in at, need_back=(k, "B", 0) in at,
                    back_right=k + 1 < len(xs) and aisle_xs[0] - _EPS <= x and xs[k + 1] <= aisle_xs[-1] + _EPS,
                    gap=xs[k + 1] - x if k + 1 < len(xs) else 0.0)
            for k, x in enumerate(xs)], at


def _sweep(columns: list[_Column], length: float) -> list[tuple[_AisleChoice, int, int]]:
    """The lightest route subgraph, as each column's aisle choice and the copies of the front
    and back cross-aisle edge to its right."""
    states: dict[_State, float] = {_EMPTY: 0.0}
    steps: list[dict[_State, tuple[_State, _AisleChoice, int, int]]] = []
    last = len(columns) - 1
    for k, col in enumerate(columns):
        best: dict[_State, float] = {}
        step: dict[_State, tuple[_State, _AisleChoice, int, int]] = {}
        choices = _choices(col, length)
        for state, cost in states.items():
            f_in, b_in, joined, done = state
            if done:  # finished: nothing more may be added
                if not (col.ys or col.need_front or col.need_back or col.odd_front):
                    if cost < best.get(_DONE, float("inf")):
                        best[_DONE], step[_DONE] = cost, (state, choices[0], 0, 0)
                continue
            fronts = (0, 1, 2) if k < last else (0,)
            backs = (0, 1, 2) if col.back_right and col.aisle else (b_in,) if col.back_right else (0,)
            for choice in choices:
                for f_out in fronts:
                    front_degree = f_in + f_out + choice.front_degree
                    if front_degree % 2 != col.odd_front or (col.need_front and not front_degree):
                        continue
                    for b_out in backs:
                        back_degree = b_in + b_out + choice.back_degree
                        if col.aisle and (back_degree % 2 or (col.need_back and not back_degree)):
                            continue
                        joined_after = _connect(f_in > 0, b_in > 0, joined, choice.front_degree > 0,
                                                choice.back_degree > 0, choice.joins_ends, f_out > 0, b_out > 0,
                                                col.aisle)
                        if joined_after is None:
                            continue
                        finished, together = joined_after
                        new: _State = (f_out, b_out, together, finished)
                        value = cost + choice.cost + (f_out + b_out) * col.gap
                        if value < best.get(new, float("inf")) - _EPS:
                            best[new], step[new] = value, (state, choice, f_out, b_out)
        states = best
        steps.append(step)
    plan: list[tuple[_AisleChoice, int, int]] = []
    state = _DONE
    for step in reversed(steps):
        state, choice, f_out, b_out = step[state]
        plan.append((choice, f_out, b_out))
    return plan[::-1]


def _euler_order(columns: list[_Column], plan: list[tuple[_AisleChoice, int, int]],
                 at: dict[tuple[int, str, int], list[int]], start: int) -> list[int]:
    """Walk the subgraph along an Euler path from the depot's front vertex (Hierholzer) and
    list the stops in the order it first reaches them."""
    edges: list[tuple[tuple[int, str, int], tuple[int, str, int]]] = []
    for k, (col, (choice, f_out, b_out)) in enumerate(zip(columns, plan)):
        edges += [((k, "F", 0), (k + 1, "F", 0))] * f_out + [((k, "B", 0), (k + 1, "B", 0))] * b_out
        chain = [(k, "F", 0), *((k, "S", i) for i in range(len(col.ys))), (k, "B", 0)]
        copies = {"none": 0, "through": 1}.get(choice.kind, 2)
        for segment, (a, b) in enumerate(zip(chain, chain[1:])):
            if segment != choice.skip:
                edges += [(a, b)] * copies
    adjacent: dict[tuple[int, str, int], list[tuple[tuple[int, str, int], int]]] = defaultdict(list)
    for e, (a, b) in enumerate(edges):
        adjacent[a].append((b, e))
        adjacent[b].append((a, e))
    used = [False] * len(edges)
    stack, path = [(start, "F", 0)], []
    while stack:
        node = stack[-1]
        out = adjacent[node]
        while out and used[out[-1][1]]:
            out.pop()
        if out:
            nxt, e = out.pop()
            used[e] = True
            stack.append(nxt)
        else:
            path.append(stack.pop())
    order: list[int] = []
    for node in reversed(path):
        order += at.pop(node, [])
    return order


def plan_route(layout: Layout, stops: list[Point]) -> Route:
    """The shortest walking order for ``stops`` (pick points in the aisles; a point given
    twice is visited once, its indices one after the other), from the depot to the pack
    station, by Ratliff–Rosenthal: exact for any number of stops, so never longer than the
    S-shape walk. ``ValueError`` for a stop outside every aisle."""
    if not stops:
        return Route([], walking_distance(layout, layout.depot, layout.pack_station), exact=True)
    columns, at = _columns(layout, stops)
    plan = _sweep(columns, layout.aisle_length)
    start = min(range(len(columns)), key=lambda k: abs(columns[k].x - layout.depot.x))  # its column
    order = _euler_order(columns, plan, at, start)
    return Route(order, route_length(layout, stops, order), exact=True)


# --- the reference ------------------------------------------------------------------------


def held_karp(layout: Layout, stops: list[Point]) -> Route:
    """The shortest route by Held–Karp dynamic programming over subsets of the stops and the
    shortest walking distances between them: exact for any layout, but exponential (fine to
    about 12 stops). Not used for planning: the tests and the benchmark check
    ``plan_route`` against it."""
    n = len(stops)
    if n == 0:
        return Route([], walking_distance(layout, layout.depot, layout.pack_station), exact=True)
    points = [layout.depot, *stops, layout.pack_station]  # 0 = depot, 1..n = stops, n+1 = pack station
    d = [[walking_distance(layout, a, b) for b in points] for a in points]
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
    order.reverse()
    return Route(order, route_length(layout, stops, order), exact=True)
