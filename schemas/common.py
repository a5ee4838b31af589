"""Building blocks shared by every wire contract: model bases, identifiers, times, locations.

Two model bases, two policies:

* :class:`InputModel` (records other vendors' software sends us) is a *tolerant reader*:
  unknown extra fields are ignored, so a producer may add fields without breaking patrolflow.
  Validation errors never echo the input (``hide_input_in_errors``): raw upstream bytes may
  carry personal data.
* :class:`OutputModel` (records patrolflow writes) forbids extra fields: what we publish is
  exactly what the contract says, and every field is always present (``null`` when empty).

Timestamps are timezone-aware RFC 3339 strings. Input event times more than 24 h ahead of the
reference clock are invalid (:func:`check_not_far_future`); the reference clock is the
validation context's ``"now"`` (an aware ``datetime`` or a zero-argument callable returning
one), else the wall clock, so decoders and tests control it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
)

__all__ = [
    "EVENT_ID_PATTERN",
    "HEX_ID_PATTERN",
    "ID_PATTERN",
    "MAX_FUTURE",
    "NOW_CONTEXT_KEY",
    "PERSONAL_DATA",
    "PERSONAL_DATA_KEY",
    "REASON_PATTERN",
    "EventId",
    "EventTime",
    "HexId",
    "Identifier",
    "InputModel",
    "Latitude",
    "Location",
    "Longitude",
    "OutputModel",
    "Reason",
    "Timestamp",
    "check_not_far_future",
    "deterministic_id",
    "personal_fields",
    "reference_now",
    "validate_json",
]

#: Ids of things (incidents, units, zones, regions, posts, cases, centres).
ID_PATTERN: Final = r"^[A-Za-z0-9._:-]{1,64}$"
#: Producer-chosen event ids: printable ASCII without spaces (UUIDs, ULIDs, URNs ...).
EVENT_ID_PATTERN: Final = r"^[!-~]{1,128}$"
#: Ids patrolflow derives with :func:`deterministic_id`.
HEX_ID_PATTERN: Final = r"^[0-9a-f]{32}$"
#: Short machine-readable reasons (``snake_case``), stable enough to count and to alert on.
REASON_PATTERN: Final = r"^[a-z][a-z0-9_]{0,63}$"

#: Input event times further ahead of the reference clock than this are invalid.
MAX_FUTURE: Final = timedelta(hours=24)
#: Validation-context key of the reference clock (aware datetime or callable returning one).
NOW_CONTEXT_KEY: Final = "now"

#: JSON Schema extension keyword marking personal data; such fields are also kept out of repr.
PERSONAL_DATA_KEY: Final = "x-personal-data"
PERSONAL_DATA: Final[dict[str, Any]] = {PERSONAL_DATA_KEY: True}

Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]
EventId = Annotated[str, Field(min_length=1, max_length=128, pattern=EVENT_ID_PATTERN)]
HexId = Annotated[str, Field(min_length=32, max_length=32, pattern=HEX_ID_PATTERN)]
Reason = Annotated[str, Field(min_length=1, max_length=64, pattern=REASON_PATTERN)]

Latitude = Annotated[
    float,
    Strict(),
    Field(ge=-90.0, le=90.0, allow_inf_nan=False, description="WGS 84 latitude in degrees."),
]
Longitude = Annotated[
    float,
    Strict(),
    Field(ge=-180.0, le=180.0, allow_inf_nan=False, description="WGS 84 longitude in degrees."),
]


def reference_now(context: object) -> datetime:
    """The reference clock of a validation: context ``"now"`` if given, else the wall clock."""
    now: object = None
    if isinstance(context, Mapping):
        now = context.get(NOW_CONTEXT_KEY)
    if now is None:
        return datetime.now(UTC)
    if callable(now):
        now = now()
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        # A programming error in the caller, not bad input: let it propagate.
        raise TypeError(f"validation context {NOW_CONTEXT_KEY!r} must be an aware datetime")
    return now


def check_not_far_future(value: datetime, info: ValidationInfo) -> datetime:
    """Reject event times more than :data:`MAX_FUTURE` ahead of the reference clock."""
    if value - reference_now(info.context) > MAX_FUTURE:
        raise ValueError("timestamp is more than 24 h ahead of the reference clock")
    return value


def _text_or_datetime(value: object) -> object:
    # Epoch numbers are ambiguous (seconds or milliseconds?): the contract is RFC 3339 text.
    if isinstance(value, str | datetime):
        return value
    raise ValueError("expected an RFC 3339 date-time string with a UTC offset")


#: A timezone-aware timestamp (outputs, and inputs where the far-future rule does not apply).
Timestamp = Annotated[AwareDatetime, BeforeValidator(_text_or_datetime)]
#: An input event time: timezone-aware and not more than 24 h ahead of the reference clock.
EventTime = Annotated[
    AwareDatetime, BeforeValidator(_text_or_datetime), AfterValidator(check_not_far_future)
]


class InputModel(BaseModel):
    """Base of records received from other vendors' software (tolerant reader).

    Unknown extra fields are ignored (not kept, not an error): producers may add fields
    without coordinating a release with us. Validation errors never contain the input.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        hide_input_in_errors=True,
    )


class OutputModel(BaseModel):
    """Base of records patrolflow writes: closed (extra fields forbidden), every field present."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        validate_default=True,
        json_schema_serialization_defaults_required=True,
    )

    def to_json_bytes(self) -> bytes:
        """The record's value as written to Kafka (UTF-8 JSON, fields in declaration order)."""
        return self.model_dump_json().encode()


class Location(InputModel):
    """A WGS 84 position. Unknown extra fields (altitude, accuracy ...) are ignored."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"lat": 49.2122, "lon": 119.7366}]})

    lat: Latitude
    lon: Longitude


def personal_fields(model: type[BaseModel]) -> frozenset[str]:
    """Names of a model's top-level fields marked as personal data."""
    return frozenset(
        name
        for name, field in model.model_fields.items()
        if isinstance(field.json_schema_extra, dict)
        and field.json_schema_extra.get(PERSONAL_DATA_KEY) is True
    )


def deterministic_id(*parts: str) -> str:
    """A stable 32-hex-digit id for a tuple of strings.

    The first 32 hex digits of SHA-256 over the parts as a compact JSON array
    (``json.dumps(list(parts), ensure_ascii=False, separators=(",", ":"))``, UTF-8), so that
    ``("a|b", "c")`` and ``("a", "b|c")`` differ. Only strings are accepted: ``1`` and ``"1"``
    must not silently give different ids for the same thing.
    """
    if not parts:
        raise ValueError("deterministic_id needs at least one part")
    for part in parts:
        if not isinstance(part, str):
            raise TypeError(f"deterministic_id parts must be str, got {type(part).__name__}")
    canonical = json.dumps(list(parts), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


M = TypeVar("M", bound=BaseModel)


def validate_json(
    model: type[M], data: bytes | str, *, now: datetime | Callable[[], datetime] | None = None
) -> M:
    """Parse and validate one JSON record, judging event times against ``now`` (default: wall)."""
    return model.model_validate_json(data, context={NOW_CONTEXT_KEY: now})
