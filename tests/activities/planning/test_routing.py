"""Pick routes: the closed-form walking distance is the walking graph's shortest path, the
planned route is optimal on small instances (against brute force) and never longer than the
S-shape walk."""

import heapq
from itertools import permutations

from hypothesis import given, settings, strategies as st

from activities.planning.layout import Point, demo_layout, demo_locations, rack_y, walking_distance, walking_graph
from activities.planning.routing import plan_route, route_length, s_shape

LAYOUT = demo_layout()
pick_points = st.builds(lambda a, r: Point(LAYOUT.aisle_xs[a], rack_y(LAYOUT, r)),
                        st.integers(0, len(LAYOUT.aisle_xs) - 1), st.integers(1, 16))


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


@settings(max_examples=60, deadline=None)
@given(st.lists(pick_points, min_size=1, max_size=7, unique=True))
def test_route_is_optimal_against_brute_force(points: list[Point]) -> None:
    best = min(route_length(LAYOUT, points, list(p)) for p in permutations(range(len(points))))
    route = plan_route(LAYOUT, points)
    assert route.exact
    assert abs(route.length - best) < 1e-9
    assert abs(route_length(LAYOUT, points, route.order) - route.length) < 1e-9


@settings(max_examples=60, deadline=None)
@given(st.lists(pick_points, min_size=1, max_size=40, unique=True))
def test_route_visits_every_stop_and_never_loses_to_s_shape(points: list[Point]) -> None:
    route = plan_route(LAYOUT, points)
    assert sorted(route.order) == list(range(len(points)))
    assert route.length <= s_shape(LAYOUT, points).length + 1e-9
    assert sorted(s_shape(LAYOUT, points).order) == list(range(len(points)))


def test_s_shape_walks_whole_aisles() -> None:
    # Two aisles with picks: up the first, down the second, then to the pack station.
    a, b = LAYOUT.aisle_xs[0], LAYOUT.aisle_xs[1]
    route = s_shape(LAYOUT, [Point(a, 0.5), Point(b, 0.5)])
    assert route.length == a + LAYOUT.aisle_length + (b - a) + LAYOUT.aisle_length + (LAYOUT.pack_station.x - b)
    # Planned: in and out of each aisle near the front, much shorter.
    assert plan_route(LAYOUT, [Point(a, 0.5), Point(b, 0.5)]).length == LAYOUT.pack_station.x + 2


def test_demo_locations_are_unique_and_inside_the_aisles() -> None:
    locations = demo_locations()
    assert len({loc.code for loc in locations}) == len(locations) == 8 * 16 * 3
    assert all(0 < loc.y_mm < LAYOUT.aisle_length * 1000 for loc in locations)
    assert {loc.zone for loc in locations} == {"A", "B"}
