"""The committed contract artefacts: fresh, valid AsyncAPI 3.0.0, one channel per topic."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry

from schemas import topics
from schemas.export import (
    ASYNCAPI_FILE,
    CITY_SCHEMA_FILE,
    DEFAULT_OUT_DIR,
    JSON_DIR,
    export,
    render,
)
from schemas.registry import BY_TOPIC, CONTRACTS, Action

VENDOR = DEFAULT_OUT_DIR / "vendor"
ASYNCAPI_SCHEMA = VENDOR / "asyncapi-3.0.0.schema.json"
STALE = "stale contract artefacts: run `patrolflow schemas export` and commit the result"


def _no_network(uri: str) -> Any:
    raise AssertionError(
        f"schema validation tried to fetch {uri}: the vendored file must be self-contained"
    )


@cache
def asyncapi_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(ASYNCAPI_SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, registry=Registry(retrieve=_no_network))  # type: ignore[call-arg]


def committed_asyncapi() -> dict[str, Any]:
    return json.loads((DEFAULT_OUT_DIR / ASYNCAPI_FILE).read_text(encoding="utf-8"))


def _relative_files(root: Path) -> set[str]:
    found = {ASYNCAPI_FILE} if (root / ASYNCAPI_FILE).exists() else set()
    return found | {f"{JSON_DIR}/{p.name}" for p in (root / JSON_DIR).glob("*.schema.json")}


# --- freshness ----------------------------------------------------------------------------------


def test_committed_artefacts_are_fresh(tmp_path: Path) -> None:
    written = export(tmp_path)
    fresh = _relative_files(tmp_path)
    assert {str(p.relative_to(tmp_path)) for p in written} == fresh
    assert _relative_files(DEFAULT_OUT_DIR) == fresh, STALE
    for name in sorted(fresh):
        new = (tmp_path / name).read_bytes()
        old = (DEFAULT_OUT_DIR / name).read_bytes()
        assert new == old, f"{name}: {STALE}"


def test_export_is_deterministic_and_prunes_stale_files(tmp_path: Path) -> None:
    first = {p: p.read_bytes() for p in export(tmp_path)}
    (tmp_path / JSON_DIR / "renamed.schema.json").write_text("{}\n", encoding="utf-8")
    second = {p: p.read_bytes() for p in export(tmp_path)}
    assert first == second
    assert not (tmp_path / JSON_DIR / "renamed.schema.json").exists()
    for path, content in second.items():
        text = content.decode("utf-8")
        assert text.endswith("}\n"), path
        assert not text.endswith("\n\n"), path
        assert render(json.loads(text)) == text, f"{path} is not in canonical form"


# --- AsyncAPI -------------------------------------------------------------------------------


def test_vendored_schema_is_the_recorded_file() -> None:
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    match = re.search(r"sha256 of the file \| `([0-9a-f]{64})`", readme)
    assert match, "vendor/README.md must record the vendored file's sha256"
    assert hashlib.sha256(ASYNCAPI_SCHEMA.read_bytes()).hexdigest() == match.group(1)
    assert re.search(r"`@asyncapi/specs` \*\*\d+\.\d+\.\d+\*\*", readme)
    assert (VENDOR / "LICENSE").exists()


def test_asyncapi_document_is_valid_asyncapi_3() -> None:
    document = committed_asyncapi()
    assert document["asyncapi"] == "3.0.0"
    errors = sorted(asyncapi_validator().iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message[:300]}" for e in errors[:10])


@pytest.mark.parametrize(
    "breakage",
    [
        pytest.param(
            lambda d: d["operations"]["receiveIncidentReported"].update(action="publish"),
            id="asyncapi-2-action",
        ),
        pytest.param(
            lambda d: d["channels"]["incidentsReported"].update(address=7),
            id="address-not-a-string",
        ),
        pytest.param(
            lambda d: d["components"]["messages"]["Assignment"]["bindings"]["kafka"].update(
                bindingVersion="9.9.9"
            ),
            id="unknown-kafka-binding",
        ),
        pytest.param(lambda d: d["info"].pop("version"), id="no-info-version"),
        pytest.param(
            lambda d: d["components"]["schemas"]["Assignment"].update(type="strin"),
            id="payload-schema-invalid",
        ),
    ],
)
def test_the_asyncapi_check_can_fail(breakage: Any) -> None:
    document = copy.deepcopy(committed_asyncapi())
    breakage(document)
    assert not asyncapi_validator().is_valid(document)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_every_topic_has_a_channel_message_and_operation() -> None:
    document = committed_asyncapi()
    by_address = {c["address"]: (cid, c) for cid, c in document["channels"].items()}
    assert set(by_address) == set(topics.ALL_TOPICS)
    operations = list(document["operations"].values())
    for topic in topics.ALL_TOPICS:
        channel_id, channel = by_address[topic]
        assert "PATROLFLOW_TOPIC_PREFIX" in channel["description"]
        (message_ref,) = channel["messages"].values()
        message = _resolve(document, message_ref["$ref"])
        assert message["name"] == BY_TOPIC[topic].message_name
        assert "payload" in message
        assert "key" in message["bindings"]["kafka"]
        ops = [o for o in operations if o["channel"]["$ref"] == f"#/channels/{channel_id}"]
        assert [o["action"] for o in ops] == [BY_TOPIC[topic].action.value], topic
        for op in ops:
            for ref in op["messages"]:
                assert _resolve(document, ref["$ref"]) == message_ref


def test_inputs_document_cloudevents_headers_and_the_extra_field_policy() -> None:
    document = committed_asyncapi()
    assert document["defaultContentType"] == "application/json"
    assert "ignored" in document["info"]["description"]  # the tolerant-reader rule
    for contract in CONTRACTS:
        message = document["components"]["messages"][contract.message_name]
        if contract.action is Action.RECEIVE:
            headers = _resolve(document, message["headers"]["$ref"])
            assert {"ce_id", "ce_source", "ce_type", "ce_time"} <= set(headers["properties"])
            assert "ignored" in message["description"]
            payload = _resolve(document, message["payload"]["$ref"])
            assert payload.get("additionalProperties", True) is not False
        elif contract.model is not None:
            payload = _resolve(document, message["payload"]["$ref"])
            assert payload["additionalProperties"] is False
            assert set(payload["required"]) == set(payload["properties"])  # always present


def test_dead_letter_channel_documents_bytes_and_error_headers() -> None:
    document = committed_asyncapi()
    message = document["components"]["messages"][BY_TOPIC[topics.DEAD_LETTERS].message_name]
    assert "type" not in message["payload"]  # any bytes
    headers = _resolve(document, message["headers"]["$ref"])
    assert set(BY_TOPIC[topics.DEAD_LETTERS].headers) <= set(headers["required"])


# --- JSON Schema files ----------------------------------------------------------------------


def _json_schema(name: str) -> dict[str, Any]:
    return json.loads((DEFAULT_OUT_DIR / JSON_DIR / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "name", [c.schema_file for c in CONTRACTS if c.schema_file] + [CITY_SCHEMA_FILE]
)
def test_json_schema_files_are_valid_2020_12(name: str) -> None:
    schema = _json_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("contract", [c for c in CONTRACTS if c.model], ids=lambda c: c.topic)
def test_json_schema_agrees_with_the_model(contract: Any) -> None:
    assert contract.schema_file is not None
    validator = jsonschema.Draft202012Validator(
        _json_schema(contract.schema_file), format_checker=jsonschema.FormatChecker()
    )
    examples = _json_schema(contract.schema_file)["examples"]
    assert examples
    for example in examples:
        validator.validate(example)
        # What patrolflow writes (or re-serialises) matches the published schema, too.
        parsed = contract.model.model_validate(example)  # examples lie in the past
        validator.validate(json.loads(parsed.model_dump_json()))
    # And the schema rejects what the model rejects: a wrong type for every required field.
    for field in _json_schema(contract.schema_file)["required"]:
        broken = {**examples[0], field: [["not", "valid"]]}
        assert not validator.is_valid(broken), f"{contract.topic}.{field}"
