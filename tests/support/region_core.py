"""The region core over plain dicts, as intake would feed it: for tests without Kafka.

The worker runs the same ``Router`` and ``RegionProcessor`` over Faust tables.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.alerts import ResponseAlert
from schemas.dispatch import Assignment
from schemas.incidents import IncidentCategory, IncidentUpdate, UpdateKind
from schemas.units import Force, UnitStatus, UnitTelemetry
from streams.city.model import City, load_city
from streams.dispatch.policy import default_policy
from streams.region.events import (
    AnyEvent,
    IncidentEvent,
    IncidentFacts,
    TelemetryEvent,
    TickEvent,
    UpdateEvent,
)
from streams.region.processing import RegionProcessor, RegionTables, Router
from streams.response.config import default_response_config

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
CITY = load_city(None)
#: Central Hailar (zone z05) and points due east of it, ~70 m apart per 0.001 degree of lon.
CENTRE = CITY.zones["z05"].interior_point


def near_centre(east_m: float, north_m: float) -> tuple[float, float]:
    """A point ``east_m`` east and ``north_m`` north of ``CENTRE`` (metres, near enough)."""
    return CENTRE[0] + north_m / 111_320, CENTRE[1] + east_m / 72_800


class Harness:
    """Intake's view: publish events, read assignments. Tables are dicts shared across restarts."""

    def __init__(self, city: City = CITY) -> None:
        self.city = city
        self.tables: dict[str, dict[str, bytes]] = {
            name: {}
            for name in (
                "routes",
                "homes",
                "parked",
                "units",
                "incidents",
                "clocks",
                "incident_watches",
                "post_watches",
            )
        }
        self.restart()
        self.out: list[Assignment] = []

    def restart(self) -> None:
        t = self.tables
        self.router = Router(self.city, t["routes"], t["homes"], t["parked"])
        self.processor = RegionProcessor(
            self.city,
            default_policy(),
            RegionTables(
                units=t["units"],
                incidents=t["incidents"],
                clocks=t["clocks"],
                incident_watches=t["incident_watches"],
                post_watches=t["post_watches"],
            ),
            response_config=default_response_config(),
            wall_clock=lambda: None,  # every input is read at its own event time
            lateness=timedelta(seconds=5),
            live_window=timedelta(minutes=3),
        )
        self.alerts: list[ResponseAlert] = []

    def send(self, event: AnyEvent) -> list[Assignment]:
        produced: list[Assignment] = []
        for routed in self.router.route(event).forward:
            output = self.processor.process(routed)
            produced += output.dispatch.assignments
            self.alerts += output.response.alerts
        self.out += produced
        return produced

    def unit(
        self,
        unit_id: str,
        force: Force,
        east_m: float = 0.0,
        *,
        at: timedelta,
        status: UnitStatus = UnitStatus.AVAILABLE,
        north_m: float = 0.0,
        post_id: str | None = None,
    ) -> list[Assignment]:
        lat, lon = near_centre(east_m, north_m)
        return self.send(
            TelemetryEvent(
                telemetry=UnitTelemetry(
                    unit_id=unit_id,
                    at=T0 + at,
                    location={"lat": lat, "lon": lon},
                    status=status,
                    force=force,
                    post_id=post_id,
                )
            )
        )

    def incident(
        self,
        incident_id: str,
        *,
        at: timedelta,
        category: str = "public_order",
        priority: int = 2,
        east_m: float = 0.0,
        north_m: float = 0.0,
    ) -> list[Assignment]:
        lat, lon = near_centre(east_m, north_m)
        return self.send(
            IncidentEvent(
                incident=IncidentFacts(
                    incident_id=incident_id,
                    reported_at=T0 + at,
                    category=IncidentCategory(category),
                    priority=priority,
                    lat=lat,
                    lon=lon,
                    zone_id=None,
                )
            )
        )

    def update(
        self, incident_id: str, kind: str, unit_id: str | None = None, *, at: timedelta
    ) -> list[Assignment]:
        return self.send(
            UpdateEvent(
                update=IncidentUpdate(
                    incident_id=incident_id, at=T0 + at, kind=UpdateKind(kind), unit_id=unit_id
                )
            )
        )

    def tick(self, at: timedelta) -> list[Assignment]:
        produced: list[Assignment] = []
        for region in sorted(self.city.regions):
            output = self.processor.process(TickEvent(region_id=region, wall=T0 + at))
            produced += output.dispatch.assignments
            self.alerts += output.response.alerts
        self.out += produced
        return produced


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def units_of(records: list[Assignment]) -> list[str | None]:
    return [r.unit_id for r in records]
