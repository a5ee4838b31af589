"""Contract of ``units.telemetry`` (input from mobile terminals and vehicle trackers).

An input: unknown extra fields are ignored (tolerant reader, see :mod:`schemas.common`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, Strict

from schemas.common import EventId, EventTime, Identifier, InputModel, Location

__all__ = ["Force", "UnitStatus", "UnitTelemetry"]


class Force(StrEnum):
    """The force a unit belongs to (队所社义 plus partner services).

    ``swat`` 队 special police, ``station`` 所 case-handling team, ``community`` 社
    community policing, ``volunteer`` 义 peace volunteers (never sent alone to crime or
    danger), ``traffic`` traffic police, ``armed_police`` armed police, ``fire`` fire and rescue.
    """

    SWAT = "swat"
    STATION = "station"
    COMMUNITY = "community"
    VOLUNTEER = "volunteer"
    TRAFFIC = "traffic"
    ARMED_POLICE = "armed_police"
    FIRE = "fire"


class UnitStatus(StrEnum):
    """A unit's status as its terminal reports it.

    ``off_duty`` and ``out_of_service`` take the unit out of dispatch. ``available`` does not
    free a unit that dispatch has committed to an open incident (terminals lag).
    """

    AVAILABLE = "available"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    RETURNING = "returning"
    OFF_DUTY = "off_duty"
    OUT_OF_SERVICE = "out_of_service"


class UnitTelemetry(InputModel):
    """A unit's position and status report. Kafka key: ``unit_id``.

    Tolerant reader: unknown extra fields (heading, accuracy, battery ...) are ignored.
    Telemetry older than what patrolflow already holds for the unit is ignored.
    """

    model_config = ConfigDict(
        title="UnitTelemetry",
        json_schema_extra={
            "examples": [
                {
                    "unit_id": "u-station-03-2",
                    "at": "2025-05-01T20:15:30+08:00",
                    "location": {"lat": 49.2150, "lon": 119.7411},
                    "status": "available",
                    "force": "station",
                    "speed_mps": 8.5,
                    "region_id": "hailar",
                },
                {
                    "unit_id": "u-swat-01",
                    "at": "2025-05-01T20:15:31+08:00",
                    "location": {"lat": 49.2101, "lon": 119.7290},
                    "status": "available",
                    "force": "swat",
                    "post_id": "p03",
                    "speed_mps": 0.0,
                },
            ]
        },
    )

    unit_id: Identifier = Field(description="The unit (vehicle, foot patrol, post team).")
    at: EventTime = Field(description="When the position was taken (event time).")
    location: Location = Field(description="Where the unit is.")
    status: UnitStatus = Field(description="Status reported by the unit's terminal.")
    force: Force = Field(description="The force the unit belongs to.")
    post_id: Identifier | None = Field(
        default=None, description="The fixed post the unit is staffing, if any."
    )
    speed_mps: Annotated[float, Strict()] | None = Field(
        default=None, ge=0.0, le=150.0, allow_inf_nan=False, description="Speed in m/s."
    )
    region_id: Identifier | None = Field(
        default=None,
        description="The unit's home dispatch region; absent: the region of its first position.",
    )
    event_id: EventId | None = Field(
        default=None,
        description="Optional unique id of this event, used for de-duplication. Without it "
        "patrolflow uses the CloudEvents headers ce_id + ce_source, else unit_id + at.",
    )
