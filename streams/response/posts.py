"""Posts for the response engine: staffed stretches in time, and which posts a unit is at. Pure.

A post's schedule (local time in the city's zone, possibly crossing midnight, possibly naming
the city's calendars) is turned into *staffed stretches*: maximal intervals ``[start, end)``
in which :meth:`City.post_staffed` is true, adjacent or overlapping windows merged (a post
staffed 07:00-08:00 and 08:00-09:00 is one stretch, so a handover at 08:00 is not a new
window). A post without a schedule is one endless stretch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Final

from streams.city.geo import LocalPlane, distance_m
from streams.city.model import City, Post

__all__ = ["PostIndex", "next_stretch_start", "staffed_stretch"]

#: Windows chained longer than this are treated as never ending (resp. never starting).
MAX_CHAIN_DAYS: Final = 400
#: How far ahead to look for a post's next staffed window.
MAX_LOOKAHEAD_DAYS: Final = 400

Interval = tuple[datetime, datetime]


def _occurrences(city: City, post: Post, day: date) -> Iterator[Interval]:
    """Windows of ``post`` starting on local date ``day``, as UTC intervals."""
    assert post.schedule is not None
    midnight = datetime(day.year, day.month, day.day, tzinfo=city.timezone)
    for window in post.schedule:
        if not any(city.day_matches(token, day) for token in window.days):
            continue
        # Wall-clock arithmetic in the city's zone, as City.post_staffed reads the clock.
        start = midnight + timedelta(seconds=window.start_s)
        end_day = midnight + timedelta(days=1) if window.crosses_midnight else midnight
        end = end_day + timedelta(seconds=window.end_s)
        yield start.astimezone(UTC), end.astimezone(UTC)


def _around(city: City, post: Post, at: datetime) -> list[Interval]:
    """Occurrences that may contain ``at``: those starting on its local date or the day before
    (a window lasts less than two days)."""
    day = at.astimezone(city.timezone).date()
    return [*_occurrences(city, post, day - timedelta(days=1)), *_occurrences(city, post, day)]


def staffed_stretch(
    city: City, post: Post, at: datetime
) -> tuple[datetime | None, datetime | None] | None:
    """The staffed stretch containing ``at`` as ``(start, end)``, None for an unbounded side;
    None when the post is not staffed at ``at``."""
    if post.schedule is None:
        return None, None
    containing = [(s, e) for s, e in _around(city, post, at) if s <= at < e]
    if not containing:
        return None
    start: datetime | None = min(s for s, _ in containing)
    end: datetime | None = max(e for _, e in containing)
    for _ in range(MAX_CHAIN_DAYS * 4):
        assert end is not None
        later = [e for s, e in _around(city, post, end) if s <= end < e]
        if not later:
            break
        end = max(later)
    else:
        end = None
    for _ in range(MAX_CHAIN_DAYS * 4):
        assert start is not None
        probe = start - timedelta(microseconds=1)
        earlier = [s for s, e in _around(city, post, probe) if s <= probe < e]
        if not earlier:
            break
        start = min(earlier)
    else:
        start = None
    return start, end


def next_stretch_start(city: City, post: Post, after: datetime) -> datetime | None:
    """When the next staffed stretch after ``after`` starts (after the current one, if the
    post is staffed at ``after``); None: never within :data:`MAX_LOOKAHEAD_DAYS`, or always
    staffed."""
    current = staffed_stretch(city, post, after)
    if current is not None:
        if current[1] is None:
            return None
        after = current[1]  # not staffed at its end: stretches are merged
    assert post.schedule is not None
    day = after.astimezone(city.timezone).date()
    for offset in range(MAX_LOOKAHEAD_DAYS + 1):
        starts = sorted(s for s, _ in _occurrences(city, post, day + timedelta(days=offset)))
        for start in starts:
            if start > after:
                return start
    return None


class PostIndex:
    """Posts on a grid of the city's local plane: which posts are within a radius of a point.

    Cells are slightly larger than the radius, so the 3 x 3 cells around a point hold every
    post within the radius; :func:`distance_m` decides.
    """

    def __init__(self, posts: Iterable[Post], plane: LocalPlane, radius_m: float) -> None:
        self.radius_m = radius_m
        self.plane = plane
        self.cell = max(radius_m * 1.05, 1.0)
        self.cells: dict[tuple[int, int], list[Post]] = {}
        for post in posts:
            self.cells.setdefault(self._cell(post.lat, post.lon), []).append(post)

    def _cell(self, lat: float, lon: float) -> tuple[int, int]:
        x, y = self.plane.to_xy(lat, lon)
        return math.floor(x / self.cell), math.floor(y / self.cell)

    def within(self, lat: float, lon: float) -> list[str]:
        """Ids of the posts within the radius of the point, sorted."""
        cx, cy = self._cell(lat, lon)
        found: list[str] = []
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for post in self.cells.get((cx + dx, cy + dy), ()):
                    if distance_m(lat, lon, post.lat, post.lon) <= self.radius_m:
                        found.append(post.post_id)
        return sorted(found)
