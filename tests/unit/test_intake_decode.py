"""The intake decoder: every bad input becomes a rejection with a bounded reason, never a crash."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.incidents import IncidentReported
from streams.intake.decode import (
    MAX_VALUE_BYTES,
    Accepted,
    Rejected,
    RejectReason,
    decode,
    headers_as_dict,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def incident(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "incident_id": "INC-1",
        "reported_at": "2026-05-01T19:58:00+08:00",
        "category": "criminal",
        "priority": 1,
        "location": {"lat": 49.2135, "lon": 119.748},
        "source": "hailar-110",
        "caller_phone": "13800000000",
        "summary": "wallet snatched outside the night market",
    }
    body.update(overrides)
    return body


def test_valid_incident_is_accepted() -> None:
    verdict = decode(IncidentReported, orjson.dumps(incident()), now=NOW)
    assert isinstance(verdict, Accepted)
    assert verdict.event.incident_id == "INC-1"
    assert verdict.ce_id is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"", RejectReason.EMPTY),
        (None, RejectReason.EMPTY),
        (b"\xff\xfe not json", RejectReason.NOT_JSON),
        (b'{"incident_id": "INC-1",', RejectReason.NOT_JSON),
        (b"[]", RejectReason.INVALID),
        (orjson.dumps(incident(category="alien_invasion")), RejectReason.INVALID),
        (orjson.dumps(incident(location={"lat": 91, "lon": 0})), RejectReason.INVALID),
        (orjson.dumps(incident(reported_at="2026-05-01T19:58:00")), RejectReason.INVALID),
        (orjson.dumps(incident(reported_at="2026-05-03T12:00:00+00:00")), RejectReason.INVALID),
        (
            orjson.dumps({k: v for k, v in incident().items() if k != "category"}),
            RejectReason.INVALID,
        ),
        (b'{"x": "' + b"a" * MAX_VALUE_BYTES + b'"}', RejectReason.OVERSIZE),
    ],
    ids=[
        "empty",
        "none",
        "binary",
        "truncated",
        "array",
        "enum",
        "lat",
        "naive-time",
        "far-future",
        "missing",
        "oversize",
    ],
)
def test_bad_input_is_rejected_with_its_reason(value: bytes | None, reason: RejectReason) -> None:
    verdict = decode(IncidentReported, value, now=NOW)
    assert isinstance(verdict, Rejected)
    assert verdict.reason is reason
    assert verdict.message


def test_rejection_never_echoes_personal_data() -> None:
    bad = incident(priority="urgent")  # invalid, while carrying a phone number and a summary
    verdict = decode(IncidentReported, orjson.dumps(bad), now=NOW)
    assert isinstance(verdict, Rejected)
    assert "13800000000" not in verdict.message
    assert "night market" not in verdict.message
    assert "priority" in verdict.message  # but it says where the problem is


def test_cloudevents_binary_headers_give_the_dedup_id() -> None:
    headers = [
        ("ce_id", b"evt-42"),
        ("ce_source", b"/110/hailar"),
        ("ce_type", b"cn.police.incident.reported"),
        ("ce_specversion", b"1.0"),
    ]
    verdict = decode(IncidentReported, orjson.dumps(incident()), headers, b"INC-1", now=NOW)
    assert isinstance(verdict, Accepted)
    assert (verdict.ce_id, verdict.ce_source) == ("evt-42", "/110/hailar")


def test_broken_cloudevents_headers_are_rejected() -> None:
    headers = [("ce_specversion", b"1.0"), ("ce_time", b"not a time")]
    verdict = decode(IncidentReported, orjson.dumps(incident()), headers, now=NOW)
    assert isinstance(verdict, Rejected)
    assert verdict.reason is RejectReason.BAD_CLOUDEVENT


def test_repeated_header_keys_last_one_wins() -> None:
    assert headers_as_dict([("a", b"1"), ("a", b"2")]) == {"a": b"2"}
    assert headers_as_dict(None) == {}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_never_raise(value: bytes) -> None:
    verdict = decode(IncidentReported, value, now=NOW)
    assert isinstance(verdict, Rejected | Accepted)


def test_cloudevents_without_an_id_fall_back_to_the_natural_key() -> None:
    # The SDK would invent a random id: a redelivery must not look like a new event.
    headers = [("ce_specversion", b"1.0"), ("ce_source", b"/110/hailar"), ("ce_type", b"t")]
    verdict = decode(IncidentReported, orjson.dumps(incident()), headers, b"INC-1", now=NOW)
    assert isinstance(verdict, Accepted)
    assert verdict.ce_id is None
