"""Contract of ``dispatch.assignments``: one record per dispatch decision (an output).

Key: ``incident_id``, so every decision about an incident is in one partition, in order.
Outputs forbid extra fields and always carry every field (``null`` when empty).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final

from pydantic import ConfigDict, Field, Strict, model_validator

from schemas.common import (
    HexId,
    Identifier,
    OutputModel,
    Reason,
    Timestamp,
    deterministic_id,
)
from schemas.units import Force

__all__ = ["Assignment", "AssignmentOutcome", "assignment_id_for"]


class AssignmentOutcome(StrEnum):
    """The result of one dispatch decision for one slot of an incident's run card.

    ``assigned``: ``unit_id`` is now committed to the incident.
    ``unassigned``: no eligible unit now (``unit_id`` null); retried when a unit frees up.
    ``out_of_area``: the incident lies outside every zone (``zone_id`` null); it was routed
    to the nearest region; ``unit_id`` is set if a unit was still sent.
    ``unfilled``: the slot's dispatch attempts are exhausted (``unit_id`` null).
    ``not_dispatched``: the category is never dispatched (``invalid``, ``non_police``).
    ``manual``: a person upstream assigned ``unit_id`` (a ``dispatched`` update); recorded so
    that the unit counts as committed. ``force`` is null if the unit has not reported to
    this region yet (it is committed from its first report on).
    """

    ASSIGNED = "assigned"
    UNASSIGNED = "unassigned"
    OUT_OF_AREA = "out_of_area"
    UNFILLED = "unfilled"
    NOT_DISPATCHED = "not_dispatched"
    MANUAL = "manual"


#: Outcomes that always name a unit, and outcomes that never do.
_WITH_UNIT: Final = frozenset({AssignmentOutcome.ASSIGNED, AssignmentOutcome.MANUAL})
_WITHOUT_UNIT: Final = frozenset(
    {AssignmentOutcome.UNASSIGNED, AssignmentOutcome.UNFILLED, AssignmentOutcome.NOT_DISPATCHED}
)


def assignment_id_for(incident_id: str, slot: int, attempt: int) -> str:
    """The deterministic id of decision (incident, slot, attempt): a replay writes the same id."""
    return deterministic_id("assignment", incident_id, str(slot), str(attempt))


class Assignment(OutputModel):
    """One dispatch decision. Key: ``incident_id``.

    ``assignment_id`` is :func:`assignment_id_for` (incident, slot, attempt), so a retry or a
    replay after a crash writes the same id: consumers de-duplicate on it.
    """

    model_config = ConfigDict(
        title="Assignment",
        json_schema_extra={
            "examples": [
                {
                    "assignment_id": assignment_id_for("HLR-20250501-000123", 0, 1),
                    "incident_id": "HLR-20250501-000123",
                    "slot": 0,
                    "attempt": 1,
                    "outcome": "assigned",
                    "unit_id": "u-station-03-2",
                    "force": "station",
                    "zone_id": "z07",
                    "region_id": "hailar",
                    "assigned_at": "2025-05-01T12:15:03.250000Z",
                    "eta_s": 142.0,
                    "distance_m": 910.5,
                    "target_s": 180,
                    "reason": "nearest_eta",
                    "post_uncovered": False,
                    "post_id": None,
                }
            ]
        },
    )

    assignment_id: HexId = Field(description="Deterministic id of (incident, slot, attempt).")
    incident_id: Identifier = Field(description="The incident.")
    slot: Annotated[int, Strict()] = Field(
        ge=0, le=63, description="Index of the unit slot in the incident's run card (from 0)."
    )
    attempt: Annotated[int, Strict()] = Field(
        ge=1, le=100, description="Dispatch attempt for this slot (from 1; +1 per re-dispatch)."
    )
    outcome: AssignmentOutcome = Field(description="What the decision was.")
    unit_id: Identifier | None = Field(description="The unit sent; null when none was.")
    force: Force | None = Field(
        description="The unit's force; when no unit was sent, the force the slot asks for; "
        "null for a manual dispatch of a unit that has not reported to the region yet."
    )
    zone_id: Identifier | None = Field(
        description="The incident's zone; null when it lies outside every zone."
    )
    region_id: Identifier = Field(description="The dispatch region that decided.")
    assigned_at: Timestamp = Field(description="Event time of the decision.")
    eta_s: Annotated[float, Strict()] | None = Field(
        ge=0.0, allow_inf_nan=False, description="Estimated time of arrival in seconds."
    )
    distance_m: Annotated[float, Strict()] | None = Field(
        ge=0.0, allow_inf_nan=False, description="Estimated route distance in metres."
    )
    target_s: Annotated[int, Strict()] | None = Field(
        gt=0, le=86_400, description="Response target in seconds (circle or zone default)."
    )
    reason: Reason = Field(
        description="Short machine-readable reason, e.g. nearest_eta, no_eligible_unit, "
        "declined, ack_timeout, attempts_exhausted, outside_all_zones."
    )
    post_uncovered: bool = Field(
        default=False, description="True when sending this unit leaves its fixed post empty."
    )
    post_id: Identifier | None = Field(
        default=None, description="The post the unit was taken from, if any."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Assignment:
        if self.outcome in _WITH_UNIT and self.unit_id is None:
            raise ValueError(f"outcome {self.outcome.value} needs unit_id")
        if self.outcome is AssignmentOutcome.ASSIGNED and self.force is None:
            raise ValueError("outcome assigned needs force")  # the engine knows its units
        if self.outcome in _WITHOUT_UNIT and self.unit_id is not None:
            raise ValueError(f"outcome {self.outcome.value} must not name a unit")
        if self.post_uncovered and self.post_id is None:
            raise ValueError("post_uncovered needs post_id")
        return self

    def kafka_key(self) -> str:
        return self.incident_id
