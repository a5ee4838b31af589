"""The unit index: exact nearest-first order, updates, and ring expansion that stays local."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.units import Force, UnitStatus
from streams.city import LocalPlane, distance_m, load_city
from streams.dispatch.selection import UnitView
from streams.dispatch.spatial import QueryStats, UnitIndex

PLANE = LocalPlane(lat0=49.2142, lon0=119.775)
SEEN = datetime(2025, 5, 5, 12, 0, tzinfo=UTC)


def view(unit_id: str, x: float, y: float, force: Force = Force.STATION) -> UnitView:
    """A unit ``x`` metres east and ``y`` north of the plane's centre."""
    lat, lon = PLANE.to_latlon(x, y)
    return UnitView(
        unit_id=unit_id, force=force, lat=lat, lon=lon, status=UnitStatus.AVAILABLE, last_seen=SEEN
    )


def brute_force(
    index: UnitIndex, units: list[UnitView], lat: float, lon: float
) -> list[tuple[str, float]]:
    """Every unit with its distance on the index's plane, sorted by (distance, unit_id)."""
    plane = index.plane
    assert plane is not None
    qx, qy = plane.to_xy(lat, lon)
    rows = []
    for unit in units:
        x, y = plane.to_xy(unit.lat, unit.lon)
        rows.append((math.hypot(x - qx, y - qy), unit.unit_id))
    return [(unit_id, d) for d, unit_id in sorted(rows)]


# --- basics ----------------------------------------------------------------------------------


def test_an_empty_index_yields_nothing() -> None:
    index = UnitIndex(PLANE)
    assert list(index.nearest(49.2, 119.7)) == []
    assert len(index) == 0
    assert UnitIndex().plane is None
    assert list(UnitIndex().nearest(49.2, 119.7)) == []


def test_upsert_get_contains_remove() -> None:
    index = UnitIndex(PLANE)
    a, b = view("a", 0, 0), view("b", 100, 0)
    index.upsert(a)
    index.upsert(b)
    assert len(index) == 2
    assert "a" in index
    assert "zzz" not in index
    assert index.get("a") == a
    assert index.get("zzz") is None
    assert set(index) == {a, b}
    assert index.remove("a") is True
    assert index.remove("a") is False
    assert "a" not in index
    assert [u.unit_id for u, _ in index.nearest(*PLANE.to_latlon(0, 0))] == ["b"]


def test_moving_a_unit_is_an_upsert() -> None:
    index = UnitIndex(PLANE)
    index.upsert(view("a", 0, 0))
    index.upsert(view("b", 300, 0))
    here = PLANE.to_latlon(0, 0)
    assert [u.unit_id for u, _ in index.nearest(*here)] == ["a", "b"]
    index.upsert(view("a", 5000, 0))  # moves far east, into another cell
    assert len(index) == 1 + 1
    ordered = list(index.nearest(*here))
    assert [u.unit_id for u, _ in ordered] == ["b", "a"]
    assert ordered[1][1] == pytest.approx(5000, rel=1e-6)


def test_a_changed_force_moves_the_unit_to_that_force() -> None:
    index = UnitIndex(PLANE)
    index.upsert(view("a", 0, 0, Force.STATION))
    index.upsert(view("a", 0, 0, Force.SWAT))
    here = PLANE.to_latlon(0, 0)
    assert list(index.nearest(*here, forces={Force.STATION})) == []
    assert [u.unit_id for u, _ in index.nearest(*here, forces={Force.SWAT})] == ["a"]


def test_max_distance_is_inclusive_and_stops_the_walk() -> None:
    index = UnitIndex(PLANE, cell_m=100)
    for i in range(10):
        index.upsert(view(f"u{i}", 100.0 * i, 0))
    here = PLANE.to_latlon(0, 0)
    within = [u.unit_id for u, _ in index.nearest(*here, max_distance_m=300.0 + 1e-6)]
    assert within == ["u0", "u1", "u2", "u3"]


def test_the_default_plane_is_the_first_unit_and_for_city_uses_the_city_plane() -> None:
    index = UnitIndex()
    first = view("a", 1234, -567)
    index.upsert(first)
    assert index.plane == LocalPlane(lat0=first.lat, lon0=first.lon)
    city = load_city(None)
    assert UnitIndex.for_city(city).plane == city.plane


def test_bad_cell_size() -> None:
    with pytest.raises(ValueError, match="cell_m"):
        UnitIndex(PLANE, cell_m=0)


def test_plane_distance_is_within_half_a_percent_of_great_circle_over_the_demo_city() -> None:
    city = load_city(None)
    index = UnitIndex.for_city(city)
    rng = random.Random(3)
    zones = list(city.zones.values())
    for _ in range(500):
        a = rng.choice(zones).geometry.bounds
        b = rng.choice(zones).geometry.bounds
        lat1, lon1 = rng.uniform(a[1], a[3]), rng.uniform(a[0], a[2])
        unit = UnitView(
            unit_id="u",
            force=Force.STATION,
            lat=rng.uniform(b[1], b[3]),
            lon=rng.uniform(b[0], b[2]),
            status=UnitStatus.AVAILABLE,
            last_seen=SEEN,
        )
        great_circle = distance_m(lat1, lon1, unit.lat, unit.lon)
        assert index.distance_m(lat1, lon1, unit) == pytest.approx(great_circle, rel=5e-3, abs=0.5)


# --- exact order (property) ------------------------------------------------------------------

# Coordinates in metres; a share of them sits exactly on 500 m cell borders or repeats.
coordinate = st.one_of(
    st.floats(min_value=-8000, max_value=8000, allow_nan=False),
    st.integers(min_value=-16, max_value=16).map(lambda k: 500.0 * k),
    st.sampled_from([0.0, 1.0, -1.0, 250.0]),
)
forces = st.sampled_from(list(Force))


@settings(max_examples=300, deadline=None)
@given(
    points=st.lists(st.tuples(coordinate, coordinate, forces), max_size=60),
    query=st.tuples(coordinate, coordinate),
    cell_m=st.sampled_from([50.0, 333.0, 500.0, 2000.0]),
    wanted=st.one_of(st.none(), st.frozensets(forces, min_size=1)),
    limit=st.one_of(st.none(), st.floats(min_value=0, max_value=12000)),
)
def test_nearest_yields_every_unit_in_exact_distance_order(
    points: list[tuple[float, float, Force]],
    query: tuple[float, float],
    cell_m: float,
    wanted: frozenset[Force] | None,
    limit: float | None,
) -> None:
    index = UnitIndex(PLANE, cell_m=cell_m)
    units = [view(f"u{i:03d}", x, y, force) for i, (x, y, force) in enumerate(points)]
    for unit in units:
        index.upsert(unit)
    lat, lon = PLANE.to_latlon(*query)
    chosen = [u for u in units if wanted is None or u.force in wanted]
    expected = [
        (uid, d) for uid, d in brute_force(index, chosen, lat, lon) if limit is None or d <= limit
    ]
    got = [(u.unit_id, d) for u, d in index.nearest(lat, lon, limit, forces=wanted)]
    assert got == expected


@settings(max_examples=100, deadline=None)
@given(
    points=st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=40),
    moves=st.lists(st.tuples(st.integers(0, 39), coordinate, coordinate), max_size=20),
    removals=st.lists(st.integers(0, 39), max_size=10),
    query=st.tuples(coordinate, coordinate),
)
def test_order_stays_exact_after_moves_and_removals(
    points: list[tuple[float, float]],
    moves: list[tuple[int, float, float]],
    removals: list[int],
    query: tuple[float, float],
) -> None:
    index = UnitIndex(PLANE)
    current = {f"u{i:02d}": view(f"u{i:02d}", x, y) for i, (x, y) in enumerate(points)}
    for unit in current.values():
        index.upsert(unit)
    for i, x, y in moves:
        uid = f"u{i % len(points):02d}"
        current[uid] = view(uid, x, y)
        index.upsert(current[uid])
    for i in removals:
        uid = f"u{i % len(points):02d}"
        index.remove(uid)
        current.pop(uid, None)
    assert len(index) == len(current)
    lat, lon = PLANE.to_latlon(*query)
    got = [(u.unit_id, d) for u, d in index.nearest(lat, lon)]
    assert got == brute_force(index, list(current.values()), lat, lon)


# --- ring expansion stays local --------------------------------------------------------------


def dense_index(count: int, seed: int = 11) -> UnitIndex:
    """``count`` station units spread uniformly over 10 km x 10 km."""
    rng = random.Random(seed)
    index = UnitIndex(PLANE)
    for i in range(count):
        index.upsert(view(f"u{i:05d}", rng.uniform(-5000, 5000), rng.uniform(-5000, 5000)))
    return index


def test_the_first_units_of_a_dense_index_come_from_a_few_cells() -> None:
    index = dense_index(10_000)  # 100 units per km², 25 per 500 m cell
    stats = QueryStats()
    walk = index.nearest(*PLANE.to_latlon(120.0, -40.0), stats=stats)
    first = [next(walk) for _ in range(5)]
    assert [d for _, d in first] == sorted(d for _, d in first)
    # Five units are within ~130 m; rings 0..2 (25 cells, ~625 units) are more than enough.
    assert stats.cells_visited <= 25
    assert stats.units_pushed < 1_000  # of 10,000
    assert stats.full_scans == 0


def test_a_sparse_force_is_taken_at_once_instead_of_walking_empty_rings() -> None:
    index = dense_index(2_000)
    index.upsert(view("far-fire", 40_000, 40_000, Force.FIRE))
    stats = QueryStats()
    found = list(index.nearest(*PLANE.to_latlon(0, 0), forces={Force.FIRE}, stats=stats))
    assert [u.unit_id for u, _ in found] == ["far-fire"]
    assert stats.full_scans == 1
    assert stats.cells_visited <= 2  # one occupied cell: ring 0, then take everything
