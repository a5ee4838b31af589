"""The city file: zones, dispatch regions and fixed posts as one GeoJSON FeatureCollection.

``PATROLFLOW_CITY`` names the file; unset, patrolflow uses the built-in demo city
(``streams/city/data/demo-city.geojson``). Any GIS tool can open and edit it. The contract:

* Top level: ``"type": "FeatureCollection"``, ``name``, ``timezone`` (an IANA name: post
  schedules are local time there), optional ``calendars`` (named sets of dates such as public
  holidays and school days, which schedules may name) and ``features``.
* Zones: Polygon/MultiPolygon features with properties ``kind: "zone"``, ``zone_id``,
  ``region_id``, ``name``, ``default_target_s`` and optional ``area_class``. A dispatch region
  is the set of zones naming it; zones must not overlap.
* Fixed posts: Point features with properties ``kind: "post"``, ``post_id``, ``zone_id``,
  ``name``, optional ``schedule`` (absent: staffed around the clock) and ``post_kind``. A post
  lies inside its zone.

Compatibility: later versions add properties and kinds, they never rename these. Unknown
*properties* (and GeoJSON foreign members) are kept and ignored; an unknown feature ``kind``
is an error, so a file written for a newer patrolflow fails loudly instead of half-loading.
Coordinates are WGS 84 ``[lon, lat]`` (GeoJSON order), optionally with an ignored altitude.

Use :func:`parse_city_file` rather than ``CityFile.model_validate``: it turns every problem
into one line naming the feature (index and id) and the field, and raises
:class:`CityFileError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Annotated, Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import shapely
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from shapely.geometry import MultiPolygon, Point, Polygon

from schemas.common import Identifier

__all__ = [
    "BUILTIN_DAY_SETS",
    "FEATURE_KINDS",
    "KNOWN_POST_KINDS",
    "WEEKDAYS",
    "ZONE_OVERLAP_TOLERANCE_M2",
    "Calendar",
    "CityFile",
    "CityFileError",
    "DateRange",
    "MultiPolygonGeometry",
    "PointGeometry",
    "PolygonGeometry",
    "PostFeature",
    "PostProperties",
    "ScheduleWindow",
    "ZoneFeature",
    "ZoneProperties",
    "feature_label",
    "parse_city_file",
    "time_of_day_s",
]

#: Feature kinds this version understands (``properties.kind``).
FEATURE_KINDS: Final = ("zone", "post")
#: Day tokens of a schedule window, Monday first (``date.weekday()`` order).
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Named day sets every file has; a file's own ``calendars`` add more (e.g. ``school_days``).
BUILTIN_DAY_SETS: Final[Mapping[str, frozenset[int]]] = {
    **{day: frozenset({i}) for i, day in enumerate(WEEKDAYS)},
    "daily": frozenset(range(7)),
    "weekdays": frozenset(range(5)),
    "weekends": frozenset({5, 6}),
}
#: ``post_kind`` values patrolflow and its simulator know; others are accepted as they are.
KNOWN_POST_KINDS: Final = (
    "night_market",
    "shopping_street",
    "shopping_mall",
    "market",
    "square",
    "park",
    "bus_station",
    "train_station",
    "airport",
    "hospital",
    "school_gate",
    "stadium",
    "checkpoint",
    "other",
)
#: Zones may share borders; interiors overlapping by more than this (m², approx.) are an error.
ZONE_OVERLAP_TOLERANCE_M2: Final = 1.0

_M_PER_DEG: Final = 6_371_008.8 * math.pi / 180.0
_TIME_RE: Final = r"(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d)?"
_NAME_PATTERN: Final = r"^[a-z][a-z0-9_]{0,63}$"


class CityFileError(ValueError):
    """A city file that cannot be used. ``problems``: one line per problem, each naming the
    feature (``features[i]`` and its id) or top-level member, then the field, then what is wrong.
    """

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems) or ("unknown problem",)
        if len(self.problems) == 1:
            message = f"invalid city file {source}: {self.problems[0]}"
        else:
            lines = "".join(f"\n  - {p}" for p in self.problems)
            message = f"invalid city file {source} ({len(self.problems)} problems):{lines}"
        super().__init__(message)


# --- building blocks -------------------------------------------------------------------------


class _Base(BaseModel):
    # Tolerant of additions (later issues add properties; GeoJSON allows foreign members),
    # strict about everything named here.
    model_config = ConfigDict(frozen=True, extra="allow")


def _check_position(value: tuple[float, ...]) -> tuple[float, ...]:
    lon, lat = value[0], value[1]
    if not -180.0 <= lon <= 180.0:
        raise ValueError(
            f"longitude {lon!r} is out of range [-180, 180] (GeoJSON order is [lon, lat])"
        )
    if not -90.0 <= lat <= 90.0:
        raise ValueError(
            f"latitude {lat!r} is out of range [-90, 90] (GeoJSON order is [lon, lat])"
        )
    return value


#: A GeoJSON position ``[lon, lat]`` or ``[lon, lat, altitude]`` (altitude ignored).
Position = Annotated[
    tuple[float, ...],
    Field(min_length=2, max_length=3),
    AfterValidator(_check_position),
    WithJsonSchema(
        {
            "type": "array",
            "description": "WGS 84 position [lon, lat] or [lon, lat, altitude] (GeoJSON order).",
            "prefixItems": [
                {"type": "number", "minimum": -180, "maximum": 180, "title": "longitude"},
                {"type": "number", "minimum": -90, "maximum": 90, "title": "latitude"},
                {"type": "number", "title": "altitude (ignored)"},
            ],
            "minItems": 2,
            "maxItems": 3,
        }
    ),
]


def _check_ring(value: tuple[tuple[float, ...], ...]) -> tuple[tuple[float, ...], ...]:
    if value[0][:2] != value[-1][:2]:
        raise ValueError(
            "linear ring is not closed: the last position must repeat the first "
            f"({list(value[0][:2])} != {list(value[-1][:2])})"
        )
    return value


LinearRing = Annotated[
    tuple[Position, ...],
    Field(min_length=4, description="A closed ring: at least 4 positions, last == first."),
    AfterValidator(_check_ring),
]
PolygonCoordinates = Annotated[
    tuple[LinearRing, ...],
    Field(min_length=1, description="Exterior ring, then any holes."),
]


def _polygon(rings: PolygonCoordinates) -> Any:
    shell = [p[:2] for p in rings[0]]
    holes = [[p[:2] for p in ring] for ring in rings[1:]]
    return Polygon(shell, holes)


def _require_valid(geometry: Any) -> None:
    if not shapely.is_valid(geometry):
        raise ValueError(f"invalid polygon: {shapely.is_valid_reason(geometry)}")


class PolygonGeometry(_Base):
    """A GeoJSON Polygon (a zone's area)."""

    type: Literal["Polygon"] = Field(description='GeoJSON: "Polygon".')
    coordinates: PolygonCoordinates = Field(
        description="Rings of [lon, lat] positions: the exterior first, then any holes."
    )

    @model_validator(mode="after")
    def _valid(self) -> PolygonGeometry:
        _require_valid(self.to_shapely())
        return self

    def to_shapely(self) -> Any:
        """The area as a shapely Polygon in (lon, lat) coordinates."""
        return _polygon(self.coordinates)


class MultiPolygonGeometry(_Base):
    """A GeoJSON MultiPolygon (a zone in several pieces)."""

    type: Literal["MultiPolygon"] = Field(description='GeoJSON: "MultiPolygon".')
    coordinates: tuple[PolygonCoordinates, ...] = Field(
        min_length=1, description="Polygons, each a list of rings (exterior first)."
    )

    @model_validator(mode="after")
    def _valid(self) -> MultiPolygonGeometry:
        _require_valid(self.to_shapely())
        return self

    def to_shapely(self) -> Any:
        """The area as a shapely MultiPolygon in (lon, lat) coordinates."""
        return MultiPolygon([_polygon(rings) for rings in self.coordinates])


class PointGeometry(_Base):
    """A GeoJSON Point (a fixed post's position)."""

    type: Literal["Point"] = Field(description='GeoJSON: "Point".')
    coordinates: Position = Field(description="The post's [lon, lat].")

    @property
    def lon(self) -> float:
        return self.coordinates[0]

    @property
    def lat(self) -> float:
        return self.coordinates[1]


ZoneGeometry = Annotated[PolygonGeometry | MultiPolygonGeometry, Field(discriminator="type")]


# --- schedules and calendars -----------------------------------------------------------------


def time_of_day_s(text: str) -> int:
    """Seconds since local midnight of ``HH:MM`` or ``HH:MM:SS`` (``24:00`` is 86400)."""
    parts = [int(p) for p in text.split(":")]
    return parts[0] * 3600 + parts[1] * 60 + (parts[2] if len(parts) > 2 else 0)


DayToken = Annotated[str, Field(pattern=_NAME_PATTERN, min_length=1, max_length=64)]
CalendarName = Annotated[str, Field(pattern=_NAME_PATTERN, min_length=1, max_length=64)]


class ScheduleWindow(_Base):
    """A local-time window in which a post is staffed, on the days named.

    The window belongs to the day it starts on: ``{"days": ["fri"], "start": "22:00",
    "end": "02:00"}`` is Friday 22:00 to Saturday 02:00 (``end`` before ``start`` crosses
    midnight). ``end`` is exclusive; ``"24:00"`` ends a window at midnight.
    """

    days: tuple[DayToken, ...] = Field(
        min_length=1,
        description="Days the window starts on: mon, tue, wed, thu, fri, sat, sun; the sets "
        "daily, weekdays (mon-fri), weekends (sat, sun); or the name of one of the file's "
        "calendars (e.g. school_days, holidays). The window applies when any of them matches.",
        examples=[["mon", "tue", "wed", "thu", "fri"], ["school_days"], ["weekends", "holidays"]],
    )
    start: str = Field(
        pattern=rf"^{_TIME_RE}$",
        description="Local start time, HH:MM or HH:MM:SS (inclusive).",
        examples=["07:00"],
    )
    end: str = Field(
        pattern=rf"^(?:{_TIME_RE}|24:00(?::00)?)$",
        description="Local end time, HH:MM or HH:MM:SS (exclusive); before start = the next "
        "day (crossing midnight); 24:00 = midnight at the end of the start day.",
        examples=["08:00"],
    )

    @model_validator(mode="after")
    def _not_empty(self) -> ScheduleWindow:
        if self.start_s == self.end_s:
            raise ValueError(
                f"start and end are both {self.start}: an empty or ambiguous window "
                '(use "00:00"-"24:00" for a whole day, or omit schedule for around the clock)'
            )
        return self

    @property
    def start_s(self) -> int:
        """Start in seconds since local midnight."""
        return time_of_day_s(self.start)

    @property
    def end_s(self) -> int:
        """End in seconds since local midnight of the start day (< start_s: crosses midnight)."""
        return time_of_day_s(self.end)


class DateRange(_Base):
    """An inclusive range of dates."""

    start: date = Field(description="First date (ISO 8601, inclusive).")
    end: date = Field(description="Last date (ISO 8601, inclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class Calendar(_Base):
    """A named set of local dates, e.g. public holidays or school days.

    A date is in the calendar when it is listed in ``dates``, or falls in one of ``ranges`` on
    one of ``weekdays`` (all days if omitted); and it is neither in ``except_dates`` nor in any
    of ``except_calendars``. Exclusions win.
    """

    description: str | None = Field(
        default=None, max_length=500, description="What the calendar is, for people."
    )
    dates: tuple[date, ...] = Field(
        default=(), description="Single dates (ISO 8601), e.g. holidays or make-up school days."
    )
    ranges: tuple[DateRange, ...] = Field(
        default=(), description="Inclusive date ranges, e.g. school terms."
    )
    weekdays: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] | None = Field(
        default=None,
        min_length=1,
        description="Only these weekdays of the ranges count (absent: every day of the ranges).",
    )
    except_dates: tuple[date, ...] = Field(default=(), description="Dates never in the calendar.")
    except_calendars: tuple[CalendarName, ...] = Field(
        default=(),
        description="Other calendars of this file whose dates are never in this one "
        "(e.g. school_days except holidays).",
    )


# --- features --------------------------------------------------------------------------------


class ZoneProperties(_Base):
    """Properties of a patrol zone (巡区)."""

    kind: Literal["zone"] = Field(description='Feature kind: "zone".')
    zone_id: Identifier = Field(description="Unique zone id, stable across file versions.")
    region_id: Identifier = Field(
        description="Dispatch region this zone belongs to: the zones one command centre serves "
        "and one worker processes in order. A region is the set of zones naming it."
    )
    name: str = Field(min_length=1, max_length=200, description="Display name.")
    default_target_s: int = Field(
        gt=0,
        le=86_400,
        description="Response-time target in seconds for incidents in this zone outside any "
        "quick-response circle (norm: urban 300, suburban 600).",
    )
    area_class: Literal["urban", "suburban"] | None = Field(
        default=None, description="Urban or suburban, for reporting and defaults."
    )


class PostProperties(_Base):
    """Properties of a fixed post (固定屯警点)."""

    kind: Literal["post"] = Field(description='Feature kind: "post".')
    post_id: Identifier = Field(description="Unique post id, as units report it in telemetry.")
    zone_id: Identifier = Field(description="Zone the post lies in (must contain the point).")
    name: str = Field(min_length=1, max_length=200, description="Display name.")
    schedule: tuple[ScheduleWindow, ...] | None = Field(
        default=None,
        min_length=1,
        description="Windows in which the post is staffed, in the city's local time. Absent or "
        "null: staffed around the clock.",
    )
    post_kind: str | None = Field(
        default=None,
        pattern=_NAME_PATTERN,
        description="What the post watches over. Known: " + ", ".join(KNOWN_POST_KINDS) + ".",
        examples=list(KNOWN_POST_KINDS[:4]),
    )


class ZoneFeature(_Base):
    """A patrol zone: Polygon or MultiPolygon feature with ``kind: "zone"``."""

    type: Literal["Feature"] = Field(description='GeoJSON: "Feature".')
    id: str | int | None = Field(default=None, description="Optional GeoJSON feature id.")
    geometry: ZoneGeometry = Field(description="The zone's area.")
    properties: ZoneProperties = Field(description="What the zone is.")


class PostFeature(_Base):
    """A fixed post: Point feature with ``kind: "post"``."""

    type: Literal["Feature"] = Field(description='GeoJSON: "Feature".')
    id: str | int | None = Field(default=None, description="Optional GeoJSON feature id.")
    geometry: PointGeometry = Field(description="Where the post stands.")
    properties: PostProperties = Field(description="What the post is and when it is staffed.")


def _feature_kind(value: Any) -> str | None:
    properties = (
        value.get("properties") if isinstance(value, dict) else getattr(value, "properties", None)
    )
    kind = (
        properties.get("kind")
        if isinstance(properties, dict)
        else getattr(properties, "kind", None)
    )
    return kind if isinstance(kind, str) else None


Feature = Annotated[
    Annotated[ZoneFeature, Tag("zone")] | Annotated[PostFeature, Tag("post")],
    Discriminator(
        _feature_kind,
        custom_error_type="feature_kind",
        custom_error_message="properties.kind must be one of 'zone', 'post'",
    ),
]


# --- the file ----------------------------------------------------------------------------------


class CityFile(_Base):
    """A city: its time zone, calendars, patrol zones (grouped into dispatch regions) and posts."""

    model_config = ConfigDict(
        title="CityFile",
        json_schema_extra={
            "description": "patrolflow city file: a GeoJSON FeatureCollection (RFC 7946) of "
            "patrol zones and fixed posts. Unknown properties are ignored; unknown feature "
            "kinds are errors."
        },
    )

    type: Literal["FeatureCollection"] = Field(description='GeoJSON: "FeatureCollection".')
    name: str = Field(min_length=1, max_length=200, description="The city's display name.")
    timezone: str = Field(
        description="IANA time zone of the city's local time (post schedules, calendars).",
        examples=["Asia/Shanghai"],
    )
    calendars: dict[CalendarName, Calendar] = Field(
        default_factory=dict,
        description="Named date sets that schedule windows may name in `days` (e.g. holidays, "
        "school_days). Names must not clash with mon..sun, daily, weekdays, weekends.",
    )
    features: tuple[Feature, ...] = Field(description="Zones and posts, in any order.")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Asia" (a directory)
            raise ValueError(
                f"unknown IANA time zone {value!r} (expected a name such as 'Asia/Shanghai')"
            ) from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CityFile:
        problems = [*self._calendar_problems(), *self._feature_problems()]
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def zones(self) -> tuple[ZoneFeature, ...]:
        """Zone features in file order."""
        return tuple(f for f in self.features if isinstance(f, ZoneFeature))

    @property
    def posts(self) -> tuple[PostFeature, ...]:
        """Post features in file order."""
        return tuple(f for f in self.features if isinstance(f, PostFeature))

    def _calendar_problems(self) -> Iterable[str]:
        for name, calendar in self.calendars.items():
            if name in BUILTIN_DAY_SETS:
                yield f"calendars.{name}: the name clashes with the built-in day set {name!r}"
            for i, other in enumerate(calendar.except_calendars):
                if other not in self.calendars:
                    yield f"calendars.{name}.except_calendars.{i}: unknown calendar {other!r}"
        # Exclusions must not loop (a calendar excluding itself, directly or not).
        for name in self.calendars:
            seen: set[str] = set()
            stack = list(self.calendars[name].except_calendars)
            while stack:
                other = stack.pop()
                if other == name:
                    yield f"calendars.{name}.except_calendars: excludes itself (a cycle)"
                    break
                if other in seen or other not in self.calendars:
                    continue
                seen.add(other)
                stack.extend(self.calendars[other].except_calendars)

    def _feature_problems(self) -> Iterable[str]:
        zone_index: dict[str, int] = {}  # zone_id -> position in the three lists below
        zone_features: list[ZoneFeature] = []
        zone_shapes: list[Any] = []
        zone_indices: list[int] = []  # position in self.features
        for i, feature in enumerate(self.features):
            if isinstance(feature, ZoneFeature):
                zid = feature.properties.zone_id
                if zid in zone_index:
                    yield (
                        f"{feature_label(i, feature)}: properties.zone_id: duplicate zone_id "
                        f"{zid!r} (first at features[{zone_indices[zone_index[zid]]}])"
                    )
                    continue
                zone_index[zid] = len(zone_features)
                zone_features.append(feature)
                zone_shapes.append(feature.geometry.to_shapely())
                zone_indices.append(i)
        if not zone_index:
            yield "features: the city has no zone features (kind 'zone'); it needs at least one"
            return
        tree = shapely.STRtree(zone_shapes)
        yield from _overlap_problems(tree, zone_shapes, zone_features, zone_indices)

        known_days = set(BUILTIN_DAY_SETS) | set(self.calendars)
        post_index: dict[str, int] = {}
        for i, feature in enumerate(self.features):
            if not isinstance(feature, PostFeature):
                continue
            props = feature.properties
            label = feature_label(i, feature)
            if props.post_id in post_index:
                yield (
                    f"{label}: properties.post_id: duplicate post_id {props.post_id!r} "
                    f"(first at features[{post_index[props.post_id]}])"
                )
            else:
                post_index[props.post_id] = i
            for w, window in enumerate(props.schedule or ()):
                for d, day in enumerate(window.days):
                    if day not in known_days:
                        calendars = ", ".join(self.calendars) or "none defined"
                        yield (
                            f"{label}: properties.schedule.{w}.days.{d}: unknown day or "
                            f"calendar {day!r} (expected mon..sun, daily, weekdays, weekends, "
                            f"or a calendar of this file: {calendars})"
                        )
            zi = zone_index.get(props.zone_id)
            if zi is None:
                yield f"{label}: properties.zone_id: no zone has zone_id {props.zone_id!r}"
                continue
            point = Point(feature.geometry.lon, feature.geometry.lat)
            if not zone_shapes[zi].contains(point):
                hits = sorted(int(h) for h in tree.query(point, predicate="intersects"))
                where = (
                    f"; it lies in zone {zone_features[hits[0]].properties.zone_id!r}"
                    if hits
                    else "; it lies outside every zone"
                )
                yield (
                    f"{label}: geometry.coordinates: the post (lat {feature.geometry.lat}, lon "
                    f"{feature.geometry.lon}) is not inside its zone {props.zone_id!r} "
                    f"(features[{zone_indices[zi]}]){where}"
                )


def _overlap_problems(
    tree: Any, shapes: list[Any], zones: list[ZoneFeature], indices: list[int]
) -> Iterable[str]:
    """Zones whose interiors overlap by more than :data:`ZONE_OVERLAP_TOLERANCE_M2`."""
    pairs = tree.query(shapes, predicate="intersects")
    for a, b in sorted({(int(x), int(y)) for x, y in zip(*pairs, strict=True) if x < y}):
        overlap = shapely.intersection(shapes[a], shapes[b])
        if overlap.is_empty or overlap.area == 0.0:
            continue
        lat = overlap.centroid.y
        area_m2 = overlap.area * _M_PER_DEG**2 * math.cos(math.radians(lat))
        if area_m2 > ZONE_OVERLAP_TOLERANCE_M2:
            yield (
                f"{feature_label(indices[b], zones[b])}: geometry: the zone overlaps zone "
                f"{zones[a].properties.zone_id!r} (features[{indices[a]}]) by about "
                f"{area_m2:,.0f} m² (zones must not overlap)"
            )


# --- error reporting -------------------------------------------------------------------------

_TAGS_AFTER_INDEX: Final = frozenset(FEATURE_KINDS)
_GEOMETRY_TAGS: Final = frozenset({"Polygon", "MultiPolygon", "Point"})


def _label_from(i: int, kind: object, ident: Mapping[str, object], name: object) -> str:
    for key in ("zone_id", "post_id"):
        value = ident.get(key)
        if isinstance(value, str) and value:
            return f"features[{i}] ({key} {value!r})"
    for key in ("id",):
        value = ident.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return f"features[{i}] (id {value!r})"
    if isinstance(kind, str) and isinstance(name, str):
        return f"features[{i}] ({kind} {name!r})"
    return f"features[{i}]"


def feature_label(i: int, feature: ZoneFeature | PostFeature) -> str:
    """``features[i] (zone_id 'z03')``: how every message names a feature."""
    props = feature.properties
    ident: dict[str, object] = {"id": feature.id}
    ident["zone_id" if isinstance(props, ZoneProperties) else "post_id"] = (
        props.zone_id if isinstance(props, ZoneProperties) else props.post_id
    )
    return _label_from(i, props.kind, ident, props.name)


def _raw_feature_label(i: int, data: object) -> str:
    try:
        raw = data["features"][i]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return f"features[{i}]"
    if not isinstance(raw, dict):
        return f"features[{i}]"
    props = raw.get("properties")
    props = props if isinstance(props, dict) else {}
    kind = props.get("kind")
    ident: dict[str, object] = {"id": raw.get("id")}
    if kind == "zone":
        ident["zone_id"] = props.get("zone_id")
    else:  # a post, or a feature of unknown kind: a post_id says "post", a zone_id may not
        ident["post_id"] = props.get("post_id")
    return _label_from(i, kind, ident, props.get("name"))


def _message(error: Mapping[str, Any]) -> str:
    msg = str(error["msg"])
    return re.sub(r"^(Value error|Assertion failed), ", "", msg)


def _describe(error: Mapping[str, Any], data: object) -> list[str]:
    loc = list(error["loc"])
    if len(loc) >= 2 and loc[0] == "features" and isinstance(loc[1], int):
        i = loc[1]
        label = _raw_feature_label(i, data)
        rest = loc[2:]
        if rest and rest[0] in _TAGS_AFTER_INDEX:
            rest = rest[1:]
        if len(rest) >= 2 and rest[0] == "geometry" and rest[1] in _GEOMETRY_TAGS:
            rest = [rest[0], *rest[2:]]
        if error["type"] == "feature_kind":
            raw = error.get("input")
            if not isinstance(raw, dict):
                return [f"{label}: feature: expected a GeoJSON Feature object"]
            props = raw.get("properties")
            if not isinstance(props, dict):
                return [f"{label}: properties: missing or not an object (needs at least 'kind')"]
            kind = props.get("kind")
            if kind is None:
                return [f"{label}: properties.kind: missing (expected one of 'zone', 'post')"]
            return [
                f"{label}: properties.kind: unknown kind {kind!r} (expected one of 'zone', "
                "'post'; this version of patrolflow knows no other kinds)"
            ]
        field = ".".join(str(p) for p in rest) or "feature"
        return [f"{label}: {field}: {_message(error)}"]
    field = ".".join(str(p) for p in loc)
    lines = _message(error).splitlines() or ["invalid"]
    if not field:  # cross-feature checks: already "where: field: what" per line
        return lines
    return [f"{field}: {line}" for line in lines]


def parse_city_file(data: object, *, source: str = "<city file>") -> CityFile:
    """Validate a decoded city file (the parsed JSON); raise :class:`CityFileError` naming
    every problem's feature (index and id) and field."""
    if not isinstance(data, dict):
        raise CityFileError(source, ["top level: expected a GeoJSON FeatureCollection object"])
    try:
        return CityFile.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems: list[str] = []
        for error in errors:
            if error["type"] == "too_short" and _has_deeper_error(error["loc"], errors):
                continue  # "at least 1 item after validation": a consequence, not the cause
            problems.extend(_describe(error, data))
        raise CityFileError(source, problems) from None


def _has_deeper_error(loc: tuple[int | str, ...], errors: Iterable[Mapping[str, Any]]) -> bool:
    n = len(loc)
    return any(len(e["loc"]) > n and tuple(e["loc"][:n]) == loc for e in errors)
