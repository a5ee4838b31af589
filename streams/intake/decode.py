"""Pure decoding of input records: bytes + headers in, a validated model or a rejection out.

No Faust, no Kafka here: the agents hand us what the broker delivered and act on the verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat
from pydantic import BaseModel, ValidationError

from schemas.common import deterministic_id, validate_json
from schemas.deadletter import describe_exception
from schemas.incidents import IncidentReported, IncidentUpdate
from schemas.units import UnitTelemetry
from streams.region.events import (
    AnyEvent,
    IncidentEvent,
    IncidentFacts,
    TelemetryEvent,
    UpdateEvent,
)

#: Upstream messages are small JSON documents; anything larger is a producer bug or an attack.
MAX_VALUE_BYTES = 64 * 1024

M = TypeVar("M", bound=BaseModel)

RawHeaders = Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None


class RejectReason(StrEnum):
    """Why a record went to the dead-letter topic. A fixed set: it is a metric label."""

    EMPTY = "empty"
    OVERSIZE = "oversize"
    NOT_JSON = "not_json"
    INVALID = "invalid"
    BAD_CLOUDEVENT = "bad_cloudevent"


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: RejectReason
    error_class: str
    message: str


@dataclass(frozen=True, slots=True)
class Accepted(Generic[M]):
    event: M
    #: CloudEvents id and source when the producer used binary-mode ``ce_*`` headers.
    ce_id: str | None = None
    ce_source: str | None = None

    def identified(self) -> M:
        """The event with its de-duplication id in ``event_id``: its own, else one derived
        from the CloudEvents ``ce_source`` + ``ce_id``, else none (the natural key applies)."""
        has_own = getattr(self.event, "event_id", None) is not None
        if has_own or self.ce_id is None or "event_id" not in type(self.event).model_fields:
            return self.event
        ce = "ce:" + deterministic_id(self.ce_source or "", self.ce_id)
        return self.event.model_copy(update={"event_id": ce})


def region_event(accepted: Accepted[Any]) -> AnyEvent:
    """What intake hands the region core for an accepted input: the report slimmed to its
    dispatch facts (no caller phone, no summary), updates and telemetry with their id."""
    event = accepted.event
    if isinstance(event, IncidentReported):
        return IncidentEvent(incident=IncidentFacts.of(event, event.zone_id))
    if isinstance(event, IncidentUpdate):
        return UpdateEvent(update=accepted.identified())
    assert isinstance(event, UnitTelemetry), type(event)
    return TelemetryEvent(telemetry=accepted.identified())


def headers_as_dict(headers: RawHeaders) -> dict[str, bytes]:
    """Kafka allows repeated header keys; for lookups the last one wins, as in Kafka Connect."""
    if headers is None:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {str(k): (v if isinstance(v, bytes) else bytes(v or b"")) for k, v in items}


class _RawBytesFormat(JSONFormat):
    """Leave the value alone: pydantic parses the JSON once, with our limits and our errors."""

    def read_data(self, body: bytes | str, content_type: str | None) -> Any:
        return body


def _cloudevent_ids(headers: Mapping[str, bytes], key: bytes | None) -> tuple[str | None, str]:
    event = from_binary(KafkaMessage(headers=dict(headers), key=key, value=b""), _RawBytesFormat())
    # Without a ce_id header the SDK invents a random UUID: a redelivery would then look like
    # a new event. A missing id is never a reason to reject: fall back to the natural key.
    ce_id = str(event.get_id()) if "ce_id" in headers else None
    return ce_id, str(event.get_source())


def decode(
    model: type[M],
    value: bytes | None,
    headers: RawHeaders = None,
    key: bytes | None = None,
    *,
    now: datetime | None = None,
) -> Accepted[M] | Rejected:
    """Validate one record's value against ``model``; never raises for bad input."""
    if not value:
        return Rejected(RejectReason.EMPTY, "EmptyValue", "record has no value")
    if len(value) > MAX_VALUE_BYTES:
        return Rejected(
            RejectReason.OVERSIZE,
            "OversizeValue",
            f"value is {len(value)} bytes, limit {MAX_VALUE_BYTES}",
        )
    hdrs = headers_as_dict(headers)
    ce_id = ce_source = None
    if any(k.lower().startswith("ce_") for k in hdrs):
        try:
            ce_id, ce_source = _cloudevent_ids(hdrs, key)
        except Exception as exc:  # the SDK raises several types for bad attributes
            return Rejected(
                RejectReason.BAD_CLOUDEVENT, type(exc).__name__, describe_exception(exc)
            )
    try:
        event = validate_json(model, value, now=now)
    except ValidationError as exc:
        not_json = all(e["type"] == "json_invalid" for e in exc.errors())
        reason = RejectReason.NOT_JSON if not_json else RejectReason.INVALID
        return Rejected(reason, "ValidationError", describe_exception(exc))
    return Accepted(event, ce_id=ce_id, ce_source=ce_source)
