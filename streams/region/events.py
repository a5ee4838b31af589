"""Internal records of the region stream (not part of the public wire contract).

Personal data never enters the internal topics: incidents travel as ``IncidentFacts``, the
dispatch-relevant fields of a report without ``summary`` or ``caller_phone``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from schemas.incidents import CaseType, IncidentCategory, IncidentReported, IncidentUpdate
from schemas.units import UnitTelemetry
from streams.state_model import share_fields_set


class _Internal(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IncidentFacts(_Internal):
    def model_post_init(self, context: Any, /) -> None:  # kept per open incident
        share_fields_set(self)

    incident_id: str
    reported_at: datetime
    category: IncidentCategory
    priority: int
    lat: float
    lon: float
    zone_id: str | None
    source: str | None = None

    @classmethod
    def of(cls, report: IncidentReported, zone_id: str | None) -> IncidentFacts:
        return cls(
            incident_id=report.incident_id,
            reported_at=report.reported_at,
            category=report.category,
            priority=report.priority,
            lat=report.location.lat,
            lon=report.location.lon,
            zone_id=zone_id,
            source=report.source,
        )


class IncidentEvent(_Internal):
    kind: Literal["incident"] = "incident"
    #: ``None`` on the routing topic; the routing agent fills it in.
    region_id: str | None = None
    incident: IncidentFacts


class UpdateEvent(_Internal):
    kind: Literal["update"] = "update"
    region_id: str | None = None
    update: IncidentUpdate


class TelemetryEvent(_Internal):
    kind: Literal["telemetry"] = "telemetry"
    region_id: str | None = None
    telemetry: UnitTelemetry


class TickEvent(_Internal):
    kind: Literal["tick"] = "tick"
    region_id: str
    wall: datetime


RegionEvent = Annotated[
    IncidentEvent | UpdateEvent | TelemetryEvent | TickEvent, Field(discriminator="kind")
]
REGION_EVENT: TypeAdapter[IncidentEvent | UpdateEvent | TelemetryEvent | TickEvent] = TypeAdapter(
    RegionEvent
)


AnyEvent = IncidentEvent | UpdateEvent | TelemetryEvent | TickEvent


class CaseEvent(_Internal):
    """A case filed or solved, with the zone and region of its incident (from the region core).

    Travels on ``<app>-cases`` to the clearance ledger; no personal data.
    """

    kind: Literal["case_filed", "case_solved"]
    case_id: str
    case_type: CaseType
    incident_id: str
    zone_id: str | None
    region_id: str
    at: datetime

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class ArrivalFact(_Internal):
    """An incident's first arrival judged against its target (the ``response`` interval).

    Sent again, with the same ``incident_id``, when a late event corrects the first arrival;
    the ledger keeps one per incident (the latest). ``at`` is the incident's report time: its
    local day is the day the arrival is counted on, so a correction never moves it.
    """

    kind: Literal["first_arrival"] = "first_arrival"
    incident_id: str
    zone_id: str | None
    region_id: str
    at: datetime
    tier: str
    target_s: int
    seconds: float
    within_target: bool
    inferred: bool = False

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class ReportedFact(_Internal):
    """An incident reported (its first report only), by category, for the clearance ledger."""

    kind: Literal["incident_reported"] = "incident_reported"
    incident_id: str
    category: IncidentCategory
    zone_id: str | None
    region_id: str
    at: datetime

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


#: What travels on ``<app>-cases``: case facts and the incident facts clearance counts.
LedgerFact = CaseEvent | ArrivalFact | ReportedFact
LEDGER_FACT: TypeAdapter[CaseEvent | ArrivalFact | ReportedFact] = TypeAdapter(
    Annotated[LedgerFact, Field(discriminator="kind")]
)


def routing_key(event: AnyEvent) -> bytes:
    """Key on the routing topic: the entity whose memory routing needs."""
    if isinstance(event, IncidentEvent):
        return f"incident:{event.incident.incident_id}".encode()
    if isinstance(event, UpdateEvent):
        return f"incident:{event.update.incident_id}".encode()
    if isinstance(event, TelemetryEvent):
        return f"unit:{event.telemetry.unit_id}".encode()
    return f"region:{event.region_id}".encode()


def event_time(event: AnyEvent) -> datetime:
    if isinstance(event, IncidentEvent):
        return event.incident.reported_at
    if isinstance(event, UpdateEvent):
        return event.update.at
    if isinstance(event, TelemetryEvent):
        return event.telemetry.at
    return event.wall


def encode(event: AnyEvent) -> bytes:
    return event.model_dump_json().encode()


def decode(value: bytes) -> AnyEvent:
    return REGION_EVENT.validate_json(value)
