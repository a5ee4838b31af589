"""The city model: the demo city, the spatial index, post schedules and city-file validation."""

from __future__ import annotations

import copy
import itertools
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pytest
import shapely

from schemas.city import CityFile, CityFileError, parse_city_file
from streams.city import City, distance_m, load_city
from streams.city import CityFileError as ReExportedError
from streams.city.data import make_demo_city

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def city() -> City:
    return load_city(None)


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A wall-clock time in Hailar."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


# --- the demo city ---------------------------------------------------------------------------


def test_demo_city_has_17_zones_27_posts_in_2_regions(city: City) -> None:
    assert len(city.zones) == 17
    assert len(city.posts) == 27
    assert set(city.regions) == {"hailar", "hailar-east"}
    assert len(city.regions["hailar"]) == 14
    assert len(city.regions["hailar-east"]) == 3
    assert city.timezone.key == "Asia/Shanghai"
    assert sum(len(p) for p in city.region_posts.values()) == 27
    # Every zone has a post, and the targets follow the urban/suburban norm.
    assert {p.zone_id for p in city.posts.values()} == set(city.zones)
    for zone in city.zones.values():
        expected = {"urban": 300, "suburban": 600}[zone.area_class or "urban"]
        assert zone.default_target_s == expected


def test_demo_city_is_around_hailar(city: City) -> None:
    centre = city.zone_at(49.213, 119.765)
    assert centre is not None
    assert centre.zone_id == "z05"
    for post in city.posts.values():
        assert distance_m(49.213, 119.765, post.lat, post.lon) < 10_000


def test_demo_zones_tile_without_overlaps_or_gaps(city: City) -> None:
    zones = list(city.zones.values())
    for a, b in itertools.combinations(zones, 2):
        overlap = shapely.intersection(a.geometry, b.geometry).area
        assert overlap == pytest.approx(0.0, abs=1e-12), (a.zone_id, b.zone_id)
    union = shapely.unary_union([z.geometry for z in zones])
    assert union.geom_type == "Polygon"
    assert len(union.interiors) == 0
    assert union.area == pytest.approx(sum(z.geometry.area for z in zones))


def test_every_demo_post_lies_inside_its_zone(city: City) -> None:
    for post in city.posts.values():
        zone = city.zones[post.zone_id]
        assert zone.geometry.contains(shapely.Point(post.lon, post.lat)), post.post_id
        found = city.zone_at(post.lat, post.lon)
        assert found is not None
        assert found.zone_id == post.zone_id
        assert post.region_id == zone.region_id


def test_demo_city_file_is_generated_by_its_generator() -> None:
    committed = make_demo_city.OUTPUT.read_text(encoding="utf-8")
    assert committed == make_demo_city.render(make_demo_city.build()), (
        "demo-city.geojson is stale: run python -m streams.city.data.make_demo_city"
    )


def test_demo_city_validates_against_the_exported_json_schema() -> None:
    schema = CityFile.model_json_schema()
    document = json.loads(make_demo_city.OUTPUT.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(document)


# --- where is a point ------------------------------------------------------------------------


def test_zone_at_zone_interior_points(city: City) -> None:
    for zone in city.zones.values():
        found = city.zone_at(*zone.interior_point)
        assert found is not None
        assert found.zone_id == zone.zone_id


def test_zone_at_far_away_is_none(city: City) -> None:
    assert city.zone_at(39.9042, 116.4074) is None  # Beijing
    assert city.zone_at(49.213, 119.0) is None  # 55 km west of Hailar


def test_zone_at_a_shared_border_goes_to_the_first_zone_in_the_file(city: City) -> None:
    # A vertex shared by z04, z05, z07 and z08 (the grid corner at column 2, row 2).
    lon, lat = make_demo_city.vertex(2, 2)
    found = city.zone_at(lat, lon)
    assert found is not None
    assert found.zone_id == "z04"


def test_zone_at_rejects_impossible_positions(city: City) -> None:
    with pytest.raises(ValueError, match="not a WGS 84 position"):
        city.zone_at(95.0, 119.7)
    with pytest.raises(ValueError, match="not a WGS 84 position"):
        city.zone_at(float("nan"), 119.7)


def test_region_of_point_inside_a_zone(city: City) -> None:
    post = city.posts["p24"]  # the airport, in the eastern region
    assert city.region_of_point(post.lat, post.lon) == ("hailar-east", "z15")
    assert city.region_of_point(49.213, 119.765) == ("hailar", "z05")


def test_region_of_point_outside_every_zone_is_the_nearest_region(city: City) -> None:
    assert city.region_of_point(49.21, 119.95) == ("hailar-east", None)  # east of the district
    assert city.region_of_point(49.21, 119.55) == ("hailar", None)  # west of it
    assert city.region_of_point(49.30, 119.70) == ("hailar", None)  # north-west, over the river
    assert city.region_of_point(49.12, 119.87) == ("hailar-east", None)  # south-east


def test_nearest_zone_distance_is_in_metres(city: City) -> None:
    zone, distance = city.nearest_zone(49.213, 119.765)
    assert (zone.zone_id, distance) == ("z05", 0.0)
    east_edge = max(x for x, _ in city.zones["z15"].geometry.exterior.coords)
    zone, distance = city.nearest_zone(49.215, east_edge + 0.05)  # ~3.6 km east
    assert zone.zone_id == "z15"
    assert 3_000 < distance < 4_000


def test_distance_m() -> None:
    assert distance_m(49.213, 119.765, 49.213, 119.765) == 0.0
    assert distance_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(111_195, rel=1e-4)
    there = distance_m(49.2, 119.7, 49.3, 119.9)
    assert distance_m(49.3, 119.9, 49.2, 119.7) == pytest.approx(there)
    # Over 18 km the sphere is nearly flat: 0.1 deg north, 0.2 deg east at cos(49.25 deg).
    flat = 111_195 * ((0.1) ** 2 + (0.2 * 0.65276) ** 2) ** 0.5
    assert there == pytest.approx(flat, rel=1e-3)


# --- post schedules --------------------------------------------------------------------------


def test_post_without_schedule_is_staffed_around_the_clock(city: City) -> None:
    station = city.posts["p01"]
    assert station.around_the_clock
    for hour in range(24):
        assert city.post_staffed("p01", local(2026, 11, 29, hour, 30))


def test_post_staffed_in_its_windows_only(city: City) -> None:
    # People's Hospital entrance: 07:00-09:00, 11:00-13:00, 17:00-19:00 every day.
    assert not city.post_staffed("p11", local(2026, 11, 30, 6, 59, 59))
    assert city.post_staffed("p11", local(2026, 11, 30, 7, 0))
    assert city.post_staffed("p11", local(2026, 11, 30, 12, 59, 59))
    assert not city.post_staffed("p11", local(2026, 11, 30, 13, 0))  # end is exclusive
    assert not city.post_staffed("p11", local(2026, 11, 30, 15, 0))
    assert city.post_staffed("p11", local(2026, 11, 29, 18, 0))


def test_post_schedule_is_judged_in_the_citys_local_time(city: City) -> None:
    # 23:30 UTC is 07:30 the next morning in Hailar (UTC+8).
    assert city.post_staffed("p11", datetime(2026, 11, 29, 23, 30, tzinfo=UTC))
    assert not city.post_staffed("p11", datetime(2026, 11, 30, 7, 30, tzinfo=UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        city.post_staffed("p11", datetime(2026, 11, 30, 7, 30))
    with pytest.raises(KeyError, match="p99"):
        city.post_staffed("p99", local(2026, 11, 30, 7, 30))


def test_night_market_window_crosses_midnight(city: City) -> None:
    # Zhongyang Street night market: daily 17:00-02:00.
    assert not city.post_staffed("p09", local(2026, 11, 30, 16, 59))
    assert city.post_staffed("p09", local(2026, 11, 30, 17, 0))
    assert city.post_staffed("p09", local(2026, 11, 30, 23, 59, 59))
    assert city.post_staffed("p09", local(2026, 12, 1, 0, 0))
    assert city.post_staffed("p09", local(2026, 12, 1, 1, 59, 59))
    assert not city.post_staffed("p09", local(2026, 12, 1, 2, 0))
    assert not city.post_staffed("p09", local(2026, 12, 1, 12, 0))


def test_window_crossing_midnight_belongs_to_the_day_it_starts(tmp_path: Path) -> None:
    data = small_city()
    data["features"][2]["properties"]["schedule"] = [
        {"days": ["fri"], "start": "22:00", "end": "02:00"}
    ]
    city = load_city(write(tmp_path, data))
    # 2026-11-27 is a Friday.
    assert city.post_staffed("p1", local(2026, 11, 27, 23, 0))
    assert city.post_staffed("p1", local(2026, 11, 28, 1, 0))  # Saturday morning: Friday's
    assert not city.post_staffed("p1", local(2026, 11, 27, 1, 0))  # Friday morning: Thursday's
    assert not city.post_staffed("p1", local(2026, 11, 28, 23, 0))


def test_whole_day_window_on_holidays(tmp_path: Path) -> None:
    data = small_city()
    data["calendars"] = {"holidays": {"dates": ["2026-10-01"]}}
    data["features"][2]["properties"]["schedule"] = [
        {"days": ["holidays"], "start": "00:00", "end": "24:00"}
    ]
    city = load_city(write(tmp_path, data))
    assert city.post_staffed("p1", local(2026, 10, 1, 0, 0))
    assert city.post_staffed("p1", local(2026, 10, 1, 23, 59, 59))
    assert not city.post_staffed("p1", local(2026, 10, 2, 0, 0))
    assert not city.post_staffed("p1", local(2026, 9, 30, 23, 59, 59))


def test_school_gate_is_staffed_on_school_days_only(city: City) -> None:
    # No. 2 Middle School gate: 07:00-08:00 on school days.
    assert city.post_staffed("p14", local(2026, 11, 30, 7, 30))  # Monday in term
    assert not city.post_staffed("p14", local(2026, 11, 30, 8, 0))
    assert not city.post_staffed("p14", local(2026, 11, 28, 7, 30))  # Saturday
    assert city.post_staffed("p14", local(2026, 10, 10, 7, 30))  # Saturday make-up school day
    assert not city.post_staffed("p14", local(2026, 10, 5, 7, 30))  # Monday, National Day
    assert not city.post_staffed("p14", local(2026, 8, 3, 7, 30))  # Monday, summer holidays
    # The primary school gate also has an afternoon window.
    assert city.post_staffed("p16", local(2026, 11, 30, 17, 0))
    assert not city.post_staffed("p14", local(2026, 11, 30, 17, 0))


def test_calendars_and_day_sets(city: City) -> None:
    assert set(city.calendar_names) == {"holidays", "school_days"}
    assert city.day_matches("holidays", date(2026, 10, 1))
    assert not city.day_matches("holidays", date(2026, 10, 8))
    assert city.day_matches("weekends", date(2026, 11, 29))
    assert city.day_matches("weekdays", date(2026, 11, 30))
    assert city.day_matches("mon", date(2026, 11, 30))
    assert not city.day_matches("school_days", date(2026, 10, 1))
    # The forest park gate: weekends and holidays, 09:00-18:00.
    assert city.post_staffed("p19", local(2026, 10, 5, 10, 0))  # Monday, but a holiday
    assert not city.post_staffed("p19", local(2026, 10, 12, 10, 0))  # an ordinary Monday
    assert city.post_staffed("p19", local(2026, 10, 17, 10, 0))  # Saturday


def test_staffed_posts(city: City) -> None:
    always = sum(p.around_the_clock for p in city.posts.values())
    at_night = city.staffed_posts(local(2026, 11, 30, 3, 0))
    assert len(at_night) == always
    morning = {p.post_id for p in city.staffed_posts(local(2026, 11, 30, 7, 30))}
    assert {"p11", "p14", "p16"} <= morning
    assert "p09" not in morning


# --- bad city files --------------------------------------------------------------------------


def zone_feature(zone_id: str, ring: list[list[float]], **extra: Any) -> dict[str, Any]:
    properties = {
        "kind": "zone",
        "zone_id": zone_id,
        "region_id": "r1",
        "name": f"Zone {zone_id}",
        "default_target_s": 300,
        **extra,
    }
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def post_feature(post_id: str, zone_id: str, lon: float, lat: float) -> dict[str, Any]:
    properties = {"kind": "post", "post_id": post_id, "zone_id": zone_id, "name": "Post"}
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
    }


def box(lon0: float, lat0: float, lon1: float, lat1: float) -> list[list[float]]:
    return [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]


def small_city() -> dict[str, Any]:
    """Two adjacent zones and a post in the first: a valid file to break in one place."""
    return {
        "type": "FeatureCollection",
        "name": "Test",
        "timezone": "Asia/Shanghai",
        "features": [
            zone_feature("za", box(119.70, 49.20, 119.72, 49.22), custom="kept"),
            zone_feature("zb", box(119.72, 49.20, 119.74, 49.22)),
            post_feature("p1", "za", 119.71, 49.21),
        ],
    }


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "city.geojson"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_small_city_is_valid_and_keeps_extra_properties(tmp_path: Path) -> None:
    city = load_city(write(tmp_path, small_city()))
    assert city.zones["za"].properties["custom"] == "kept"
    assert city.regions == {"r1": ("za", "zb")}
    assert city.posts["p1"].region_id == "r1"


def broken(change: Any) -> str:
    data = small_city()
    change(data)
    with pytest.raises(CityFileError) as caught:
        parse_city_file(copy.deepcopy(data), source="city.geojson")
    return str(caught.value)


def test_missing_zone_id_names_the_feature_and_field() -> None:
    message = broken(lambda d: d["features"][1]["properties"].pop("zone_id"))
    assert "features[1] (zone 'Zone zb')" in message
    assert "properties.zone_id: Field required" in message


def test_unknown_kind_is_rejected() -> None:
    message = broken(lambda d: d["features"][2]["properties"].update(kind="circle"))
    assert "features[2] (post_id 'p1')" in message
    assert "properties.kind: unknown kind 'circle'" in message


def test_post_outside_its_zone_is_rejected() -> None:
    message = broken(lambda d: d["features"][2]["geometry"].update(coordinates=[119.73, 49.21]))
    assert "features[2] (post_id 'p1'): geometry.coordinates:" in message
    assert "not inside its zone 'za'" in message
    assert "it lies in zone 'zb'" in message
    message = broken(lambda d: d["features"][2]["geometry"].update(coordinates=[119.9, 49.21]))
    assert "outside every zone" in message


def test_post_in_an_unknown_zone_is_rejected() -> None:
    message = broken(lambda d: d["features"][2]["properties"].update(zone_id="nope"))
    assert "features[2] (post_id 'p1'): properties.zone_id: no zone has zone_id 'nope'" in message


def test_duplicate_ids_are_rejected() -> None:
    message = broken(lambda d: d["features"][1]["properties"].update(zone_id="za"))
    assert "features[1] (zone_id 'za'): properties.zone_id: duplicate zone_id 'za'" in message
    assert "first at features[0]" in message
    message = broken(lambda d: d["features"].append(post_feature("p1", "za", 119.705, 49.205)))
    assert "features[3] (post_id 'p1'): properties.post_id: duplicate post_id 'p1'" in message


def test_bad_timezone_is_rejected() -> None:
    message = broken(lambda d: d.update(timezone="Mars/Olympus_Mons"))
    assert "timezone: unknown IANA time zone 'Mars/Olympus_Mons'" in message
    for name in ("Asia", "asia/shanghai", "", "../etc/passwd"):
        assert f"timezone: unknown IANA time zone {name!r}" in broken(
            lambda d, name=name: d.update(timezone=name)
        )


def test_latitude_out_of_range_is_rejected() -> None:
    message = broken(lambda d: d["features"][2]["geometry"].update(coordinates=[119.71, 95.0]))
    assert "features[2] (post_id 'p1'): geometry.coordinates:" in message
    assert "latitude 95.0 is out of range" in message
    message = broken(
        lambda d: d["features"][0]["geometry"]["coordinates"][0][1].__setitem__(0, 200)
    )
    assert "features[0] (zone_id 'za'): geometry.coordinates.0.1:" in message
    assert "longitude 200.0 is out of range" in message


def test_bad_geometry_is_rejected() -> None:
    message = broken(lambda d: d["features"][0]["geometry"]["coordinates"][0].pop())
    assert (
        "features[0] (zone_id 'za'): geometry.coordinates.0: linear ring is not closed" in message
    )
    assert "after validation" not in message  # no follow-on noise
    bowtie = [[119.70, 49.20], [119.72, 49.22], [119.72, 49.20], [119.70, 49.22], [119.70, 49.20]]
    message = broken(lambda d: d["features"][0]["geometry"].update(coordinates=[bowtie]))
    assert "features[0] (zone_id 'za'): geometry: invalid polygon: Self-intersection" in message
    message = broken(lambda d: d["features"][2].update(geometry=d["features"][0]["geometry"]))
    assert "features[2] (post_id 'p1'): geometry.type: Input should be 'Point'" in message


def test_overlapping_zones_are_rejected() -> None:
    message = broken(
        lambda d: d["features"][1]["geometry"].update(
            coordinates=[box(119.715, 49.20, 119.74, 49.22)]
        )
    )
    assert "features[1] (zone_id 'zb'): geometry: the zone overlaps zone 'za'" in message


def test_bad_schedules_are_rejected() -> None:
    def schedule(window: dict[str, Any]) -> Any:
        return lambda d: d["features"][2]["properties"].update(schedule=[window])

    message = broken(schedule({"days": ["school_days"], "start": "07:00", "end": "08:00"}))
    assert "features[2] (post_id 'p1'): properties.schedule.0.days.0:" in message
    assert "unknown day or calendar 'school_days'" in message
    message = broken(schedule({"days": ["mon"], "start": "7am", "end": "08:00"}))
    assert "features[2] (post_id 'p1'): properties.schedule.0.start:" in message
    message = broken(schedule({"days": ["mon"], "start": "08:00", "end": "08:00"}))
    assert "properties.schedule.0: start and end are both 08:00" in message


def test_calendars_are_validated() -> None:
    message = broken(
        lambda d: d.update(
            calendars={"terms": {"ranges": [{"start": "2026-03-01", "end": "2026-02-01"}]}}
        )
    )
    assert "calendars.terms.ranges.0: end 2026-02-01 is before start 2026-03-01" in message
    message = broken(
        lambda d: d.update(
            calendars={
                "weekdays": {"dates": ["2026-01-01"]},
                "school": {"except_calendars": ["holiday"]},
                "a": {"except_calendars": ["b"]},
                "b": {"except_calendars": ["a"]},
            }
        )
    )
    assert "calendars.weekdays: the name clashes with the built-in day set" in message
    assert "calendars.school.except_calendars.0: unknown calendar 'holiday'" in message
    assert "calendars.a.except_calendars: excludes itself (a cycle)" in message


def test_every_problem_is_reported_at_once() -> None:
    def two_problems(d: dict[str, Any]) -> None:
        d["features"][0]["properties"]["default_target_s"] = 0
        d["features"][2]["properties"]["name"] = ""

    message = broken(two_problems)
    assert "(2 problems)" in message
    assert "features[0] (zone_id 'za'): properties.default_target_s:" in message
    assert "features[2] (post_id 'p1'): properties.name:" in message


def test_load_city_reports_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ReExportedError, match="cannot read the file"):
        load_city(tmp_path / "missing.geojson")
    path = tmp_path / "bad.geojson"
    path.write_text('{"type": "FeatureCollection",', encoding="utf-8")
    with pytest.raises(CityFileError, match=r"bad\.geojson: not valid JSON"):
        load_city(path)
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(CityFileError, match="expected a GeoJSON FeatureCollection"):
        load_city(path)
    data = small_city()
    data["features"] = [f for f in data["features"] if f["properties"]["kind"] == "post"]
    with pytest.raises(CityFileError, match="no zone features"):
        load_city(write(tmp_path, data))
