"""Contract of the dead-letter topic (``schemas.topics.DEAD_LETTERS``).

A dead-lettered record carries the ORIGINAL key and value bytes and the original headers
unchanged, plus error headers under our own prefix in the shape Kafka Connect uses for its
dead-letter queues (``__connect.errors.*``). Header values are UTF-8 text; numbers are
decimal; the timestamp is milliseconds since the Unix epoch, like Kafka record timestamps.

Error texts never echo the input: pydantic errors are rendered from their locations and
messages only, and exceptions of other types contribute their class name only unless they
are a :class:`SafeMessageError`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Final

from pydantic import ValidationError

__all__ = [
    "ERRORS_EXCEPTION_CLASS",
    "ERRORS_EXCEPTION_MESSAGE",
    "ERRORS_OFFSET",
    "ERRORS_PARTITION",
    "ERRORS_STAGE",
    "ERRORS_TIMESTAMP",
    "ERRORS_TOPIC",
    "ERROR_HEADERS",
    "HEADER_PREFIX",
    "MAX_MESSAGE_CHARS",
    "Header",
    "SafeMessageError",
    "dead_letter_headers",
    "describe_exception",
    "error_headers",
    "without_error_headers",
]

Header = tuple[str, bytes]

HEADER_PREFIX: Final = "patrolflow.errors."
#: The topic the record was read from, as named on the broker (with any PATROLFLOW_TOPIC_PREFIX).
ERRORS_TOPIC: Final = HEADER_PREFIX + "topic"
ERRORS_PARTITION: Final = HEADER_PREFIX + "partition"
ERRORS_OFFSET: Final = HEADER_PREFIX + "offset"
#: Stable name of the processing stage that rejected it (e.g. ``intake.incidents_reported``).
ERRORS_STAGE: Final = HEADER_PREFIX + "stage"
ERRORS_EXCEPTION_CLASS: Final = HEADER_PREFIX + "exception.class.name"
ERRORS_EXCEPTION_MESSAGE: Final = HEADER_PREFIX + "exception.message"
#: When the record was dead-lettered, milliseconds since the Unix epoch.
ERRORS_TIMESTAMP: Final = HEADER_PREFIX + "timestamp"

#: Every error header, in the order they are written.
ERROR_HEADERS: Final = (
    ERRORS_TOPIC,
    ERRORS_PARTITION,
    ERRORS_OFFSET,
    ERRORS_STAGE,
    ERRORS_EXCEPTION_CLASS,
    ERRORS_EXCEPTION_MESSAGE,
    ERRORS_TIMESTAMP,
)

#: Longer error texts are cut (a header is not a log file).
MAX_MESSAGE_CHARS: Final = 1000
_MAX_PYDANTIC_ERRORS: Final = 10
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


class SafeMessageError(Exception):
    """An error whose message is known to carry no personal data; it is forwarded verbatim."""


def _describe_validation_error(exc: ValidationError) -> str:
    errors = exc.errors(include_input=False, include_url=False, include_context=False)
    parts = []
    for err in errors[:_MAX_PYDANTIC_ERRORS]:
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        parts.append(f"{loc}: {err['msg']} [{err['type']}]")
    more = len(errors) - len(parts)
    if more > 0:
        parts.append(f"... {more} more")
    return f"{exc.title}: " + "; ".join(parts)


def describe_exception(exc: BaseException) -> str:
    """A one-line error text safe to publish: never contains the offending input."""
    if isinstance(exc, ValidationError):
        text = _describe_validation_error(exc)
    elif isinstance(exc, UnicodeDecodeError):
        text = f"{exc.encoding} decode error at byte {exc.start}: {exc.reason}"
    elif isinstance(exc, json.JSONDecodeError):
        text = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    elif isinstance(exc, SafeMessageError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__} (message withheld: it may contain input)"
    text = " ".join(text.split())  # one line
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 3] + "..."
    return text


def dead_letter_headers(
    *,
    topic: str,
    partition: int,
    offset: int,
    stage: str,
    error_class: str,
    error_message: str,
    at: datetime | None = None,
) -> list[Header]:
    """Our error headers for one rejected record (append them to the original headers).

    ``error_message`` must already be safe to publish (see :func:`describe_exception`); it is
    cut to :data:`MAX_MESSAGE_CHARS`. ``at`` defaults to the wall clock.
    """
    when = at or datetime.now(UTC)
    if when.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    message = " ".join(error_message.split())[:MAX_MESSAGE_CHARS]
    values = (
        topic,
        str(int(partition)),
        str(int(offset)),
        stage,
        error_class,
        message,
        str((when - _EPOCH) // timedelta(milliseconds=1)),
    )
    return [(name, value.encode()) for name, value in zip(ERROR_HEADERS, values, strict=True)]


def error_headers(
    topic: str,
    partition: int,
    offset: int,
    stage: str,
    exc: BaseException,
    *,
    at: datetime | None = None,
) -> list[Header]:
    """:func:`dead_letter_headers` for an exception, its message rendered without input."""
    return dead_letter_headers(
        topic=topic,
        partition=partition,
        offset=offset,
        stage=stage,
        error_class=type(exc).__name__,
        error_message=describe_exception(exc),
        at=at,
    )


def without_error_headers(headers: list[Header]) -> list[Header]:
    """The original headers minus earlier error headers (a record dead-lettered twice)."""
    return [(name, value) for name, value in headers if not name.startswith(HEADER_PREFIX)]
