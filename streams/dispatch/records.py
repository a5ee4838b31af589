"""Durable dispatch state of a region: what the unit and incident tables hold.

Plain pydantic models serialised as JSON into Faust tables (bytes in, bytes out), so the state
survives restart and rebalance through the tables' changelogs.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from schemas.units import Force, UnitStatus
from streams.region.events import IncidentFacts
from streams.state_model import share_fields_set

#: Telemetry statuses that take a unit out of new work (dispatch owns the rest).
NO_NEW_WORK = frozenset({UnitStatus.OFF_DUTY, UnitStatus.OUT_OF_SERVICE})


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=False)

    def model_post_init(self, context: Any, /) -> None:
        share_fields_set(self)  # ~45% less memory per open incident (see state_model)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_defaults=True).encode()


class UnitRecord(_Record):
    unit_id: str
    region_id: str
    force: Force
    lat: float
    lon: float
    status: UnitStatus
    last_seen: datetime
    post_id: str | None = None
    zone_id: str | None = None
    speed_mps: float | None = None
    #: The open incident (and slot) this unit is committed to; dispatch owns this.
    committed_to: str | None = None
    committed_slot: int | None = None

    @property
    def free(self) -> bool:
        """Could take new work: not committed and not off duty or out of service."""
        return self.committed_to is None and self.status not in NO_NEW_WORK


class SlotState(StrEnum):
    PENDING = "pending"  # no unit yet: retried when one frees up
    ASSIGNED = "assigned"
    UNFILLED = "unfilled"  # attempts exhausted
    RELEASED = "released"  # the incident ended


class SlotRecord(_Record):
    index: int
    label: str
    forces: tuple[Force, ...]
    #: Number of decision records written for this slot; the last record's ``attempt``.
    attempt: int = 0
    #: Declines and acknowledgement timeouts; the slot is unfilled at the policy's maximum.
    failures: int = 0
    state: SlotState = SlotState.PENDING
    unit_id: str | None = None
    assigned_at: datetime | None = None
    ack_deadline: datetime | None = None
    acknowledged: bool = False
    #: True once an ``unassigned`` record was written for the current wait (written once).
    waiting_reported: bool = False
    manual: bool = False


class IncidentPhase(StrEnum):
    OPEN = "open"
    ENDED = "ended"  # cleared, closed or cancelled: units released


class IncidentRecord(_Record):
    facts: IncidentFacts
    region_id: str
    target_s: int
    phase: IncidentPhase = IncidentPhase.OPEN
    ended_at: datetime | None = None
    #: Units that declined or timed out on this incident: never offered it again.
    tried: list[str] = []
    slots: list[SlotRecord] = []

    @property
    def incident_id(self) -> str:
        return self.facts.incident_id
