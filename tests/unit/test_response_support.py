"""Shared harness of the response-engine tests (no tests here).

``Run`` plays the region core's part exactly as the lead wires it: for every input it
observes the event time, calls ``on_clock(max event time - lateness)`` and then the input;
``tick`` is a live wall-clock tick. Every watch the effects name is persisted as bytes in
dict "tables", and ``restore`` rebuilds the engine from those bytes only.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.alerts import AlertKind, ResponseAlert, Severity, alert_id_for
from schemas.city import parse_city_file
from schemas.dispatch import Assignment, AssignmentOutcome, assignment_id_for
from schemas.incidents import IncidentCategory, IncidentUpdate, UpdateKind
from schemas.units import Force, UnitStatus
from streams.city.geo import METRES_PER_DEGREE
from streams.city.model import City
from streams.dispatch.records import UnitRecord
from streams.region.events import IncidentFacts
from streams.response import (
    IncidentWatch,
    Interval,
    PostWatch,
    RegionResponse,
    ResponseConfig,
    ResponseEffects,
    Target,
    UnitWatch,
    default_response_config,
)
from streams.response.alerting import instance_of

REGION = "r1"
LATENESS = timedelta(seconds=5)
#: 2026-05-04 (a Monday) 06:50 in Shanghai: ten minutes before the windowed post opens.
T0 = datetime(2026, 5, 4, 6, 50, tzinfo=UTC) - timedelta(hours=8)
#: Centre of zone zA (urban); zone zB (suburban) lies east of it; zC is another region.
CENTRE = (49.2, 119.75)


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def offset(
    base: tuple[float, float], north_m: float = 0.0, east_m: float = 0.0
) -> tuple[float, float]:
    lat0, lon0 = base
    return (
        lat0 + north_m / METRES_PER_DEGREE,
        lon0 + east_m / (METRES_PER_DEGREE * math.cos(math.radians(lat0))),
    )


def _square(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


#: Posts of the test city: pA around the clock at the centre; pW 3 km north, staffed
#: 07:00-08:00 local every day; pN 3 km south, 22:00-02:00 (crossing midnight).
POST_A = CENTRE
POST_W = offset(CENTRE, north_m=3000)
POST_N = offset(CENTRE, north_m=-3000)


def make_city(posts: list[dict[str, Any]] | None = None) -> City:
    if posts is None:
        posts = [
            {"post_id": "pA", "at": POST_A},
            {
                "post_id": "pW",
                "at": POST_W,
                "schedule": [{"days": ["daily"], "start": "07:00", "end": "08:00"}],
            },
            {
                "post_id": "pN",
                "at": POST_N,
                "schedule": [{"days": ["daily"], "start": "22:00", "end": "02:00"}],
            },
        ]
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "properties": {
                "kind": "zone",
                "zone_id": zone,
                "region_id": region,
                "name": zone,
                "area_class": cls,
                "default_target_s": target,
            },
            "geometry": _square(*box),
        }
        for zone, region, cls, target, box in (
            ("zA", "r1", "urban", 300, (119.60, 49.10, 119.90, 49.30)),
            ("zB", "r1", "suburban", 600, (119.90, 49.10, 120.30, 49.30)),
            ("zC", "r2", "urban", 300, (119.60, 49.30, 119.90, 49.40)),
        )
    ]
    for post in posts:
        props: dict[str, Any] = {
            "kind": "post",
            "post_id": post["post_id"],
            "zone_id": post.get("zone_id", "zA"),
            "name": post["post_id"],
            "post_kind": "square",
        }
        if "schedule" in post:
            props["schedule"] = post["schedule"]
        lat, lon = post["at"]
        features.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
            }
        )
    data = {
        "type": "FeatureCollection",
        "name": "test city",
        "timezone": "Asia/Shanghai",
        "features": features,
    }
    return City(parse_city_file(data, source="test"), source="test")


CITY = make_city()


class Run:
    """The region core's calls into one engine, with dict tables and a restorable state."""

    def __init__(
        self,
        city: City = CITY,
        config: ResponseConfig | None = None,
        *,
        region: str = REGION,
        auto_clock: bool = True,
    ) -> None:
        self.city = city
        self.config = config or default_response_config()
        self.region = region
        self.auto_clock = auto_clock
        self.tables: dict[str, dict[str, bytes]] = {"incidents": {}, "posts": {}, "units": {}}
        self.engine = RegionResponse(region, city, self.config)
        self.max_t: datetime | None = None
        self.alerts: list[ResponseAlert] = []
        self.intervals: list[Interval] = []
        self.totals = ResponseEffects()

    # --- plumbing --------------------------------------------------------------------------

    def _take(self, fx: ResponseEffects) -> list[ResponseAlert]:
        e = self.engine
        for i in fx.incidents:
            self.tables["incidents"][i] = e.incidents[i].to_bytes()
        for p in fx.posts:
            self.tables["posts"][p] = e.posts[p].to_bytes()
        for u in fx.units:
            self.tables["units"][u] = e.units[u].to_bytes()
        self.alerts += fx.alerts
        for a in fx.alerts:
            KIND_OF[a.alert_id] = a.kind
        self.intervals += fx.intervals
        self.totals.merge(fx)
        return list(fx.alerts)

    def _observe(self, at: datetime) -> list[ResponseAlert]:
        if self.max_t is None or at > self.max_t:
            self.max_t = at
        if not self.auto_clock:
            return []
        return self._take(self.engine.on_clock(self.max_t - LATENESS))

    def tick(self, wall: datetime) -> list[ResponseAlert]:
        """A live tick: the watermark follows the wall clock."""
        return self._take(self.engine.on_clock(wall - LATENESS))

    def clock(self, watermark: datetime) -> list[ResponseAlert]:
        return self._take(self.engine.on_clock(watermark))

    def restore(self) -> None:
        """Restart: a new engine from the table bytes only."""
        t = self.tables
        self.engine = RegionResponse(
            self.region,
            self.city,
            self.config,
            incidents=[IncidentWatch.model_validate_json(b) for b in t["incidents"].values()],
            posts=[PostWatch.model_validate_json(b) for b in t["posts"].values()],
            units=[UnitWatch.model_validate_json(b) for b in t["units"].values()],
        )

    # --- inputs ----------------------------------------------------------------------------

    def incident(
        self,
        incident_id: str,
        at: datetime,
        where: tuple[float, float] = CENTRE,
        *,
        category: str = "public_order",
        priority: int = 2,
    ) -> tuple[Target, list[ResponseAlert]]:
        zone = self.city.zone_at(*where)
        facts = IncidentFacts(
            incident_id=incident_id,
            reported_at=at,
            category=IncidentCategory(category),
            priority=priority,
            lat=where[0],
            lon=where[1],
            zone_id=zone.zone_id if zone else None,
        )
        out = self._observe(at)
        target = self.engine.target(facts)
        return target, out + self._take(self.engine.on_incident(facts, target))

    def record(
        self,
        incident_id: str,
        at: datetime,
        *,
        outcome: AssignmentOutcome = AssignmentOutcome.ASSIGNED,
        unit: str | None = None,
        slot: int = 0,
        attempt: int = 1,
        eta_s: float | None = None,
    ) -> list[ResponseAlert]:
        """A dispatch record, as dispatch writes it (never late: no clock call of its own)."""
        watch = self.engine.incidents[incident_id]
        a = Assignment(
            assignment_id=assignment_id_for(incident_id, slot, attempt),
            incident_id=incident_id,
            slot=slot,
            attempt=attempt,
            outcome=outcome,
            unit_id=unit,
            force=Force.STATION if unit else None,
            zone_id=watch.zone_id,
            region_id=self.region,
            assigned_at=at,
            eta_s=eta_s,
            distance_m=None,
            target_s=watch.target_s,
            reason="test",
        )
        return self._take(self.engine.on_assignment(a))

    def update(
        self, incident_id: str, kind: str, at: datetime, unit: str | None = None
    ) -> list[ResponseAlert]:
        out = self._observe(at)
        u = IncidentUpdate(incident_id=incident_id, at=at, kind=UpdateKind(kind), unit_id=unit)
        return out + self._take(self.engine.on_update(u))

    def fix(
        self,
        unit: str,
        at: datetime,
        where: tuple[float, float],
        *,
        speed: float | None = 0.0,
        status: UnitStatus = UnitStatus.AVAILABLE,
    ) -> list[ResponseAlert]:
        out = self._observe(at)
        zone = self.city.zone_at(*where)
        record = UnitRecord(
            unit_id=unit,
            region_id=self.region,
            force=Force.STATION,
            lat=where[0],
            lon=where[1],
            status=status,
            last_seen=at,
            speed_mps=speed,
            zone_id=zone.zone_id if zone else None,
        )
        return out + self._take(self.engine.on_unit(record))


# --- expected alerts -------------------------------------------------------------------------

Row = tuple[str, str, str, datetime, str | None]
#: alert_id -> kind of every alert any run emitted (to filter resolutions by the alert's kind).
KIND_OF: dict[str, AlertKind] = {}


def rows(alerts: list[ResponseAlert], *kinds: AlertKind) -> list[Row]:
    """``(kind, severity, alert_id, raised_at, resolves_alert_id)``; ``kinds`` keeps alerts of
    those kinds and the resolutions of such alerts."""

    def kind(a: ResponseAlert) -> AlertKind | None:
        return KIND_OF.get(a.resolves_alert_id) if a.resolves_alert_id else a.kind

    return [
        (a.kind.value, a.severity.value, a.alert_id, a.raised_at, a.resolves_alert_id)
        for a in alerts
        if not kinds or kind(a) in kinds
    ]


def raised(kind: AlertKind, severity: Severity, at: datetime, alert_id: str) -> Row:
    return (kind.value, severity.value, alert_id, at, None)


def resolved(severity: Severity, at: datetime, alert_id: str, **subject: str | None) -> Row:
    rid = alert_id_for(AlertKind.RESOLVED, instance=alert_id, **subject)
    return ("resolved", severity.value, rid, at, alert_id)


def breach_id(incident_id: str) -> str:
    return alert_id_for(AlertKind.RESPONSE_BREACH, incident_id=incident_id)


def post_alert_id(post_id: str, origin: datetime) -> str:
    return alert_id_for(AlertKind.POST_UNCOVERED, post_id=post_id, instance=instance_of(origin))


def stale_id(unit_id: str, last_seen: datetime) -> str:
    return alert_id_for(AlertKind.TELEMETRY_STALE, unit_id=unit_id, instance=instance_of(last_seen))
