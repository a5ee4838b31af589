"""The city at run time: zones, dispatch regions and fixed posts, with a spatial index.

Pure (no Faust, no Kafka): load a city file once per process with :func:`load_city`, then ask
it where a point is (:meth:`City.zone_at`, :meth:`City.region_of_point`) and whether a post is
staffed at an instant (:meth:`City.post_staffed`). A :class:`City` is immutable and safe to
share between threads and agents.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import shapely
from shapely.affinity import affine_transform
from shapely.geometry import Point

from schemas.city import (
    BUILTIN_DAY_SETS,
    WEEKDAYS,
    Calendar,
    CityFile,
    CityFileError,
    PostFeature,
    ZoneFeature,
    parse_city_file,
)
from streams.city.geo import LocalPlane

__all__ = [
    "DEMO_CITY_RESOURCE",
    "City",
    "Post",
    "Window",
    "Zone",
    "demo_city_bytes",
    "load_city",
]

#: The built-in demo city, relative to the ``streams.city`` package.
DEMO_CITY_RESOURCE: Final = "data/demo-city.geojson"
_DEMO_SOURCE: Final = "built-in demo city (streams/city/data/demo-city.geojson)"
_DAY_S: Final = 86_400


@dataclass(frozen=True, slots=True)
class Zone:
    """A patrol zone. ``geometry`` is a shapely Polygon/MultiPolygon in (lon, lat) order."""

    zone_id: str
    region_id: str
    name: str
    default_target_s: int
    area_class: Literal["urban", "suburban"] | None
    #: A point guaranteed to lie inside the zone, (lat, lon).
    interior_point: tuple[float, float]
    geometry: Any = field(compare=False, repr=False)
    #: Every property of the feature as in the file, including ones this version ignores.
    properties: Mapping[str, Any] = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Window:
    """A staffed window: starts on one of ``days`` at ``start_s`` seconds after local midnight,
    ends ``end_s`` seconds after that day's midnight (exclusive); ``end_s < start_s`` ends the
    next day (crossing midnight), ``end_s == 86400`` at the start day's end."""

    days: tuple[str, ...]
    start_s: int
    end_s: int

    @property
    def crosses_midnight(self) -> bool:
        return self.end_s < self.start_s


@dataclass(frozen=True, slots=True)
class Post:
    """A fixed post. ``schedule`` None: staffed around the clock."""

    post_id: str
    zone_id: str
    region_id: str
    name: str
    lat: float
    lon: float
    post_kind: str | None
    schedule: tuple[Window, ...] | None
    properties: Mapping[str, Any] = field(compare=False, repr=False)

    @property
    def around_the_clock(self) -> bool:
        return self.schedule is None


@dataclass(frozen=True, slots=True)
class _CalendarSet:
    dates: frozenset[date]
    ranges: tuple[tuple[date, date], ...]
    weekdays: frozenset[int] | None
    except_dates: frozenset[date]
    except_calendars: tuple[str, ...]

    @classmethod
    def of(cls, calendar: Calendar) -> _CalendarSet:
        return cls(
            dates=frozenset(calendar.dates),
            ranges=tuple((r.start, r.end) for r in calendar.ranges),
            weekdays=(
                None
                if calendar.weekdays is None
                else frozenset(WEEKDAYS.index(d) for d in calendar.weekdays)
            ),
            except_dates=frozenset(calendar.except_dates),
            except_calendars=calendar.except_calendars,
        )


class City:
    """A validated city with a spatial index over its zones.

    Points on a border shared by two zones belong to the zone that comes first in the file.
    """

    def __init__(self, city_file: CityFile, *, source: str = "<city file>") -> None:
        self.name: str = city_file.name
        self.source: str = source
        self.timezone: ZoneInfo = ZoneInfo(city_file.timezone)
        self._calendars = {n: _CalendarSet.of(c) for n, c in city_file.calendars.items()}

        zones: dict[str, Zone] = {}
        regions: dict[str, list[str]] = {}
        for feature in city_file.features:
            if isinstance(feature, ZoneFeature):
                zone = _zone(feature)
                zones[zone.zone_id] = zone
                regions.setdefault(zone.region_id, []).append(zone.zone_id)
        posts: dict[str, Post] = {}
        region_posts: dict[str, list[str]] = {r: [] for r in regions}
        for feature in city_file.features:
            if isinstance(feature, PostFeature):
                post = _post(feature, zones[feature.properties.zone_id].region_id)
                posts[post.post_id] = post
                region_posts[post.region_id].append(post.post_id)

        self.zones: Mapping[str, Zone] = MappingProxyType(zones)
        self.posts: Mapping[str, Post] = MappingProxyType(posts)
        #: region_id -> its zone ids, in file order.
        self.regions: Mapping[str, tuple[str, ...]] = MappingProxyType(
            {r: tuple(z) for r, z in regions.items()}
        )
        #: region_id -> the post ids in its zones, in file order.
        self.region_posts: Mapping[str, tuple[str, ...]] = MappingProxyType(
            {r: tuple(p) for r, p in region_posts.items()}
        )

        # Two STRtrees over the same zones, in file order: degrees for containment (exactly the
        # test the file was validated with), a local metric plane for "nearest".
        self._zone_list: tuple[Zone, ...] = tuple(zones.values())
        geometries = [z.geometry for z in self._zone_list]
        self._tree: Any = shapely.STRtree(geometries)
        minx, miny, maxx, maxy = shapely.total_bounds(geometries)
        self.plane: LocalPlane = LocalPlane(lat0=(miny + maxy) / 2, lon0=(minx + maxx) / 2)
        self._matrix = self.plane.affine()
        self._plane_tree: Any = shapely.STRtree(
            [affine_transform(g, self._matrix) for g in geometries]
        )

    def __repr__(self) -> str:
        return (
            f"City({self.name!r}, zones={len(self.zones)}, posts={len(self.posts)}, "
            f"regions={len(self.regions)}, timezone={self.timezone.key!r})"
        )

    # --- where is a point --------------------------------------------------------------------

    def zone_at(self, lat: float, lon: float) -> Zone | None:
        """The zone containing the point (its border included), or None outside every zone."""
        _check_point(lat, lon)
        hits = self._tree.query(Point(lon, lat), predicate="intersects")
        if len(hits) == 0:
            return None
        return self._zone_list[int(hits.min())]

    def nearest_zone(self, lat: float, lon: float) -> tuple[Zone, float]:
        """The zone containing the point or, outside every zone, the nearest one; with the
        distance in metres to it (0 inside). Ties go to the zone first in the file."""
        zone = self.zone_at(lat, lon)
        if zone is not None:
            return zone, 0.0
        x, y = self.plane.to_xy(lat, lon)
        indices, distances = self._plane_tree.query_nearest(
            Point(x, y), return_distance=True, all_matches=True
        )
        best = int(indices.min())
        return self._zone_list[best], float(distances.min())

    def region_of_point(self, lat: float, lon: float) -> tuple[str, str | None]:
        """``(region_id, zone_id)`` of the zone containing the point; outside every zone
        ``(region_id of the nearest zone, None)``, so nothing is ever without a region."""
        zone = self.zone_at(lat, lon)
        if zone is not None:
            return zone.region_id, zone.zone_id
        nearest, _ = self.nearest_zone(lat, lon)
        return nearest.region_id, None

    # --- posts and their schedules -----------------------------------------------------------

    def post_staffed(self, post_id: str, at: datetime) -> bool:
        """Whether the post's schedule has it staffed at ``at`` (timezone-aware), judged in the
        city's local time. A post without a schedule is always staffed."""
        try:
            post = self.posts[post_id]
        except KeyError:
            raise KeyError(f"unknown post_id {post_id!r}") from None
        return self._staffed(post, at)

    def staffed_posts(self, at: datetime) -> tuple[Post, ...]:
        """The posts staffed at ``at`` (timezone-aware), in file order."""
        return tuple(p for p in self.posts.values() if self._staffed(p, at))

    def day_matches(self, token: str, day: date) -> bool:
        """Whether a local date is in a schedule's day token: ``mon``..``sun``, ``daily``,
        ``weekdays``, ``weekends`` or a calendar of the city file."""
        builtin = BUILTIN_DAY_SETS.get(token)
        if builtin is not None:
            return day.weekday() in builtin
        if token not in self._calendars:
            raise KeyError(f"unknown day set or calendar {token!r}")
        return self._in_calendar(token, day)

    @property
    def calendar_names(self) -> tuple[str, ...]:
        return tuple(self._calendars)

    def _in_calendar(self, name: str, day: date) -> bool:
        cal = self._calendars[name]
        if day in cal.except_dates:
            return False
        if any(self._in_calendar(other, day) for other in cal.except_calendars):
            return False
        if day in cal.dates:
            return True
        return any(start <= day <= end for start, end in cal.ranges) and (
            cal.weekdays is None or day.weekday() in cal.weekdays
        )

    def _staffed(self, post: Post, at: datetime) -> bool:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("post schedules need a timezone-aware datetime")
        if post.schedule is None:
            return True
        local = at.astimezone(self.timezone)
        today = local.date()
        t = local.hour * 3600 + local.minute * 60 + local.second
        for window in post.schedule:
            if window.crosses_midnight:
                if t >= window.start_s and self._any_day(window.days, today):
                    return True
                if t < window.end_s and self._any_day(window.days, today - timedelta(days=1)):
                    return True
            elif window.start_s <= t < window.end_s and self._any_day(window.days, today):
                return True
        return False

    def _any_day(self, tokens: tuple[str, ...], day: date) -> bool:
        return any(self.day_matches(token, day) for token in tokens)


def _check_point(lat: float, lon: float) -> None:
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"not a WGS 84 position: lat {lat!r}, lon {lon!r}")


def _zone(feature: ZoneFeature) -> Zone:
    props = feature.properties
    geometry = feature.geometry.to_shapely()
    inside = geometry.representative_point()
    return Zone(
        zone_id=props.zone_id,
        region_id=props.region_id,
        name=props.name,
        default_target_s=props.default_target_s,
        area_class=props.area_class,
        interior_point=(float(inside.y), float(inside.x)),
        geometry=geometry,
        properties=MappingProxyType(props.model_dump(mode="json")),
    )


def _post(feature: PostFeature, region_id: str) -> Post:
    props = feature.properties
    schedule = (
        None
        if props.schedule is None
        else tuple(Window(days=w.days, start_s=w.start_s, end_s=w.end_s) for w in props.schedule)
    )
    return Post(
        post_id=props.post_id,
        zone_id=props.zone_id,
        region_id=region_id,
        name=props.name,
        lat=feature.geometry.lat,
        lon=feature.geometry.lon,
        post_kind=props.post_kind,
        schedule=schedule,
        properties=MappingProxyType(props.model_dump(mode="json")),
    )


def demo_city_bytes() -> bytes:
    """The built-in demo city's GeoJSON, e.g. to copy it as a starting point for your own."""
    return files("streams.city").joinpath(DEMO_CITY_RESOURCE).read_bytes()


def load_city(path: Path | str | None = None) -> City:
    """Load and validate a city file (``None``: the built-in demo city).

    Raises :class:`~schemas.city.CityFileError` naming the file, and for each problem the
    feature (index and id) and field, when the file cannot be read or is not a valid city.
    """
    if path is None:
        source, raw = _DEMO_SOURCE, demo_city_bytes()
    else:
        source = str(path)
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise CityFileError(source, [f"cannot read the file: {exc.strerror or exc}"]) from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CityFileError(
            source, [f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
        ) from None
    except UnicodeDecodeError as exc:
        raise CityFileError(source, [f"not UTF-8 text: {exc.reason}"]) from None
    return City(parse_city_file(data, source=source), source=source)
