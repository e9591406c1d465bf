"""Pick routes: the closed-form walking distance is the walking graph's shortest path; the
planned route (Ratliff–Rosenthal) is optimal: equal to brute force and to Held–Karp on small
instances of many layouts (depot and pack station anywhere on the front cross-aisle, also in
an aisle's mouth or at one point), never longer than the S-shape walk, and on large instances
never longer than the 2-opt/or-opt heuristic it replaced, which cannot shorten it either."""

import heapq
import random
from itertools import permutations

import pytest
from hypothesis import given, settings, strategies as st

from activities.planning.layout import (
    Layout,
    Point,
    demo_layout,
    demo_locations,
    rack_y,
    walking_distance,
    walking_graph,
)
from activities.planning.routing import Route, held_karp, plan_route, route_length, s_shape

LAYOUT = demo_layout()
pick_points = st.builds(lambda a, r: Point(LAYOUT.aisle_xs[a], rack_y(LAYOUT, r)),
                        st.integers(0, len(LAYOUT.aisle_xs) - 1), st.integers(1, 16))


@st.composite
def instances(draw: st.DrawFn, max_stops: int) -> tuple[Layout, list[Point]]:
    """A warehouse of 1-6 aisles at uneven distances, the depot and pack station anywhere on
    the front cross-aisle (left, right, between aisles, in an aisle's mouth, at one point),
    and stops in the aisles, some at an aisle's very end."""
    xs = tuple(float(x) for x in sorted(draw(st.sets(st.integers(0, 24), min_size=1, max_size=6))))
    length = float(draw(st.integers(2, 10)))
    depot = Point(float(draw(st.integers(-3, 27))), 0.0)
    pack = depot if draw(st.booleans()) and draw(st.booleans()) else Point(float(draw(st.integers(-3, 27))), 0.0)
    layout = Layout(aisle_xs=xs, aisle_length=length, depot=depot, pack_station=pack)
    depths = st.one_of(st.integers(1, 2 * int(length) - 1).map(lambda h: h / 2), st.sampled_from([0.0, length]))
    stops = draw(st.lists(st.builds(Point, st.sampled_from(xs), depths), min_size=1, max_size=max_stops, unique=True))
    return layout, stops


def _dijkstra(nodes: list[Point], edges: list[tuple[int, int, float]], source: int) -> list[float]:
    adj: dict[int, list[tuple[int, float]]] = {i: [] for i in range(len(nodes))}
    for i, j, w in edges:
        adj[i].append((j, w))
        adj[j].append((i, w))
    dist = [float("inf")] * len(nodes)
    dist[source] = 0.0
    heap = [(0.0, source)]
    while heap:
        d, i = heapq.heappop(heap)
        if d > dist[i]:
            continue
        for j, w in adj[i]:
            if d + w < dist[j]:
                dist[j] = d + w
                heapq.heappush(heap, (d + w, j))
    return dist


@given(st.lists(pick_points, min_size=2, max_size=6, unique=True))
def test_closed_form_distance_is_the_graphs_shortest_path(points: list[Point]) -> None:
    nodes, edges = walking_graph(LAYOUT, points)
    base = len(nodes) - len(points)
    for a in range(len(points)):
        dist = _dijkstra(nodes, edges, base + a)
        for b in range(len(points)):
            assert abs(dist[base + b] - walking_distance(LAYOUT, points[a], points[b])) < 1e-9


@settings(max_examples=150, deadline=None)
@given(instances(max_stops=6))
def test_route_and_held_karp_are_optimal_against_brute_force(instance: tuple[Layout, list[Point]]) -> None:
    layout, points = instance
    best = min(route_length(layout, points, list(p)) for p in permutations(range(len(points))))
    for route in (plan_route(layout, points), held_karp(layout, points)):
        assert route.exact
        assert sorted(route.order) == list(range(len(points)))
        assert abs(route.length - best) < 1e-9
        assert abs(route_length(layout, points, route.order) - route.length) < 1e-9


@settings(max_examples=120, deadline=None)
@given(instances(max_stops=10))
def test_route_equals_held_karp_on_up_to_ten_stops(instance: tuple[Layout, list[Point]]) -> None:
    layout, points = instance
    route = plan_route(layout, points)
    assert route.exact and sorted(route.order) == list(range(len(points)))
    assert abs(route.length - held_karp(layout, points).length) < 1e-9
    assert route.length <= s_shape(layout, points).length + 1e-9


@settings(max_examples=40, deadline=None)
@given(st.lists(pick_points, min_size=8, max_size=11, unique=True))
def test_route_equals_held_karp_in_the_demo_warehouse(points: list[Point]) -> None:
    assert abs(plan_route(LAYOUT, points).length - held_karp(LAYOUT, points).length) < 1e-9


@settings(max_examples=60, deadline=None)
@given(st.lists(pick_points, min_size=1, max_size=128, unique=True))
def test_route_visits_every_stop_and_never_loses_to_s_shape(points: list[Point]) -> None:
    route = plan_route(LAYOUT, points)
    assert route.exact
    assert sorted(route.order) == list(range(len(points)))
    assert abs(route_length(LAYOUT, points, route.order) - route.length) < 1e-9
    assert route.length <= s_shape(LAYOUT, points).length + 1e-9
    assert sorted(s_shape(LAYOUT, points).order) == list(range(len(points)))


def _matrix(layout: Layout, stops: list[Point]) -> list[list[float]]:
    points = [layout.depot, *stops, layout.pack_station]  # 0 = depot, n + 1 = pack station
    return [[walking_distance(layout, a, b) for b in points] for a in points]


def _local_search(d: list[list[float]], order: list[int]) -> list[int]:
    """The heuristic plan_route used above 11 stops before it was exact: 2-opt (reverse a
    stretch) and or-opt (move one stop) until neither helps."""
    seq = [0, *(i + 1 for i in order), len(order) + 1]
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
            gains = [(removed - (d[rest[p - 1]][node] + d[node][rest[p]] - d[rest[p - 1]][rest[p]]), p)
                     for p in range(1, len(rest))]
            gain, p = max(gains)
            if gain > 1e-9:
                seq = rest[:p] + [node] + rest[p:]
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


def test_large_routes_beat_the_former_heuristic_which_cannot_shorten_them() -> None:
    rng = random.Random(11)
    for n in (15, 25, 40, 60, 100):
        for _ in range(6):
            stops = list({Point(rng.choice(LAYOUT.aisle_xs), rack_y(LAYOUT, rng.randint(1, 16))) for _ in range(n)})
            d = _matrix(LAYOUT, stops)
            route = plan_route(LAYOUT, stops)
            starts = [s_shape(LAYOUT, stops).order, _nearest_neighbour(d, len(stops))]
            former = min(route_length(LAYOUT, stops, _local_search(d, s)) for s in starts)
            assert route.length <= former + 1e-9
            assert abs(route_length(LAYOUT, stops, _local_search(d, route.order)) - route.length) < 1e-9


def test_s_shape_walks_whole_aisles() -> None:
    # Two aisles with picks: up the first, down the second, then to the pack station.
    a, b = LAYOUT.aisle_xs[0], LAYOUT.aisle_xs[1]
    route = s_shape(LAYOUT, [Point(a, 0.5), Point(b, 0.5)])
    assert route.length == a + LAYOUT.aisle_length + (b - a) + LAYOUT.aisle_length + (LAYOUT.pack_station.x - b)
    # Planned: in and out of each aisle near the front, much shorter.
    assert plan_route(LAYOUT, [Point(a, 0.5), Point(b, 0.5)]).length == LAYOUT.pack_station.x + 2


def test_a_walk_through_every_aisle_ends_at_the_pack_station() -> None:
    # A pick at the back of every aisle: up one aisle, along the back, down the last: the
    # route subgraph has odd degree at the depot and the pack station only.
    stops = [Point(x, 7.5) for x in LAYOUT.aisle_xs]
    route = plan_route(LAYOUT, stops)
    last, first = LAYOUT.aisle_xs[-1], LAYOUT.aisle_xs[0]
    # Up the first aisle, along the back, down the last: 2 + 8 + 21 + 8 + 2 = 41 m; and
    # visiting the middle aisles costs 2 x 0.5 m each from the back.
    assert route.length == first + LAYOUT.aisle_length + (last - first) + LAYOUT.aisle_length \
        + (LAYOUT.pack_station.x - last) + 2 * 0.5 * (len(stops) - 2)
    assert route.order == list(range(len(stops)))


def test_a_point_given_twice_is_one_stop_and_a_point_outside_the_aisles_is_refused() -> None:
    a = Point(LAYOUT.aisle_xs[2], 3.5)
    route = plan_route(LAYOUT, [a, Point(LAYOUT.aisle_xs[0], 1.5), a])
    assert route.length == plan_route(LAYOUT, [a, Point(LAYOUT.aisle_xs[0], 1.5)]).length
    assert abs(route.order.index(0) - route.order.index(2)) == 1
    with pytest.raises(ValueError, match=r"stop 1 Point\(x=3.0, y=1.0\) is in no aisle"):
        plan_route(LAYOUT, [a, Point(3.0, 1.0)])
    with pytest.raises(ValueError, match="is in no aisle"):
        plan_route(LAYOUT, [Point(LAYOUT.aisle_xs[0], LAYOUT.aisle_length + 1)])
    assert plan_route(LAYOUT, []) == Route([], LAYOUT.pack_station.x, exact=True)


def test_demo_locations_are_unique_and_inside_the_aisles() -> None:
    locations = demo_locations()
    assert len({loc.code for loc in locations}) == len(locations) == 8 * 16 * 3
    assert all(0 < loc.y_mm < LAYOUT.aisle_length * 1000 for loc in locations)
    assert {loc.zone for loc in locations} == {"A", "B"}
