"""Routing's de-duplication: repeated updates (same id, CloudEvents id or natural key) and
telemetry replayed behind a handoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson

from schemas.incidents import IncidentUpdate
from schemas.units import UnitTelemetry
from streams.city.model import load_city
from streams.intake.decode import Accepted, decode
from streams.region.events import TelemetryEvent
from streams.region.processing import Router
from streams.region.routing import (
    UPDATE_IDS_KEPT,
    decode_home,
    encode_home,
    seen_before,
    update_id,
)

AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def update(kind: str = "dispatched", **fields: object) -> IncidentUpdate:
    body: dict[str, object] = {"incident_id": "INC-1", "at": AT, "kind": kind, "unit_id": "u1"}
    return IncidentUpdate.model_validate(body | fields)


def test_a_repeat_is_seen_and_a_new_event_is_not() -> None:
    seen: dict[str, bytes] = {}
    assert not seen_before(seen, update(event_id="e1"))
    assert seen_before(seen, update(event_id="e1"))
    assert not seen_before(seen, update(event_id="e2"))  # same fields, another event


def test_without_an_id_the_natural_key_decides_whatever_the_offset() -> None:
    seen: dict[str, bytes] = {}
    assert not seen_before(seen, update())
    same_instant = AT.astimezone(timezone(timedelta(hours=8)))
    assert seen_before(seen, update(at=same_instant))
    assert not seen_before(seen, update(at=AT + timedelta(seconds=1)))
    assert not seen_before(seen, update(unit_id="u2"))


def test_case_events_are_left_to_the_clearance_ledger() -> None:
    seen: dict[str, bytes] = {}
    solved = update("case_solved", case_id="C1", case_type="criminal", event_id="e1")
    assert not seen_before(seen, solved)
    assert not seen_before(seen, solved)  # the ledger counts the repeat as an anomaly
    assert seen == {}


def test_memory_per_incident_is_bounded() -> None:
    seen: dict[str, bytes] = {}
    for n in range(UPDATE_IDS_KEPT + 10):
        assert not seen_before(seen, update(event_id=f"e{n}"))
    assert len(orjson.loads(seen["INC-1"])) == UPDATE_IDS_KEPT
    assert seen_before(seen, update(event_id=f"e{UPDATE_IDS_KEPT + 9}"))
    assert not seen_before(seen, update(event_id="e0"))  # forgotten: too far behind


def test_intake_puts_the_cloudevents_id_where_routing_looks() -> None:
    body = orjson.dumps({"incident_id": "INC-1", "at": AT.isoformat(), "kind": "declined"})
    ce = [("ce_specversion", b"1.0"), ("ce_source", b"/110"), ("ce_type", b"t")]
    first = decode(IncidentUpdate, body, [*ce, ("ce_id", b"42")])
    again = decode(IncidentUpdate, body, [*ce, ("ce_id", b"42")])
    other = decode(IncidentUpdate, body, [*ce, ("ce_id", b"43")])
    assert isinstance(first, Accepted)
    assert isinstance(again, Accepted)
    assert isinstance(other, Accepted)
    ident = first.identified().event_id
    assert ident is not None
    assert ident.startswith("ce:")
    assert update_id(again.identified()) == ident
    assert update_id(other.identified()) != ident
    own = decode(IncidentUpdate, orjson.dumps(orjson.loads(body) | {"event_id": "mine"}), ce)
    assert isinstance(own, Accepted)
    assert own.identified().event_id == "mine"  # the body's own id wins
    assert decode(IncidentUpdate, body).identified().event_id is None  # type: ignore[union-attr]


def test_a_report_from_before_a_handoff_does_not_hand_the_unit_back() -> None:
    city = load_city(None)
    router = Router(city, {}, {}, {}, {})

    def report(region: str, seconds: int) -> TelemetryEvent:
        body = {
            "unit_id": "u1",
            "at": AT + timedelta(seconds=seconds),
            "location": {"lat": 49.22, "lon": 119.73},
            "status": "available",
            "force": "station",
            "region_id": region,
        }
        return TelemetryEvent(telemetry=UnitTelemetry.model_validate(body))

    assert not router.route(report("hailar", 0)).handoff
    moved = router.route(report("hailar-east", 5))
    assert moved.handoff
    assert [e.region_id for e in moved.forward] == ["hailar", "hailar-east"]
    replay = router.route(report("hailar", 0))  # the first report again, or a late one
    assert not replay.handoff
    assert [e.region_id for e in replay.forward] == ["hailar-east"]
    assert router.route(report("hailar", 9)).handoff  # a newer report is a real handoff


def test_homes_saved_without_a_time_still_read() -> None:
    assert decode_home(b"hailar") == ("hailar", None)
    assert decode_home(None) == (None, None)
    assert decode_home(encode_home("hailar", AT)) == ("hailar", AT)
