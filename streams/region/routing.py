"""Which region an event belongs to. Pure: the routing agent keeps the memory it needs.

- An incident belongs to the region of its zone: the ``zone_id`` it names if the city knows it,
  else the zone its location falls in; outside every zone, the nearest region (zone null).
- A unit belongs to its home region: the ``region_id`` its telemetry names if the city knows
  it, else the home it already has, else the region of its first reported position.
- An update belongs to wherever its incident went.
"""

from __future__ import annotations

from schemas.units import UnitTelemetry
from streams.city.model import City
from streams.region.events import IncidentFacts


def locate_incident(city: City, facts: IncidentFacts) -> tuple[str, str | None]:
    """``(region_id, zone_id)`` of an incident; zone ``None`` outside every zone."""
    if facts.zone_id is not None and facts.zone_id in city.zones:
        return city.zones[facts.zone_id].region_id, facts.zone_id
    return city.region_of_point(facts.lat, facts.lon)


def home_region(city: City, telemetry: UnitTelemetry, known_home: str | None) -> str:
    """The unit's home region. A different ``region_id`` on telemetry is an explicit handoff."""
    named = telemetry.region_id
    if named is not None and named in city.regions:
        return named
    if known_home is not None:
        return known_home
    return city.region_of_point(telemetry.location.lat, telemetry.location.lon)[0]
