"""The one table of wire contracts: every canonical topic, its key, its message and its headers.

The app uses it to pick a topic's model; :mod:`schemas.export` generates the JSON Schemas and
the AsyncAPI document from it. Topic names come from :mod:`schemas.topics`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, Literal

from pydantic import BaseModel

from schemas import topics
from schemas.alerts import ResponseAlert
from schemas.clearance import ClearanceSnapshot
from schemas.common import HEX_ID_PATTERN, ID_PATTERN
from schemas.deadletter import (
    ERRORS_EXCEPTION_CLASS,
    ERRORS_EXCEPTION_MESSAGE,
    ERRORS_OFFSET,
    ERRORS_PARTITION,
    ERRORS_STAGE,
    ERRORS_TIMESTAMP,
    ERRORS_TOPIC,
)
from schemas.dispatch import Assignment
from schemas.incidents import IncidentReported, IncidentUpdate
from schemas.units import UnitTelemetry

__all__ = [
    "BY_TOPIC",
    "CLOUDEVENTS_HEADERS",
    "CONTRACTS",
    "CONTRACT_VERSION",
    "DEAD_LETTER_HEADERS",
    "Action",
    "TopicContract",
    "contract_for",
]

#: Version of the wire contract (the AsyncAPI ``info.version``); bump on any change of shape.
CONTRACT_VERSION: Final = "0.1.0"


class Action(StrEnum):
    """What patrolflow does with a topic (the AsyncAPI operation action)."""

    RECEIVE = "receive"
    SEND = "send"


#: CloudEvents Kafka protocol binding, binary content mode: optional on every input.
CLOUDEVENTS_HEADERS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "ce_specversion": 'CloudEvents spec version ("1.0"); present whenever ce_* headers are.',
        "ce_id": "CloudEvents event id; with ce_source the de-duplication key when the value "
        "has no event_id.",
        "ce_source": "CloudEvents source (URI-reference of the producing system).",
        "ce_type": "CloudEvents type (producer-chosen, e.g. cn.gov.police.110.incident.reported).",
        "ce_time": "CloudEvents time (RFC 3339). Informational: the event time is in the value.",
        "content-type": "Media type of the value: application/json.",
    }
)

#: Headers patrolflow adds to a dead-lettered record (the original headers stay as they were).
DEAD_LETTER_HEADERS: Final[Mapping[str, str]] = MappingProxyType(
    {
        ERRORS_TOPIC: "Topic the record was read from, as named on the broker (with prefix).",
        ERRORS_PARTITION: "Partition it was read from (decimal).",
        ERRORS_OFFSET: "Offset it was read from (decimal).",
        ERRORS_STAGE: "Stable name of the stage that rejected it, e.g. intake.incidents_reported.",
        ERRORS_EXCEPTION_CLASS: "Error class, e.g. ValidationError.",
        ERRORS_EXCEPTION_MESSAGE: "Error text without the offending input (no personal data).",
        ERRORS_TIMESTAMP: "When it was dead-lettered, milliseconds since the Unix epoch.",
    }
)


@dataclass(frozen=True, slots=True)
class TopicContract:
    """Everything the wire says about one topic."""

    topic: str
    #: AsyncAPI ids: channel and message (the message name is the model's class name).
    channel_id: str
    message_name: str
    title: str
    summary: str
    action: Action
    #: The value's model; ``None`` for the dead-letter topic (original bytes, any content).
    model: type[BaseModel] | None
    #: JSON Schema of the record key (a UTF-8 string, or the original bytes for dead letters).
    key_schema: Mapping[str, Any]
    #: Header name -> description; all optional unless ``headers_required``.
    headers: Mapping[str, str] = field(default_factory=dict)
    headers_required: bool = False
    content_type: str = "application/json"

    @property
    def schema_file(self) -> str | None:
        """File name of the value's JSON Schema under ``schemas/json/``."""
        return f"{self.topic}.schema.json" if self.model is not None else None

    @property
    def json_schema_mode(self) -> Literal["validation", "serialization"]:
        """Inputs: what patrolflow accepts. Outputs: what patrolflow writes."""
        return "validation" if self.action is Action.RECEIVE else "serialization"


def _input_key(field_name: str) -> dict[str, Any]:
    return {
        "type": "string",
        "description": f"The {field_name} (UTF-8). Recommended, not trusted: patrolflow re-keys "
        "every input by dispatch region itself, whatever the producer's key or partitioner.",
    }


CONTRACTS: Final[tuple[TopicContract, ...]] = (
    TopicContract(
        topic=topics.INCIDENTS_REPORTED,
        channel_id="incidentsReported",
        message_name="IncidentReported",
        title="Incidents reported",
        summary="Incidents reported by 110 call centres (接警).",
        action=Action.RECEIVE,
        model=IncidentReported,
        key_schema=_input_key("incident_id"),
        headers=CLOUDEVENTS_HEADERS,
    ),
    TopicContract(
        topic=topics.INCIDENTS_UPDATES,
        channel_id="incidentsUpdates",
        message_name="IncidentUpdate",
        title="Incident updates",
        summary="Lifecycle and case events of incidents, from call systems and mobile terminals.",
        action=Action.RECEIVE,
        model=IncidentUpdate,
        key_schema=_input_key("incident_id"),
        headers=CLOUDEVENTS_HEADERS,
    ),
    TopicContract(
        topic=topics.UNITS_TELEMETRY,
        channel_id="unitsTelemetry",
        message_name="UnitTelemetry",
        title="Unit telemetry",
        summary="Positions and statuses of units, from mobile terminals and vehicle trackers.",
        action=Action.RECEIVE,
        model=UnitTelemetry,
        key_schema=_input_key("unit_id"),
        headers=CLOUDEVENTS_HEADERS,
    ),
    TopicContract(
        topic=topics.DISPATCH_ASSIGNMENTS,
        channel_id="dispatchAssignments",
        message_name="Assignment",
        title="Dispatch assignments",
        summary="One record per dispatch decision (assigned, unassigned, out of area ...).",
        action=Action.SEND,
        model=Assignment,
        key_schema={
            "type": "string",
            "pattern": ID_PATTERN,
            "description": "incident_id: every decision about an incident, in order.",
        },
    ),
    TopicContract(
        topic=topics.ALERTS_RESPONSE,
        channel_id="alertsResponse",
        message_name="ResponseAlert",
        title="Response alerts",
        summary="Response-time, post-coverage and telemetry alerts, raised once per condition.",
        action=Action.SEND,
        model=ResponseAlert,
        key_schema={
            "type": "string",
            "pattern": HEX_ID_PATTERN,
            "description": "The alert the record is about: resolves_alert_id for resolved, "
            "else alert_id. An alert, its escalations and its resolution share a key.",
        },
    ),
    TopicContract(
        topic=topics.METRICS_CLEARANCE,
        channel_id="metricsClearance",
        message_name="ClearanceSnapshot",
        title="Clearance snapshots",
        summary="Periodic case clearance figures per window, case type and scope.",
        action=Action.SEND,
        model=ClearanceSnapshot,
        key_schema={
            "type": "string",
            "description": "<window>/<case_type>/all, <window>/<case_type>/region/<region_id> "
            "or <window>/<case_type>/zone/<zone_id>: one key per series.",
        },
    ),
    TopicContract(
        topic=topics.DEAD_LETTERS,
        channel_id="deadLetters",
        message_name="DeadLetter",
        title="Dead letters",
        summary="Input records patrolflow could not accept: original bytes, original headers, "
        "plus error headers.",
        action=Action.SEND,
        model=None,
        key_schema={"description": "The original key bytes, unchanged (may be absent)."},
        headers=DEAD_LETTER_HEADERS,
        headers_required=True,
        content_type="application/octet-stream",
    ),
)

BY_TOPIC: Final[Mapping[str, TopicContract]] = MappingProxyType({c.topic: c for c in CONTRACTS})


def contract_for(topic: str) -> TopicContract:
    """The contract of a canonical topic name (without ``PATROLFLOW_TOPIC_PREFIX``)."""
    try:
        return BY_TOPIC[topic]
    except KeyError:
        raise KeyError(f"no contract for topic {topic!r}") from None
