"""The dispatch policy: validation, the default run cards, the policy file, the published doc."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from schemas.incidents import IncidentCategory
from schemas.units import Force
from streams.dispatch.policy import (
    NEVER_DISPATCHED,
    PRIORITIES,
    DispatchPolicy,
    PolicyError,
    SlotSpec,
    default_policy,
    eta_s,
    load_policy,
    policy_table_markdown,
    policy_to_json,
    render_policy_doc,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "dispatch-policy.md"
C = IncidentCategory
F = Force


def slot(label: str, *forces: Force) -> SlotSpec:
    return SlotSpec(forces=frozenset(forces), label=label)


def with_card(
    policy: DispatchPolicy, category: IncidentCategory, priority: int, card: tuple[SlotSpec, ...]
) -> DispatchPolicy:
    run_cards = dict(policy.run_cards)
    run_cards[(category, priority)] = card
    return dataclasses.replace(policy, run_cards=run_cards)


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# --- the default policy ----------------------------------------------------------------------


def test_every_category_has_a_capability_entry_and_a_run_card_per_priority() -> None:
    policy = default_policy()
    assert set(policy.capabilities) == set(IncidentCategory)
    assert set(policy.run_cards) == {(c, p) for c in IncidentCategory for p in PRIORITIES}


def test_invalid_and_non_police_dispatch_nothing() -> None:
    policy = default_policy()
    assert {C.INVALID, C.NON_POLICE} == NEVER_DISPATCHED
    for category in NEVER_DISPATCHED:
        assert policy.capabilities[category] == frozenset()
        assert not policy.dispatched(category)
        for priority in PRIORITIES:
            assert policy.slots(category, priority) == ()


def test_every_dispatched_category_sends_at_least_one_unit_at_every_priority() -> None:
    policy = default_policy()
    for category in set(IncidentCategory) - NEVER_DISPATCHED:
        assert policy.dispatched(category)
        for priority in PRIORITIES:
            card = policy.slots(category, priority)
            assert card, (category, priority)
            # The first slot never waits for anything (no volunteers first).
            assert Force.VOLUNTEER not in card[0].forces


def test_every_slot_asks_only_for_capable_forces() -> None:
    policy = default_policy()
    for (category, _), card in policy.run_cards.items():
        for spec in card:
            assert spec.forces
            assert spec.forces <= policy.capabilities[category]


def test_default_run_cards_follow_the_domain() -> None:
    policy = default_policy()

    def forces(category: IncidentCategory, priority: int) -> list[frozenset[Force]]:
        return [s.forces for s in policy.slots(category, priority)]

    # The example: a priority-1 criminal call gets one station unit plus one SWAT unit.
    assert forces(C.CRIMINAL, 1) == [{F.STATION}, {F.SWAT}]
    assert forces(C.CRIMINAL, 2) == [{F.STATION}]
    assert forces(C.TRAFFIC, 1)[0] == {F.TRAFFIC}
    assert forces(C.FIRE, 2) == [{F.FIRE}]
    assert policy.capabilities[C.CRIMINAL] == {F.STATION, F.SWAT}
    assert policy.capabilities[C.TRAFFIC] >= {F.TRAFFIC}
    assert policy.capabilities[C.FIRE] >= {F.FIRE}


def test_volunteers_only_in_volunteer_slots_after_a_community_slot() -> None:
    policy = default_policy()
    volunteer_cards = 0
    for (category, priority), card in policy.run_cards.items():
        for i, spec in enumerate(card):
            if Force.VOLUNTEER in spec.forces:
                volunteer_cards += 1
                assert spec.forces == {Force.VOLUNTEER}
                assert any(s.forces == {Force.COMMUNITY} for s in card[:i])
                assert policy.volunteers_allowed(category, priority)
    assert volunteer_cards > 0  # the rule above is not vacuous


@pytest.mark.parametrize(
    ("category", "priority"),
    [(C.CRIMINAL, p) for p in PRIORITIES]
    + [(C.FIRE, p) for p in PRIORITIES]
    + [(C.PUBLIC_ORDER, 1), (C.DISPUTE, 1)],
)
def test_volunteers_never_to_criminal_fire_or_violent_calls(
    category: IncidentCategory, priority: int
) -> None:
    policy = default_policy()
    assert not policy.volunteers_allowed(category, priority)
    assert all(Force.VOLUNTEER not in s.forces for s in policy.slots(category, priority))


def test_volunteers_allowed_on_a_minor_dispute() -> None:
    assert default_policy().volunteers_allowed(C.DISPUTE, 3)


def test_speed_profile_covers_every_force_and_volunteers_walk() -> None:
    policy = default_policy()
    assert set(policy.speed_mps) == set(Force)
    assert policy.speed_mps[F.VOLUNTEER] < policy.speed_mps[F.COMMUNITY]
    assert policy.speed_mps[F.COMMUNITY] < policy.speed_mps[F.STATION]


def test_defaults_are_the_decided_ones() -> None:
    # decisions.md, "Unit status": stale 120 s, acknowledgement 30 s, 3 attempts per slot.
    policy = default_policy()
    assert policy.stale_after_s == 120
    assert policy.ack_timeout_s == 30
    assert policy.max_attempts_per_slot == 3


def test_eta_is_distance_times_detour_over_the_force_speed() -> None:
    policy = dataclasses.replace(default_policy(), detour_factor=1.5)
    speeds = policy.speed_mps
    assert eta_s(1000.0, F.STATION, policy) == pytest.approx(1000.0 * 1.5 / speeds[F.STATION])
    assert eta_s(1000.0, F.VOLUNTEER, policy) == pytest.approx(1000.0 * 1.5 / speeds[F.VOLUNTEER])
    assert eta_s(0.0, F.FIRE, policy) == 0.0
    # A slower force needs longer for the same distance.
    assert eta_s(500.0, F.COMMUNITY, policy) > eta_s(500.0, F.STATION, policy)


def test_policy_is_immutable() -> None:
    policy = default_policy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.detour_factor = 2.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        policy.capabilities[C.CRIMINAL] = frozenset()  # type: ignore[index]


# --- validation ------------------------------------------------------------------------------


def problems_of(make: Any) -> str:
    with pytest.raises(PolicyError) as info:
        make()
    return str(info.value)


def test_a_missing_category_or_run_card_is_named() -> None:
    policy = default_policy()
    capabilities = dict(policy.capabilities)
    del capabilities[C.RESCUE]
    run_cards = dict(policy.run_cards)
    del run_cards[(C.DISPUTE, 2)]
    text = problems_of(
        lambda: dataclasses.replace(policy, capabilities=capabilities, run_cards=run_cards)
    )
    assert "capabilities: category rescue is missing" in text
    assert "run_cards.dispute.2: missing" in text


def test_a_slot_beyond_the_capability_matrix_is_rejected() -> None:
    text = problems_of(
        lambda: with_card(default_policy(), C.TRAFFIC, 2, (slot("primary", F.FIRE),))
    )
    assert "run_cards.traffic.2[0] (primary)" in text
    assert "fire not in capabilities.traffic" in text


def test_never_dispatched_categories_must_stay_empty() -> None:
    text = problems_of(
        lambda: with_card(default_policy(), C.INVALID, 1, (slot("primary", F.STATION),))
    )
    assert "invalid is never dispatched" in text


@pytest.mark.parametrize(
    ("card", "expected"),
    [
        ((slot("escort", F.VOLUNTEER),), "must follow a community-only slot"),
        (
            (slot("primary", F.STATION), slot("escort", F.VOLUNTEER)),
            "must follow a community-only slot",
        ),
        (
            (slot("primary", F.COMMUNITY), slot("escort", F.VOLUNTEER, F.COMMUNITY)),
            "volunteers only in volunteer-only slots",
        ),
    ],
)
def test_volunteers_never_alone(card: tuple[SlotSpec, ...], expected: str) -> None:
    assert expected in problems_of(lambda: with_card(default_policy(), C.DISPUTE, 3, card))


def test_volunteers_to_a_violent_call_are_rejected() -> None:
    card = (slot("primary", F.COMMUNITY), slot("escort", F.VOLUNTEER))
    text = problems_of(lambda: with_card(default_policy(), C.DISPUTE, 1, card))
    assert "never sent to dispute priority 1" in text


def test_volunteers_in_the_capabilities_of_a_forbidden_category_are_rejected() -> None:
    policy = default_policy()
    capabilities = dict(policy.capabilities)
    capabilities[C.FIRE] = capabilities[C.FIRE] | {F.VOLUNTEER}
    text = problems_of(lambda: dataclasses.replace(policy, capabilities=capabilities))
    assert "capabilities.fire: lists volunteer" in text


def test_bad_numbers_are_named() -> None:
    policy = default_policy()
    speeds = dict(policy.speed_mps)
    speeds[F.SWAT] = 0.0
    text = problems_of(
        lambda: dataclasses.replace(
            policy, speed_mps=speeds, detour_factor=0.9, post_margin_s=-1.0, ack_timeout_s=0.0
        )
    )
    assert "speed_mps.swat" in text
    assert "detour_factor" in text
    assert "post_margin_s" in text
    assert "ack_timeout_s" in text
    assert "4 problems" in text


# --- the policy file -------------------------------------------------------------------------


def test_the_full_json_form_round_trips(tmp_path: Path) -> None:
    policy = default_policy()
    assert load_policy(write(tmp_path, policy_to_json(policy))) == policy


def test_an_empty_file_is_the_default(tmp_path: Path) -> None:
    assert load_policy(write(tmp_path, {})) == default_policy()


def test_a_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "description": "faster community e-bikes; bigger post margin",
            "speed_mps": {"community": 9.5},
            "post_margin_s": 90,
            "run_cards": {"other": {"3": [{"label": "primary", "forces": ["community"]}]}},
            "violent_calls": {"public_order": [1, 2]},
        },
    )
    policy = load_policy(path)
    base = default_policy()
    assert policy.speed_mps[F.COMMUNITY] == 9.5
    assert policy.speed_mps[F.STATION] == base.speed_mps[F.STATION]
    assert policy.post_margin_s == 90
    assert policy.slots(C.OTHER, 3) == (slot("primary", F.COMMUNITY),)
    assert policy.slots(C.OTHER, 2) == base.slots(C.OTHER, 2)
    assert policy.violent_calls == {(C.PUBLIC_ORDER, 1), (C.PUBLIC_ORDER, 2)}
    expected = dataclasses.replace(
        base,
        speed_mps=dict(base.speed_mps) | {F.COMMUNITY: 9.5},
        post_margin_s=90,
        run_cards=dict(base.run_cards) | {(C.OTHER, 3): (slot("primary", F.COMMUNITY),)},
        violent_calls=frozenset({(C.PUBLIC_ORDER, 1), (C.PUBLIC_ORDER, 2)}),
    )
    assert policy == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"post_margine_s": 60}, "post_margine_s: Extra inputs are not permitted"),
        ({"speed_mps": {"helicopter": 50}}, "speed_mps.helicopter"),
        ({"speed_mps": {"swat": -1}}, "speed_mps.swat"),
        ({"run_cards": {"fire": {"4": []}}}, "run_cards.fire.4"),
        ({"run_cards": {"fire": {"1": [{"label": "primary", "forces": []}]}}}, "forces"),
        ({"detour_factor": 0.5}, "detour_factor"),
        ([], "top level: expected a JSON object"),
    ],
)
def test_file_errors_name_the_member(tmp_path: Path, data: Any, expected: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_a_semantic_error_in_a_file_names_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"run_cards": {"criminal": {"3": [{"label": "escort", "forces": ["volunteer"]}]}}},
    )
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert info.value.source == str(path)
    assert any("run_cards.criminal.3[0] (escort)" in p for p in info.value.problems)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read the file"):
        load_policy(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"detour_factor": 1.3,\n}', encoding="utf-8")
    with pytest.raises(PolicyError, match=r"not valid JSON: .* line 2"):
        load_policy(bad)


# --- the published tables --------------------------------------------------------------------


def test_markdown_has_a_row_per_category_in_both_tables() -> None:
    text = policy_table_markdown(default_policy())
    sections = {s.split("\n", 1)[0]: s for s in text.split("### ")[1:]}
    for title in ("Capability matrix", "Run cards"):
        rows = [line for line in sections[title].splitlines() if line.startswith("| ")][1:]
        assert [row.split(" | ")[0][2:] for row in rows] == [c.value for c in IncidentCategory]
    assert "| criminal | station (primary) + swat (backup) |" in text


def test_markdown_follows_the_policy() -> None:
    policy = with_card(default_policy(), C.OTHER, 1, (slot("primary", F.COMMUNITY),))
    assert "| other | community (primary) |" in policy_table_markdown(policy)
    assert "| other | community (primary) |" not in policy_table_markdown(default_policy())


def test_the_published_policy_doc_is_not_stale() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert render_policy_doc(text, default_policy()) == text, (
        "docs/dispatch-policy.md is stale: run `python -m streams.dispatch.policy`"
    )
    assert policy_table_markdown(default_policy()) in text
