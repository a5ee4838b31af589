"""Contracts of ``incidents.reported`` and ``incidents.updates`` (inputs from 110 call systems).

Both are inputs: unknown extra fields are ignored (tolerant reader, see :mod:`schemas.common`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final

from pydantic import ConfigDict, Field, Strict, model_validator

from schemas.common import PERSONAL_DATA, EventId, EventTime, Identifier, InputModel, Location

__all__ = [
    "CASE_KINDS",
    "CaseType",
    "IncidentCategory",
    "IncidentReported",
    "IncidentUpdate",
    "UpdateKind",
]


class IncidentCategory(StrEnum):
    """Category of a 110 incident.

    ``invalid``: a call found to be no incident (counted, never dispatched).
    ``non_police``: diverted to another service (counted, never dispatched).
    """

    CRIMINAL = "criminal"
    PUBLIC_ORDER = "public_order"
    TRAFFIC = "traffic"
    FIRE = "fire"
    RESCUE = "rescue"
    DISPUTE = "dispute"
    OTHER = "other"
    INVALID = "invalid"
    NON_POLICE = "non_police"


class UpdateKind(StrEnum):
    """What happened to an incident.

    Lifecycle: ``dispatched`` (a person upstream assigned a unit), ``acknowledged`` (签收),
    ``declined``, ``en_route`` (出警), ``arrived`` (到场), ``cleared`` (处置完毕),
    ``feedback`` (反馈 filed), ``closed`` (结警), ``cancelled``.
    Cases: ``case_filed`` (立案 / 受理) and ``case_solved`` (破案), which need ``case_id`` and
    ``case_type``.
    """

    DISPATCHED = "dispatched"
    ACKNOWLEDGED = "acknowledged"
    DECLINED = "declined"
    EN_ROUTE = "en_route"
    ARRIVED = "arrived"
    CLEARED = "cleared"
    FEEDBACK = "feedback"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    CASE_FILED = "case_filed"
    CASE_SOLVED = "case_solved"


#: Update kinds that concern a case and need ``case_id`` and ``case_type``.
CASE_KINDS: Final = frozenset({UpdateKind.CASE_FILED, UpdateKind.CASE_SOLVED})


class CaseType(StrEnum):
    """Kind of case: ``criminal`` (刑事: filed, solved) or ``administrative`` (行政: accepted)."""

    CRIMINAL = "criminal"
    ADMINISTRATIVE = "administrative"


_EVENT_ID_DESCRIPTION = (
    "Optional unique id of this event, used for de-duplication. Without it patrolflow uses "
    "the CloudEvents headers ce_id + ce_source, else a natural key from the event's fields."
)


class IncidentReported(InputModel):
    """An incident reported by a 110 centre (接警). Kafka key: ``incident_id``.

    Tolerant reader: unknown extra fields are ignored. ``summary`` and ``caller_phone`` are
    personal data: never in repr, never in validation errors.
    """

    model_config = ConfigDict(
        title="IncidentReported",
        json_schema_extra={
            "examples": [
                {
                    "incident_id": "HLR-20250501-000123",
                    "reported_at": "2025-05-01T20:15:03+08:00",
                    "category": "dispute",
                    "priority": 2,
                    "location": {"lat": 49.2122, "lon": 119.7366},
                    "zone_id": "z07",
                    "source": "hailar-110",
                    "event_id": "0f8e2d7c-5b1a-4c3e-9d2f-7a6b5c4d3e2f",
                }
            ]
        },
    )

    incident_id: Identifier = Field(description="Incident id, unique within the source centre.")
    reported_at: EventTime = Field(description="When the call was received (event time).")
    category: IncidentCategory = Field(description="Incident category.")
    priority: Annotated[int, Strict()] = Field(
        ge=1, le=3, description="1 = emergency, 2 = urgent, 3 = routine."
    )
    location: Location = Field(description="Where help is needed.")
    zone_id: Identifier | None = Field(
        default=None,
        description="Patrol zone; when absent patrolflow resolves it from the location.",
    )
    source: Identifier = Field(description="Which 110 centre reported the incident.")
    summary: str | None = Field(
        default=None,
        max_length=2000,
        repr=False,
        description="Free-text summary of the call. Personal data.",
        json_schema_extra=PERSONAL_DATA,
    )
    caller_phone: str | None = Field(
        default=None,
        max_length=32,
        repr=False,
        description="Caller's phone number. Personal data.",
        json_schema_extra=PERSONAL_DATA,
    )
    event_id: EventId | None = Field(default=None, description=_EVENT_ID_DESCRIPTION)


class IncidentUpdate(InputModel):
    """A lifecycle or case event of an incident. Kafka key: ``incident_id``.

    Tolerant reader: unknown extra fields are ignored. ``case_filed`` and ``case_solved`` need
    ``case_id`` and ``case_type``; other kinds may omit them.
    """

    model_config = ConfigDict(
        title="IncidentUpdate",
        json_schema_extra={
            "examples": [
                {
                    "incident_id": "HLR-20250501-000123",
                    "at": "2025-05-01T20:16:10+08:00",
                    "kind": "acknowledged",
                    "unit_id": "u-station-03-2",
                },
                {
                    "incident_id": "HLR-20250501-000123",
                    "at": "2025-05-02T09:30:00+08:00",
                    "kind": "case_filed",
                    "case_id": "A2025-0417",
                    "case_type": "criminal",
                    "event_id": "upd-77120",
                },
            ]
        },
    )

    incident_id: Identifier = Field(description="The incident this event belongs to.")
    at: EventTime = Field(description="When it happened (event time).")
    kind: UpdateKind = Field(description="What happened.")
    unit_id: Identifier | None = Field(
        default=None, description="The unit concerned (dispatched, acknowledged, arrived ...)."
    )
    case_id: Identifier | None = Field(
        default=None, description="Case id; required for case_filed and case_solved."
    )
    case_type: CaseType | None = Field(
        default=None, description="Case type; required for case_filed and case_solved."
    )
    event_id: EventId | None = Field(default=None, description=_EVENT_ID_DESCRIPTION)

    @model_validator(mode="after")
    def _case_kinds_name_the_case(self) -> IncidentUpdate:
        if self.kind in CASE_KINDS and (self.case_id is None or self.case_type is None):
            raise ValueError(f"{self.kind.value} needs case_id and case_type")
        return self
