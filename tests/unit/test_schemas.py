"""The wire contracts in ``schemas/``: what they accept, what they reject, what they never echo."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from schemas import topics
from schemas.alerts import AlertKind, ResponseAlert, Severity, alert_id_for
from schemas.clearance import (
    Change,
    ChangeStatus,
    ClearanceScope,
    ClearanceSnapshot,
    ClearanceWindow,
    Figure,
    present,
)
from schemas.common import (
    HEX_ID_PATTERN,
    MAX_FUTURE,
    PERSONAL_DATA_KEY,
    InputModel,
    OutputModel,
    deterministic_id,
    personal_fields,
    validate_json,
)
from schemas.deadletter import (
    ERROR_HEADERS,
    ERRORS_EXCEPTION_CLASS,
    ERRORS_EXCEPTION_MESSAGE,
    ERRORS_OFFSET,
    ERRORS_PARTITION,
    ERRORS_STAGE,
    ERRORS_TIMESTAMP,
    ERRORS_TOPIC,
    HEADER_PREFIX,
    MAX_MESSAGE_CHARS,
    SafeMessageError,
    dead_letter_headers,
    describe_exception,
    error_headers,
    without_error_headers,
)
from schemas.dispatch import Assignment, AssignmentOutcome, assignment_id_for
from schemas.incidents import IncidentReported, IncidentUpdate, UpdateKind
from schemas.registry import BY_TOPIC, CONTRACTS, Action, contract_for
from schemas.units import UnitTelemetry

#: The reference clock of these tests: every example event lies within 24 h before it.
NOW = datetime(2025, 5, 2, 0, 0, tzinfo=UTC)
PHONE = "13800138000"
SUMMARY = "Zhang San, flat 3-2-501, says his neighbour hit him"

INPUTS: list[type[BaseModel]] = [IncidentReported, IncidentUpdate, UnitTelemetry]
OUTPUTS: list[type[BaseModel]] = [Assignment, ResponseAlert, ClearanceSnapshot]
#: The event-time field of each input.
TIME_FIELD: dict[type[BaseModel], str] = {
    IncidentReported: "reported_at",
    IncidentUpdate: "at",
    UnitTelemetry: "at",
}


def examples(model: type[BaseModel]) -> list[dict[str, Any]]:
    extra = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict), f"{model.__name__} has no examples"
    found = extra["examples"]
    assert isinstance(found, list)
    assert found, f"{model.__name__} has no examples"
    return [copy.deepcopy(e) for e in found if isinstance(e, dict)]


def example(model: type[BaseModel]) -> dict[str, Any]:
    return examples(model)[0]


def parse(model: type[BaseModel], data: object, now: datetime = NOW) -> Any:
    return validate_json(model, json.dumps(data), now=now)


def rejected(model: type[BaseModel], data: object, now: datetime = NOW) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        parse(model, data, now)
    return info.value


def error_locs(exc: ValidationError) -> set[tuple[int | str, ...]]:
    return {tuple(e["loc"]) for e in exc.errors()}


def with_personal_data() -> dict[str, Any]:
    return {**example(IncidentReported), "summary": SUMMARY, "caller_phone": PHONE}


# --- valid records ------------------------------------------------------------------------------


@pytest.mark.parametrize("model", INPUTS + OUTPUTS, ids=lambda m: m.__name__)
def test_examples_parse_and_round_trip(model: type[BaseModel]) -> None:
    for data in examples(model):
        parsed = parse(model, data)
        again = validate_json(model, parsed.model_dump_json(), now=NOW)
        assert again == parsed


def test_personal_data_is_kept_in_the_value() -> None:
    incident = parse(IncidentReported, with_personal_data())
    assert incident.caller_phone == PHONE
    assert incident.summary == SUMMARY


def test_offsets_are_kept_and_zone_is_optional() -> None:
    data = example(IncidentReported)
    del data["zone_id"]
    incident = parse(IncidentReported, data)
    assert incident.zone_id is None
    assert incident.reported_at.utcoffset() == timedelta(hours=8)
    assert incident.reported_at == datetime(2025, 5, 1, 12, 15, 3, tzinfo=UTC)


# --- rejected records ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", INPUTS, ids=lambda m: m.__name__)
@pytest.mark.parametrize(
    "value",
    ["2025-05-01T20:15:03", "2025-05-01 20:15:03", 1746101703, 1746101703000, True, "yesterday"],
)
def test_event_time_must_be_aware_text(model: type[BaseModel], value: object) -> None:
    data = {**example(model), TIME_FIELD[model]: value}
    assert (TIME_FIELD[model],) in error_locs(rejected(model, data))


def test_output_timestamps_must_be_aware() -> None:
    data = {**example(Assignment), "assigned_at": "2025-05-01T12:15:03"}
    assert ("assigned_at",) in error_locs(rejected(Assignment, data))
    with pytest.raises(ValidationError):
        Assignment.model_validate({**example(Assignment), "assigned_at": datetime(2025, 5, 1)})


@pytest.mark.parametrize("model", [IncidentReported, UnitTelemetry], ids=lambda m: m.__name__)
@pytest.mark.parametrize(
    ("lat", "lon"),
    [(90.0001, 0.0), (-90.5, 0.0), (0.0, 180.0001), (0.0, -181.0), ("49.2", 119.7), (None, 1.0)],
)
def test_coordinates_out_of_range_or_wrong_type(
    model: type[BaseModel], lat: object, lon: object
) -> None:
    data = {**example(model), "location": {"lat": lat, "lon": lon}}
    exc = rejected(model, data)
    assert {loc[0] for loc in error_locs(exc)} == {"location"}


@pytest.mark.parametrize("model", [IncidentReported, UnitTelemetry], ids=lambda m: m.__name__)
def test_coordinates_at_the_bounds_and_non_finite(model: type[BaseModel]) -> None:
    for lat, lon in [(90.0, 180.0), (-90.0, -180.0), (0, 0)]:
        parse(model, {**example(model), "location": {"lat": lat, "lon": lon}})
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValidationError):
            model.model_validate(
                {**example(model), "location": {"lat": bad, "lon": 0.0}}, context={"now": NOW}
            )


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (IncidentReported, "category", "arson"),
        (IncidentReported, "category", "CRIMINAL"),
        (IncidentReported, "priority", 0),
        (IncidentReported, "priority", 4),
        (IncidentReported, "priority", True),
        (IncidentReported, "priority", "1"),
        (IncidentUpdate, "kind", "teleported"),
        (IncidentUpdate, "case_type", "civil"),
        (UnitTelemetry, "status", "busy"),
        (UnitTelemetry, "force", "army"),
        (UnitTelemetry, "speed_mps", -0.1),
        (UnitTelemetry, "speed_mps", 1000.0),
    ],
)
def test_unknown_enum_values_and_bad_numbers(
    model: type[BaseModel], field: str, value: object
) -> None:
    data = {**example(model), field: value}
    assert (field,) in error_locs(rejected(model, data))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("incident_id", ""),
        ("incident_id", "x" * 65),
        ("incident_id", "has space"),
        ("incident_id", "事件-1"),
        ("source", "a/b"),
        ("zone_id", "z 7"),
        ("event_id", "x" * 129),
        ("event_id", "with space"),
        ("summary", "x" * 2001),
        ("caller_phone", "1" * 33),
    ],
)
def test_strings_are_bounded(field: str, value: str) -> None:
    data = {**example(IncidentReported), field: value}
    assert (field,) in error_locs(rejected(IncidentReported, data))


def _required_fields(model: type[BaseModel]) -> list[tuple[type[BaseModel], str]]:
    return [(model, name) for name, f in model.model_fields.items() if f.is_required()]


@pytest.mark.parametrize(
    ("model", "field"),
    [case for m in INPUTS for case in _required_fields(m)],
    ids=lambda v: v if isinstance(v, str) else v.__name__,
)
def test_missing_required_field(model: type[BaseModel], field: str) -> None:
    data = example(model)
    data.pop(field, None)
    exc = rejected(model, data)
    assert any(e["type"] == "missing" and e["loc"] == (field,) for e in exc.errors())


def test_required_fields_are_the_contracts() -> None:
    # The names upstream systems code against (issue 2, item 4); optional ones may be absent.
    required = {m: {n for n, f in m.model_fields.items() if f.is_required()} for m in INPUTS}
    assert required[IncidentReported] == {
        "incident_id",
        "reported_at",
        "category",
        "priority",
        "location",
        "source",
    }
    assert required[IncidentUpdate] == {"incident_id", "at", "kind"}
    assert required[UnitTelemetry] == {"unit_id", "at", "location", "status", "force"}
    assert "event_id" in IncidentReported.model_fields
    assert "region_id" in UnitTelemetry.model_fields


# --- far future -------------------------------------------------------------------------------


@pytest.mark.parametrize("model", INPUTS, ids=lambda m: m.__name__)
def test_far_future_is_judged_against_the_given_clock(model: type[BaseModel]) -> None:
    field = TIME_FIELD[model]
    at = datetime.fromisoformat(example(model)[field])
    data = example(model)
    parse(model, data, now=at - MAX_FUTURE)  # exactly 24 h ahead: still fine
    exc = rejected(model, data, now=at - MAX_FUTURE - timedelta(seconds=1))
    assert (field,) in error_locs(exc)
    assert "24 h" in str(exc)
    # A clock may also be a callable, as a decoder with an injectable clock passes it.
    validate_json(model, json.dumps(data), now=lambda: at)


def test_far_future_defaults_to_the_wall_clock() -> None:
    wall = datetime.now(UTC)
    data = example(UnitTelemetry)
    ok = {**data, "at": (wall - timedelta(hours=1)).isoformat()}
    UnitTelemetry.model_validate_json(json.dumps(ok))  # no context at all
    far = {**data, "at": (wall + timedelta(hours=25)).isoformat()}
    with pytest.raises(ValidationError):
        UnitTelemetry.model_validate_json(json.dumps(far))
    with pytest.raises(ValidationError):
        validate_json(UnitTelemetry, json.dumps(far))  # now=None: wall clock


def test_a_naive_reference_clock_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        validate_json(UnitTelemetry, json.dumps(example(UnitTelemetry)), now=datetime(2025, 5, 2))


def test_outputs_may_be_in_the_future() -> None:
    # The far-future rule guards inputs; our own records carry event time we computed.
    data = {**example(Assignment), "assigned_at": "2030-01-01T00:00:00Z"}
    parse(Assignment, data)


# --- cases ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["case_filed", "case_solved"])
@pytest.mark.parametrize("missing", ["case_id", "case_type"])
def test_case_kinds_need_case_id_and_type(kind: str, missing: str) -> None:
    data = {**example(IncidentUpdate), "kind": kind, "case_id": "A-1", "case_type": "criminal"}
    parse(IncidentUpdate, data)
    del data[missing]
    exc = rejected(IncidentUpdate, data)
    assert "needs case_id and case_type" in str(exc)


def test_other_kinds_need_no_case() -> None:
    for kind in UpdateKind:
        data = {"incident_id": "i1", "at": "2025-05-01T12:00:00Z", "kind": kind.value}
        if kind in {UpdateKind.CASE_FILED, UpdateKind.CASE_SOLVED}:
            rejected(IncidentUpdate, data)
        else:
            assert parse(IncidentUpdate, data).kind is kind
    assert {"feedback", "dispatched"} <= {k.value for k in UpdateKind}


# --- extra fields ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", INPUTS, ids=lambda m: m.__name__)
def test_inputs_ignore_unknown_fields(model: type[BaseModel]) -> None:
    data = {**example(model), "vendor_field": {"nested": [1, 2]}, "priority_v2": "high"}
    if "location" in data:
        data["location"] = {**data["location"], "accuracy_m": 12.5}
    parsed = parse(model, data)
    assert parsed.model_extra in (None, {})
    dumped = parsed.model_dump()
    assert "vendor_field" not in dumped
    assert "priority_v2" not in dumped
    if "location" in dumped:
        assert set(dumped["location"]) == {"lat", "lon"}


@pytest.mark.parametrize("model", OUTPUTS, ids=lambda m: m.__name__)
def test_outputs_forbid_unknown_fields(model: type[BaseModel]) -> None:
    exc = rejected(model, {**example(model), "vendor_field": 1})
    assert [e["type"] for e in exc.errors()] == ["extra_forbidden"]


@pytest.mark.parametrize("model", INPUTS + OUTPUTS, ids=lambda m: m.__name__)
def test_models_are_frozen(model: type[BaseModel]) -> None:
    parsed = parse(model, example(model))
    name = next(iter(model.model_fields))
    with pytest.raises(ValidationError):
        setattr(parsed, name, getattr(parsed, name))


# --- personal data ---------------------------------------------------------------------------


def test_personal_fields_are_marked() -> None:
    assert personal_fields(IncidentReported) == {"summary", "caller_phone"}
    schema = IncidentReported.model_json_schema()
    for name in ("summary", "caller_phone"):
        assert schema["properties"][name][PERSONAL_DATA_KEY] is True
        assert IncidentReported.model_fields[name].repr is False
    assert IncidentReported.model_config.get("hide_input_in_errors") is True


def test_personal_data_not_in_repr_or_str() -> None:
    incident = parse(IncidentReported, with_personal_data())
    for text in (repr(incident), str(incident), f"{incident!r}"):
        assert PHONE not in text
        assert "Zhang" not in text
    assert "incident_id" in repr(incident)  # the repr still says something


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(lambda d: {**d, "priority": 9}, id="other-field-invalid"),
        pytest.param(lambda d: {**d, "caller_phone": PHONE * 4}, id="phone-too-long"),
        pytest.param(lambda d: {**d, "summary": SUMMARY * 50}, id="summary-too-long"),
        pytest.param(lambda d: {**d, "caller_phone": int(PHONE)}, id="phone-not-a-string"),
        pytest.param(lambda d: [d], id="not-an-object"),
        pytest.param(lambda d: {**d, "incident_id": PHONE + " " + SUMMARY}, id="id-invalid"),
    ],
)
def test_personal_data_not_in_validation_errors(raw: Any) -> None:
    exc = rejected(IncidentReported, raw(with_personal_data()))
    rendered = describe_exception(exc)
    headers = error_headers(topics.INCIDENTS_REPORTED, 0, 1, "intake.test", exc)
    for text in (str(exc), repr(exc), rendered, b"".join(v for _, v in headers).decode()):
        assert PHONE not in text
        assert "Zhang" not in text


@pytest.mark.parametrize("model", INPUTS, ids=lambda m: m.__name__)
def test_no_input_echoed_from_broken_json(model: type[BaseModel]) -> None:
    raw = '{"caller_phone": "' + PHONE + '", "summary": "' + SUMMARY + '"'  # truncated
    with pytest.raises(ValidationError) as info:
        validate_json(model, raw, now=NOW)
    assert [e["type"] for e in info.value.errors()] == ["json_invalid"]
    for text in (str(info.value), describe_exception(info.value)):
        assert PHONE not in text


def test_no_output_carries_personal_data() -> None:
    def walk(node: object) -> list[object]:
        if isinstance(node, dict):
            return [*node.keys(), *(x for v in node.values() for x in walk(v))]
        if isinstance(node, list):
            return [x for v in node for x in walk(v)]
        return []

    marked = personal_fields(IncidentReported)
    for model in OUTPUTS:
        keys = walk(model.model_json_schema(mode="serialization"))
        assert PERSONAL_DATA_KEY not in keys, model.__name__
        assert not marked & set(keys), model.__name__
        assert not personal_fields(model)


# --- deterministic ids --------------------------------------------------------------------------


def test_deterministic_id_is_documented_and_stable() -> None:
    parts = ("assignment", "HLR-20250501-000123", "0", "1")
    ident = deterministic_id(*parts)
    assert ident == deterministic_id(*parts)
    assert re.fullmatch(HEX_ID_PATTERN, ident)
    # The documented canonical form, so other systems can compute the same ids.
    canonical = json.dumps(list(parts), ensure_ascii=False, separators=(",", ":"))
    assert ident == hashlib.sha256(canonical.encode()).hexdigest()[:32]
    # Pinned: a change here re-keys every replayed output record. Do not update lightly.
    assert ident == "c04e6de7c895ae685c66739f84e21ec8"


def test_deterministic_id_separates_parts() -> None:
    assert deterministic_id("a|b", "c") != deterministic_id("a", "b|c")
    assert deterministic_id("ab", "c") != deterministic_id("a", "bc")
    assert deterministic_id("a", "b") != deterministic_id("b", "a")
    assert deterministic_id("a", "") != deterministic_id("a")
    assert deterministic_id("区", "1") == deterministic_id("区", "1")
    with pytest.raises(TypeError):
        deterministic_id("a", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        deterministic_id()


def test_assignment_and_alert_ids() -> None:
    ids = {assignment_id_for("i1", slot, attempt) for slot in range(3) for attempt in (1, 2, 3)}
    assert len(ids) == 9
    assert assignment_id_for("i1", 0, 1) == assignment_id_for("i1", 0, 1)
    assert assignment_id_for("i1", 0, 1) != assignment_id_for("i2", 0, 1)
    assert example(Assignment)["assignment_id"] == assignment_id_for(
        example(Assignment)["incident_id"], 0, 1
    )

    breach = alert_id_for(AlertKind.RESPONSE_BREACH, incident_id="i1")
    assert breach == alert_id_for("response_breach", incident_id="i1")
    assert breach != alert_id_for(AlertKind.UNASSIGNED, incident_id="i1")
    assert breach != alert_id_for(AlertKind.RESPONSE_BREACH, unit_id="i1")
    assert breach != alert_id_for(AlertKind.RESPONSE_BREACH, incident_id="i1", instance="2")
    post = alert_id_for(AlertKind.POST_UNCOVERED, post_id="p1", instance="2025-05-01T07:00")
    assert post != alert_id_for(AlertKind.POST_UNCOVERED, post_id="p1", instance="2025-05-02T07:00")


# --- output invariants ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"outcome": "assigned", "unit_id": None}, "needs unit_id"),
        ({"outcome": "assigned", "force": None}, "assigned needs force"),
        ({"outcome": "manual", "unit_id": None}, "needs unit_id"),
        ({"outcome": "unassigned"}, "must not name a unit"),
        ({"post_uncovered": True, "post_id": None}, "post_uncovered needs post_id"),
        ({"reason": "Nearest ETA"}, "pattern"),
        ({"assignment_id": "X" * 32}, "pattern"),
        ({"attempt": 0}, "greater than or equal to 1"),
    ],
)
def test_assignment_invariants(changes: dict[str, Any], message: str) -> None:
    assert message in str(rejected(Assignment, {**example(Assignment), **changes}))


def test_a_manual_dispatch_of_a_unit_not_seen_yet_has_no_force() -> None:
    data = {**example(Assignment), "outcome": "manual", "force": None, "eta_s": None}
    record = parse(Assignment, data)
    assert record.unit_id is not None
    assert record.force is None


def test_unassigned_record_shape() -> None:
    data = {
        **example(Assignment),
        "outcome": AssignmentOutcome.UNASSIGNED.value,
        "unit_id": None,
        "eta_s": None,
        "distance_m": None,
        "reason": "no_eligible_unit",
    }
    record = parse(Assignment, data)
    assert record.force is not None  # the force the slot asks for
    assert record.kafka_key() == record.incident_id
    assert json.loads(record.to_json_bytes())["unit_id"] is None


def test_alert_invariants_and_key() -> None:
    alert = parse(ResponseAlert, example(ResponseAlert))
    assert alert.kafka_key() == alert.alert_id
    resolved = ResponseAlert(
        alert_id=alert_id_for(AlertKind.RESOLVED, incident_id="HLR-20250501-000123"),
        kind=AlertKind.RESOLVED,
        severity=Severity.INFO,
        zone_id=alert.zone_id,
        region_id=alert.region_id,
        raised_at=alert.raised_at + timedelta(seconds=40),
        incident_id=alert.incident_id,
        resolves_alert_id=alert.alert_id,
    )
    assert resolved.kafka_key() == alert.alert_id  # the resolution follows its alert
    base = example(ResponseAlert)
    assert "resolves_alert_id is set" in str(rejected(ResponseAlert, {**base, "kind": "resolved"}))
    assert "resolves_alert_id is set" in str(
        rejected(ResponseAlert, {**base, "resolves_alert_id": alert.alert_id})
    )
    no_subject = {**base, "incident_id": None, "unit_id": None, "post_id": None}
    assert "at least one of" in str(rejected(ResponseAlert, no_subject))
    assert {k.value for k in AlertKind} >= {
        "unassigned",
        "ack_overdue",
        "predicted_breach",
        "response_breach",
        "post_uncovered",
        "telemetry_stale",
        "resolved",
    }


# --- clearance figures ------------------------------------------------------------------------


def test_presentation_rounds_half_away_from_zero() -> None:
    assert present(Fraction(1, 200)) == "0.01"  # 0.005
    assert present(Fraction(-1, 200)) == "-0.01"
    assert present(Fraction(1, 201)) == "0.00"
    assert present(Fraction(-1, 1000)) == "0.00"  # no negative zero
    assert present(Fraction(12345, 1000)) == "12.35"  # 12.345, exactly: float would say 12.34
    assert present(Fraction(100)) == "100.00"


def test_bulletin_figures() -> None:
    # February-April: 137 criminal cases filed, down 28.65% year on year, down 14.91% on the
    # previous period; clearance rate 86.13%, up 17.38 and 15.94 points (domain.md).
    rate = Figure.rate(118, 137)
    year_ago = Figure.rate(132, 192)
    before = Figure.rate(113, 161)
    assert rate is not None
    assert year_ago is not None
    assert before is not None
    assert rate.presented == "86.13"
    assert Change.relative(137, 192).figure == Figure.of(Fraction(137 - 192, 192) * 100)
    assert Change.relative(137, 192).figure.presented == "-28.65"  # type: ignore[union-attr]
    assert Change.relative(137, 161).figure.presented == "-14.91"  # type: ignore[union-attr]
    assert Change.points(rate, year_ago).figure.presented == "17.38"  # type: ignore[union-attr]
    points = Change.points(rate, before).figure
    assert points is not None
    # Presented as the difference of the presented rates (86.13 - 70.19), not the rounded
    # exact difference (15.945... -> 15.95); the exact value is published beside it.
    assert (before.presented, points.presented) == ("70.19", "15.94")
    assert present(points.fraction) == "15.95"
    assert points.fraction == Fraction(118, 137) * 100 - Fraction(113, 161) * 100


def test_zero_bases_are_undefined() -> None:
    assert Figure.rate(0, 0) is None
    relative = Change.relative(5, 0)
    assert (relative.status, relative.figure) == (ChangeStatus.UNDEFINED, None)
    points = Change.points(Figure.rate(1, 2), None)
    assert (points.status, points.figure) == (ChangeStatus.UNDEFINED, None)
    assert json.loads(relative.to_json_bytes()) == {
        "unit": "percent",
        "status": "undefined",
        "figure": None,
    }
    with pytest.raises(ValidationError):
        Change.model_validate({"unit": "percent", "status": "defined", "figure": None})


def test_snapshot_example_matches_the_helpers() -> None:
    snap = parse(ClearanceSnapshot, example(ClearanceSnapshot))
    assert snap.rate == Figure.rate(snap.cleared, snap.filed)
    for comparison in (snap.year_on_year, snap.previous_period):
        assert comparison.rate == Figure.rate(comparison.cleared, comparison.filed)
        assert comparison.filed_change == Change.relative(snap.filed, comparison.filed)
        assert comparison.rate_change == Change.points(snap.rate, comparison.rate)
    assert snap.kafka_key() == "custom/criminal/all"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cleared": 138}, "cleared exceeds filed"),
        ({"start": "2025-05-01"}, "start is after end"),
        ({"filed": 0, "cleared": 0}, "rate is null exactly when filed is 0"),
        ({"scope": "zone"}, "scope all: no ids"),
        ({"region_id": "hailar"}, "scope all: no ids"),
        ({"window": "1y"}, "window"),
        ({"rate": {"exact": "86.13", "value": 86.13, "presented": "86.13"}}, "pattern"),
    ],
)
def test_snapshot_invariants(changes: dict[str, Any], message: str) -> None:
    assert message in str(rejected(ClearanceSnapshot, {**example(ClearanceSnapshot), **changes}))


def test_snapshot_keys_per_scope() -> None:
    base = example(ClearanceSnapshot)
    zone = parse(ClearanceSnapshot, {**base, "window": "30d", "scope": "zone", "zone_id": "z07"})
    assert zone.kafka_key() == "30d/criminal/zone/z07"
    region = parse(ClearanceSnapshot, {**base, "scope": "region", "region_id": "hailar"})
    assert region.kafka_key() == "custom/criminal/region/hailar"
    assert {w.value for w in ClearanceWindow} >= {"7d", "30d", "90d", "mtd", "qtd"}
    assert {s.value for s in ClearanceScope} == {"all", "region", "zone"}


# --- dead letters -------------------------------------------------------------------------------


def test_dead_letter_header_names_follow_kafka_connect() -> None:
    assert HEADER_PREFIX == "patrolflow.errors."
    connect = {h.replace(HEADER_PREFIX, "__connect.errors.") for h in ERROR_HEADERS}
    assert connect >= {
        "__connect.errors.topic",
        "__connect.errors.partition",
        "__connect.errors.offset",
        "__connect.errors.stage",
        "__connect.errors.exception.class.name",
        "__connect.errors.exception.message",
    }
    assert ERRORS_TIMESTAMP == "patrolflow.errors.timestamp"
    assert len(set(ERROR_HEADERS)) == len(ERROR_HEADERS) == 7


def test_error_headers_from_a_validation_error() -> None:
    exc = rejected(IncidentReported, {**with_personal_data(), "priority": 7})
    at = datetime(2025, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)
    headers = error_headers(
        topics.INCIDENTS_REPORTED, 3, 4711, "intake.incidents_reported", exc, at=at
    )
    assert [name for name, _ in headers] == list(ERROR_HEADERS)
    values = {name: value.decode() for name, value in headers}
    assert values[ERRORS_TOPIC] == "incidents.reported"
    assert values[ERRORS_PARTITION] == "3"
    assert values[ERRORS_OFFSET] == "4711"
    assert values[ERRORS_STAGE] == "intake.incidents_reported"
    assert values[ERRORS_EXCEPTION_CLASS] == "ValidationError"
    assert "priority" in values[ERRORS_EXCEPTION_MESSAGE]
    assert "less_than_equal" in values[ERRORS_EXCEPTION_MESSAGE]
    assert int(values[ERRORS_TIMESTAMP]) == int(at.timestamp()) * 1000 + 123
    assert all(isinstance(v, bytes) for _, v in headers)


def test_exception_messages_never_echo_unknown_text() -> None:
    secret = f"caller {PHONE}"
    assert PHONE not in describe_exception(KeyError(secret))
    assert "KeyError" in describe_exception(KeyError(secret))
    assert describe_exception(SafeMessageError("unknown region r9")) == "unknown region r9"
    with pytest.raises(json.JSONDecodeError) as bad_json:
        json.loads('{"phone": ' + PHONE + "x}")
    assert PHONE not in describe_exception(bad_json.value)
    with pytest.raises(UnicodeDecodeError) as bad_utf8:
        (b"\xff" + PHONE.encode()).decode()
    assert PHONE not in describe_exception(bad_utf8.value)
    assert "byte 0" in describe_exception(bad_utf8.value)
    long = describe_exception(SafeMessageError("x" * 5000 + "\n" + "y"))
    assert len(long) == MAX_MESSAGE_CHARS
    assert "\n" not in long


def test_dead_letter_headers_with_a_prerendered_message() -> None:
    headers = dead_letter_headers(
        topic="units.telemetry",
        partition=0,
        offset=9,
        stage="intake.units_telemetry",
        error_class="EmptyValue",
        error_message="record\nhas no value",
    )
    values = dict(headers)
    assert values[ERRORS_EXCEPTION_MESSAGE] == b"record has no value"
    wall_ms = datetime.now(UTC).timestamp() * 1000
    assert abs(int(values[ERRORS_TIMESTAMP]) - wall_ms) < 60_000
    with pytest.raises(ValueError, match="aware"):
        dead_letter_headers(
            topic="t",
            partition=0,
            offset=0,
            stage="s",
            error_class="E",
            error_message="m",
            at=datetime(2025, 1, 1),
        )


def test_redead_lettering_replaces_old_error_headers() -> None:
    original = [
        ("trace", b"abc"),
        *dead_letter_headers(
            topic="t", partition=0, offset=1, stage="s", error_class="E", error_message="m"
        ),
    ]
    assert without_error_headers(original) == [("trace", b"abc")]


# --- the registry ---------------------------------------------------------------------------


def test_registry_covers_every_topic_once() -> None:
    assert [c.topic for c in CONTRACTS] == list(topics.ALL_TOPICS)
    assert set(BY_TOPIC) == set(topics.ALL_TOPICS)
    assert len({c.channel_id for c in CONTRACTS}) == len(CONTRACTS)
    assert len({c.message_name for c in CONTRACTS}) == len(CONTRACTS)
    with pytest.raises(KeyError, match="no contract"):
        contract_for("incidents.reportd")


def test_registry_directions_and_models() -> None:
    for contract in CONTRACTS:
        if contract.topic in topics.INPUT_TOPICS:
            assert contract.action is Action.RECEIVE
            assert contract.model is not None
            assert issubclass(contract.model, InputModel)
            assert {"ce_id", "ce_source", "ce_type", "ce_time"} <= set(contract.headers)
        else:
            assert contract.action is Action.SEND
            if contract.model is not None:
                assert issubclass(contract.model, OutputModel)
                assert contract.model.__name__ == contract.message_name
    assert contract_for(topics.DEAD_LETTERS).model is None
    assert set(contract_for(topics.DEAD_LETTERS).headers) == set(ERROR_HEADERS)
    assert contract_for(topics.INCIDENTS_REPORTED).model is IncidentReported
