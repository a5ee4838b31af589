"""A spatial index of free units: a uniform grid that yields units nearest first.

:class:`UnitIndex` keeps one grid per force over a local equirectangular plane
(:class:`~streams.city.geo.LocalPlane`, metres east and north of the plane's centre; give it
the city's or the region's plane). :meth:`UnitIndex.nearest` expands square rings of cells
around the query point and pops units from a heap only once no unvisited cell can hold a
nearer one, so it yields **exactly** in increasing distance, ties by ``unit_id``, and touches
only the cells up to the distance the caller consumes. When a query has visited as many cells
as the requested forces occupy (a sparse force, or a query far outside the units), it takes
every remaining unit of those forces at once instead of walking empty rings.

**The distance** is the Euclidean distance in the index's plane, in metres. Over a city or a
dispatch region it is within a fraction of a percent of the great-circle distance
(:func:`~streams.city.geo.distance_m`): east-west lengths scale with cos(latitude) / cos(lat0),
i.e. by about 0.1 % per 1 km north or south of the plane's centre at latitude 49°, north-south
lengths are exact to the spherical model. Order is exact in this metric (a safety margin of
1 µm covers floating-point rounding at cell borders); this is the distance selection turns
into an ETA.

Moving a unit is :meth:`UnitIndex.upsert` with its new position. The index is not thread-safe
(one region is processed by one worker, in order).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator, Set
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from schemas.units import Force
from streams.city.geo import LocalPlane

if TYPE_CHECKING:
    from streams.city.model import City
    from streams.dispatch.selection import UnitView

__all__ = ["DEFAULT_CELL_M", "QueryStats", "UnitIndex"]

#: Default grid cell size in metres.
DEFAULT_CELL_M: Final = 500.0
#: Slack on ring bounds, metres: far above the rounding error of plane coordinates.
_EPSILON_M: Final = 1e-6

_Cell = tuple[int, int]
# A unit's place in the index: its view and plane coordinates.
_Entry = tuple["UnitView", float, float]


@dataclass(slots=True)
class QueryStats:
    """Work done by :meth:`UnitIndex.nearest` queries (accumulates over the queries it is
    passed to): cell look-ups, units put on the heap, units yielded, whether it fell back to
    taking every remaining unit."""

    cells_visited: int = 0
    units_pushed: int = 0
    units_yielded: int = 0
    full_scans: int = 0


class UnitIndex:
    """Units on a uniform grid of ``cell_m`` metres over ``plane``, one grid per force.

    ``plane`` None: a plane centred on the first unit upserted (good for a region's units,
    which stand within a few kilometres of each other); pass the city's ``City.plane`` or
    :meth:`for_city` to fix it.
    """

    def __init__(self, plane: LocalPlane | None = None, *, cell_m: float = DEFAULT_CELL_M) -> None:
        if not (math.isfinite(cell_m) and cell_m > 0):
            raise ValueError(f"cell_m must be a positive number of metres, not {cell_m!r}")
        self._plane = plane
        self._cell_m = float(cell_m)
        self._entries: dict[str, tuple[_Entry, _Cell]] = {}
        self._grids: dict[Force, dict[_Cell, dict[str, _Entry]]] = {f: {} for f in Force}

    @classmethod
    def for_city(cls, city: City, *, cell_m: float = DEFAULT_CELL_M) -> UnitIndex:
        """An empty index on the city's plane."""
        return cls(city.plane, cell_m=cell_m)

    @property
    def plane(self) -> LocalPlane | None:
        return self._plane

    @property
    def cell_m(self) -> float:
        return self._cell_m

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self._entries

    def __iter__(self) -> Iterator[UnitView]:
        """Every unit, in no particular order."""
        return (entry[0] for entry, _ in self._entries.values())

    def get(self, unit_id: str) -> UnitView | None:
        found = self._entries.get(unit_id)
        return None if found is None else found[0][0]

    def upsert(self, unit: UnitView) -> None:
        """Add a unit, or replace it (new position, force, status ...)."""
        self.remove(unit.unit_id)
        if self._plane is None:
            self._plane = LocalPlane(lat0=unit.lat, lon0=unit.lon)
        x, y = self._plane.to_xy(unit.lat, unit.lon)
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"unit {unit.unit_id!r} has no finite position")
        cell = self._cell(x, y)
        entry: _Entry = (unit, x, y)
        self._entries[unit.unit_id] = (entry, cell)
        self._grids[unit.force].setdefault(cell, {})[unit.unit_id] = entry

    def remove(self, unit_id: str) -> bool:
        """Remove a unit; False if it was not in the index."""
        found = self._entries.pop(unit_id, None)
        if found is None:
            return False
        (unit, _, _), cell = found
        grid = self._grids[unit.force]
        bucket = grid[cell]
        del bucket[unit_id]
        if not bucket:
            del grid[cell]
        return True

    def distance_m(self, lat: float, lon: float, unit: UnitView) -> float:
        """The index's distance (see the module docstring) from a point to a unit's position,
        computed exactly as :meth:`nearest` does."""
        plane = self._plane or LocalPlane(lat0=lat, lon0=lon)
        qx, qy = plane.to_xy(lat, lon)
        x, y = plane.to_xy(unit.lat, unit.lon)
        return math.hypot(x - qx, y - qy)

    def nearest(
        self,
        lat: float,
        lon: float,
        max_distance_m: float | None = None,
        *,
        forces: Set[Force] | None = None,
        stats: QueryStats | None = None,
    ) -> Iterator[tuple[UnitView, float]]:
        """Units (of ``forces``; None: all) with their distance, nearest first, ties by
        ``unit_id``, up to ``max_distance_m`` (inclusive; None: no limit).

        Lazy: stop iterating as soon as you have what you need; the index does work only for
        the rings of cells out to the distance reached. Do not modify the index while
        iterating.
        """
        if self._plane is None or not self._entries:
            return
        grids = [self._grids[f] for f in (Force if forces is None else forces) if self._grids[f]]
        if not grids:
            return
        limit = math.inf if max_distance_m is None else max_distance_m
        qx, qy = self._plane.to_xy(lat, lon)
        if not (math.isfinite(qx) and math.isfinite(qy)):
            raise ValueError(f"not a position: lat {lat!r}, lon {lon!r}")
        size = self._cell_m
        cx, cy = self._cell(qx, qy)
        occupied = sum(len(g) for g in grids)
        looked = 0
        heap: list[tuple[float, str, UnitView]] = []
        ring = 0
        exhausted = False
        while True:
            # Every unit not yet on the heap lies outside the square of rings < ring.
            if exhausted:
                bound = math.inf
            elif ring == 0:
                bound = -math.inf
            else:
                reach = ring - 1
                bound = (
                    min(
                        qx - (cx - reach) * size,
                        (cx + reach + 1) * size - qx,
                        qy - (cy - reach) * size,
                        (cy + reach + 1) * size - qy,
                    )
                    - _EPSILON_M
                )
            while heap and heap[0][0] < bound:
                d, _, unit = heapq.heappop(heap)
                if d > limit:
                    return
                if stats is not None:
                    stats.units_yielded += 1
                yield unit, d
            if exhausted or bound > limit:
                return
            ring_cells = 1 if ring == 0 else 8 * ring
            if looked + ring_cells * len(grids) > occupied:
                # Cheaper to take every remaining unit than to walk (mostly empty) rings.
                exhausted = True
                if stats is not None:
                    stats.full_scans += 1
                for grid in grids:
                    for (ix, iy), bucket in grid.items():
                        if max(abs(ix - cx), abs(iy - cy)) >= ring:
                            self._push(heap, bucket, qx, qy, stats)
                continue
            for cell in _ring(cx, cy, ring):
                for grid in grids:
                    looked += 1
                    found = grid.get(cell)
                    if found:
                        self._push(heap, found, qx, qy, stats)
            if stats is not None:
                stats.cells_visited += ring_cells * len(grids)
            ring += 1

    @staticmethod
    def _push(
        heap: list[tuple[float, str, UnitView]],
        bucket: dict[str, _Entry],
        qx: float,
        qy: float,
        stats: QueryStats | None,
    ) -> None:
        for unit_id, (unit, x, y) in bucket.items():
            heapq.heappush(heap, (math.hypot(x - qx, y - qy), unit_id, unit))
        if stats is not None:
            stats.units_pushed += len(bucket)

    def _cell(self, x: float, y: float) -> _Cell:
        return math.floor(x / self._cell_m), math.floor(y / self._cell_m)


def _ring(cx: int, cy: int, r: int) -> Iterator[_Cell]:
    """The cells at Chebyshev distance exactly ``r`` from (cx, cy)."""
    if r == 0:
        yield cx, cy
        return
    for dx in range(-r, r + 1):
        yield cx + dx, cy - r
        yield cx + dx, cy + r
    for dy in range(-r + 1, r):
        yield cx - r, cy + dy
        yield cx + r, cy + dy
