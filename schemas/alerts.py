"""Contract of ``alerts.response``: the response engine's alerts (an output).

Key: the alert the record is about (``resolves_alert_id`` for ``resolved``, else
``alert_id``), so an alert, its escalations and its resolution stay in order in one partition,
and a compacted topic keeps each alert's latest state.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, Strict, model_validator

from schemas.common import HexId, Identifier, OutputModel, Timestamp, deterministic_id

__all__ = ["AlertKind", "ResponseAlert", "Severity", "alert_id_for"]


class AlertKind(StrEnum):
    """What an alert is about.

    ``unassigned``: no unit assigned within the configured time. ``ack_overdue``: an assigned
    unit did not acknowledge in time. ``predicted_breach``: at assignment the ETA already
    exceeds the target. ``response_breach``: no arrival when the target expired (raised at
    the deadline). ``post_uncovered``: a post inside its staffed window has no unit nearby.
    ``telemetry_stale``: an on-duty unit has been silent too long. ``arrival_mismatch``: a
    unit reported its arrival far from the scene (both the report and the position are kept;
    nothing is overwritten). ``resolved``: closes the alert named by ``resolves_alert_id``.
    """

    UNASSIGNED = "unassigned"
    ACK_OVERDUE = "ack_overdue"
    PREDICTED_BREACH = "predicted_breach"
    RESPONSE_BREACH = "response_breach"
    POST_UNCOVERED = "post_uncovered"
    TELEMETRY_STALE = "telemetry_stale"
    ARRIVAL_MISMATCH = "arrival_mismatch"
    RESOLVED = "resolved"


class Severity(StrEnum):
    """Severity; escalation re-emits the same ``alert_id`` with a higher severity."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


def alert_id_for(
    kind: AlertKind | str,
    *,
    incident_id: str | None = None,
    unit_id: str | None = None,
    post_id: str | None = None,
    instance: str = "",
) -> str:
    """The deterministic id of (kind, subject, condition instance).

    ``instance`` tells apart two occurrences of the same condition on the same subject (e.g.
    the start of a post's staffed window, or the slot and attempt of an acknowledgement).
    """
    return deterministic_id(
        "alert", str(kind), incident_id or "", unit_id or "", post_id or "", instance
    )


class ResponseAlert(OutputModel):
    """An alert for supervisors. Raised once per condition, also across restarts and replays.

    ``raised_at`` is the event time at which the condition became true (for a deadline: the
    deadline itself). A ``resolved`` record carries ``resolves_alert_id`` and the same
    subject fields as the alert it closes.
    """

    model_config = ConfigDict(
        title="ResponseAlert",
        json_schema_extra={
            "examples": [
                {
                    "alert_id": alert_id_for("response_breach", incident_id="HLR-20250501-000123"),
                    "kind": "response_breach",
                    "severity": "warning",
                    "zone_id": "z07",
                    "region_id": "hailar",
                    "raised_at": "2025-05-01T12:18:03Z",
                    "incident_id": "HLR-20250501-000123",
                    "unit_id": "u-station-03-2",
                    "post_id": None,
                    "target_s": 180,
                    "elapsed_s": 180.0,
                    "resolves_alert_id": None,
                }
            ]
        },
    )

    alert_id: HexId = Field(description="Deterministic id of (kind, subject, condition instance).")
    kind: AlertKind = Field(description="What the alert is about.")
    severity: Severity = Field(description="Current severity.")
    zone_id: Identifier | None = Field(description="Zone concerned; null if none or unknown.")
    region_id: Identifier = Field(description="Dispatch region whose engine raised the alert.")
    raised_at: Timestamp = Field(description="Event time at which the condition became true.")
    incident_id: Identifier | None = Field(default=None, description="Incident concerned.")
    unit_id: Identifier | None = Field(default=None, description="Unit concerned.")
    post_id: Identifier | None = Field(default=None, description="Fixed post concerned.")
    target_s: Annotated[int, Strict()] | None = Field(
        default=None, gt=0, le=86_400, description="Response target in seconds, if any."
    )
    elapsed_s: Annotated[float, Strict()] | None = Field(
        default=None,
        ge=0.0,
        allow_inf_nan=False,
        description="Seconds elapsed in the condition's clock (e.g. since the report).",
    )
    resolves_alert_id: HexId | None = Field(
        default=None, description="For kind resolved: the alert_id it closes."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ResponseAlert:
        if self.incident_id is None and self.unit_id is None and self.post_id is None:
            raise ValueError("an alert names at least one of incident_id, unit_id, post_id")
        if (self.kind is AlertKind.RESOLVED) != (self.resolves_alert_id is not None):
            raise ValueError("resolves_alert_id is set exactly when kind is resolved")
        return self

    def kafka_key(self) -> str:
        return self.resolves_alert_id or self.alert_id
