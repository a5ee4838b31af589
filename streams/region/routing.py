"""Which region an event belongs to. Pure: the routing agent keeps the memory it needs.

- An incident belongs to the region of its zone: the ``zone_id`` it names if the city knows it,
  else the zone its location falls in; outside every zone, the nearest region (zone null).
- A unit belongs to its home region: the ``region_id`` its telemetry names if the city knows
  it, else the home it already has, else the region of its first reported position.
- An update belongs to wherever its incident went.

Routing also drops a lifecycle update it has routed before (:func:`seen_before`): most
repeats change nothing anyway (a second report of an incident, an older telemetry report, a
second acknowledgement), but a ``dispatched`` or ``declined`` replayed behind a later decision
would undo it.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Final

import orjson

from schemas.common import deterministic_id
from schemas.incidents import CASE_KINDS, IncidentUpdate
from schemas.units import UnitTelemetry
from streams.city.model import City
from streams.region.events import IncidentFacts

#: Update ids remembered per incident (a replay behind more later updates than this passes).
UPDATE_IDS_KEPT: Final = 64


def locate_incident(city: City, facts: IncidentFacts) -> tuple[str, str | None]:
    """``(region_id, zone_id)`` of an incident; zone ``None`` outside every zone."""
    if facts.zone_id is not None and facts.zone_id in city.zones:
        return city.zones[facts.zone_id].region_id, facts.zone_id
    return city.region_of_point(facts.lat, facts.lon)


def home_region(
    city: City,
    telemetry: UnitTelemetry,
    known_home: str | None,
    known_since: datetime | None = None,
) -> str:
    """The unit's home region. A different ``region_id`` on telemetry is an explicit handoff,
    unless the report is not newer than the one that set the known home (``known_since``): a
    replayed or late report must not hand the unit back (it would be dispatchable twice)."""
    named = telemetry.region_id
    if named is not None and named in city.regions:
        stale = known_since is not None and telemetry.at <= known_since
        return known_home if known_home is not None and stale else named
    if known_home is not None:
        return known_home
    return city.region_of_point(telemetry.location.lat, telemetry.location.lon)[0]


def encode_home(region_id: str, since: datetime) -> bytes:
    """A unit's home as kept by routing: the region and the time of the report that set it."""
    return f"{region_id} {since.isoformat()}".encode()


def decode_home(value: bytes | None) -> tuple[str | None, datetime | None]:
    """``(region_id, since)``; ``since`` is None for homes saved before it was kept."""
    if value is None:
        return None, None
    region_id, _, since = value.decode().partition(" ")
    return region_id, datetime.fromisoformat(since) if since else None


def update_id(update: IncidentUpdate) -> str:
    """The de-duplication id of an update: its ``event_id`` (intake puts the CloudEvents id
    there when the body has none), else a natural key from its own fields."""
    if update.event_id is not None:
        return update.event_id
    at = update.at.astimezone(UTC).isoformat()  # one instant, whatever offset it was sent in
    parts = (update.incident_id, update.kind.value, update.unit_id or "", update.case_id or "")
    return "nk:" + deterministic_id(*parts, at)


def seen_before(seen: MutableMapping[str, bytes], update: IncidentUpdate) -> bool:
    """Whether ``update`` was routed before; remembers it when not.

    Case events are left alone: the clearance ledger keeps the first filing and solve of a
    case and counts a repeat as an anomaly, which upstream wants to see.
    """
    if update.kind in CASE_KINDS:
        return False
    ident = update_id(update)
    ids: list[str] = orjson.loads(seen.get(update.incident_id, b"[]"))
    if ident in ids:
        return True
    seen[update.incident_id] = orjson.dumps([*ids, ident][-UPDATE_IDS_KEPT:])
    return False
