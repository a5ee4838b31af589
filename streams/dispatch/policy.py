"""The dispatch policy: who may go to what, how many units, how fast, and the thresholds.

A :class:`DispatchPolicy` is immutable and validated on construction (:class:`PolicyError`
lists every problem). It holds:

- the **capability matrix** (``capabilities``): for every incident category, the forces that
  may be sent to it at all. ``invalid`` and ``non_police`` are never dispatched: their entry
  is empty and so are their run cards;
- the **run cards** (``run_cards``): for every category and priority 1..3, the unit slots an
  incident gets, in order. Each :class:`SlotSpec` wants one unit from any of its forces;
- the **speed profile** (``speed_mps``) per force and the ``detour_factor``, which make an ETA
  out of a straight-line distance (:func:`eta_s`);
- the thresholds of selection and of the region's lifecycle (staleness, the own-zone near tie,
  the post coverage margin and radius, attempts per slot, the acknowledgement timeout).

**Volunteers** (义, peace volunteer police) are never sent alone and never into danger:

- they appear only in volunteer-only slots (``forces == {volunteer}``) that follow, in the same
  run card, a community-only slot; selection fills such a slot only when a community unit is
  assigned to the same incident (see :mod:`streams.dispatch.selection`);
- never to a category in ``volunteer_never_to`` (criminal, fire) and never to a call in
  ``violent_calls``, the (category, priority) pairs treated as violent or dangerous: a
  priority-1 public-order call (a fight, a crowd turning) and a priority-1 dispute (a dispute
  that has become violence). :meth:`DispatchPolicy.volunteers_allowed` is the one test.

The default (:func:`default_policy`) is rendered in ``docs/dispatch-policy.md`` by
:func:`policy_table_markdown`; ``python -m streams.dispatch.policy`` rewrites that block. A
deployment may override any part with a JSON file (:func:`load_policy`).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.incidents import IncidentCategory
from schemas.units import Force

__all__ = [
    "DOC_BEGIN",
    "DOC_END",
    "NEVER_DISPATCHED",
    "PRIORITIES",
    "DispatchPolicy",
    "PolicyError",
    "SlotSpec",
    "default_policy",
    "eta_s",
    "load_policy",
    "policy_from_json",
    "policy_table_markdown",
    "policy_to_json",
    "render_policy_doc",
]

#: Incident priorities: 1 = emergency, 2 = urgent, 3 = routine.
PRIORITIES: Final = (1, 2, 3)
#: Categories that are counted but never dispatched (decisions.md, "Categories").
NEVER_DISPATCHED: Final = frozenset({IncidentCategory.INVALID, IncidentCategory.NON_POLICE})
#: Markers of the generated block in ``docs/dispatch-policy.md``.
DOC_BEGIN: Final = "<!-- BEGIN GENERATED: python -m streams.dispatch.policy -->"
DOC_END: Final = "<!-- END GENERATED -->"

_LABEL_PATTERN: Final = r"^[a-z][a-z0-9_]{0,63}$"


class PolicyError(ValueError):
    """A dispatch policy that cannot be used. ``problems``: one line per problem, naming the
    member (and category, priority, slot or force) and what is wrong; ``source``: the file, if
    the policy came from one."""

    def __init__(self, problems: Iterable[str], *, source: str | None = None) -> None:
        self.source = source
        self.problems: tuple[str, ...] = tuple(problems) or ("unknown problem",)
        what = "invalid dispatch policy" + (f" {source}" if source else "")
        if len(self.problems) == 1:
            message = f"{what}: {self.problems[0]}"
        else:
            lines = "".join(f"\n  - {p}" for p in self.problems)
            message = f"{what} ({len(self.problems)} problems):{lines}"
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class SlotSpec:
    """One unit wanted from any of ``forces``; ``label`` names the slot's role (``primary``,
    ``backup``, ``volunteer_escort`` ...) in docs and logs."""

    forces: frozenset[Force]
    label: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "forces", frozenset(Force(f) for f in self.forces))

    def describe(self) -> str:
        """``station or community``: the forces in :class:`Force` order."""
        return " or ".join(f.value for f in Force if f in self.forces)


def _slot(label: str, *forces: Force) -> SlotSpec:
    return SlotSpec(forces=frozenset(forces), label=label)


@dataclass(frozen=True)
class DispatchPolicy:
    """Capability matrix, run cards, speed profile and thresholds. Validated on construction.

    Mappings are stored read-only. Equality compares every member.
    """

    #: Which forces may be sent to a category at all (every category; empty: never dispatched).
    capabilities: Mapping[IncidentCategory, frozenset[Force]]
    #: The slots an incident gets, by (category, priority); every combination present.
    run_cards: Mapping[tuple[IncidentCategory, int], tuple[SlotSpec, ...]]
    #: Urban travel speed of each force, metres per second (every force).
    speed_mps: Mapping[Force, float]
    #: Route distance / straight-line distance.
    detour_factor: float = 1.3
    #: Telemetry older than this (event time) makes a unit ineligible.
    stale_after_s: float = 120.0
    #: A unit in the incident's own zone wins over one from another zone whose ETA is at most
    #: this much better.
    own_zone_preference_s: float = 15.0
    #: A unit at a staffed post is chosen only when no other eligible unit's ETA is within this
    #: margin of its own.
    post_margin_s: float = 60.0
    #: A unit whose telemetry names a post counts as at that post within this radius of it.
    post_radius_m: float = 150.0
    #: Categories volunteers are never sent to.
    volunteer_never_to: frozenset[IncidentCategory] = frozenset(
        {IncidentCategory.CRIMINAL, IncidentCategory.FIRE}
    )
    #: (category, priority) pairs treated as violent or dangerous: no volunteers either.
    violent_calls: frozenset[tuple[IncidentCategory, int]] = frozenset(
        {(IncidentCategory.PUBLIC_ORDER, 1), (IncidentCategory.DISPUTE, 1)}
    )
    #: Dispatch attempts per slot before the region reports it unfilled.
    max_attempts_per_slot: int = 3
    #: A dispatched unit that has not acknowledged within this time is re-dispatched.
    ack_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        problems: list[str] = []
        capabilities = _freeze_capabilities(self.capabilities, problems)
        run_cards = _freeze_run_cards(self.run_cards, problems)
        speeds = {Force(f): v for f, v in self.speed_mps.items()}
        object.__setattr__(self, "capabilities", MappingProxyType(capabilities))
        object.__setattr__(self, "run_cards", MappingProxyType(run_cards))
        object.__setattr__(self, "speed_mps", MappingProxyType(speeds))
        object.__setattr__(
            self,
            "volunteer_never_to",
            frozenset(IncidentCategory(c) for c in self.volunteer_never_to),
        )
        object.__setattr__(
            self,
            "violent_calls",
            frozenset((IncidentCategory(c), int(p)) for c, p in self.violent_calls),
        )
        problems.extend(self._problems())
        if problems:
            raise PolicyError(problems)

    # --- questions selection and the region ask ----------------------------------------------

    def slots(self, category: IncidentCategory, priority: int) -> tuple[SlotSpec, ...]:
        """The run card of (category, priority); empty for categories never dispatched."""
        return self.run_cards[(IncidentCategory(category), priority)]

    def dispatched(self, category: IncidentCategory) -> bool:
        """Whether the category is ever dispatched (a non-empty capability entry)."""
        return bool(self.capabilities[IncidentCategory(category)])

    def volunteers_allowed(self, category: IncidentCategory, priority: int) -> bool:
        """Whether volunteers may go to a call of this category and priority at all (they still
        need a community unit on the incident)."""
        category = IncidentCategory(category)
        return (
            Force.VOLUNTEER in self.capabilities[category]
            and category not in self.volunteer_never_to
            and (category, priority) not in self.violent_calls
        )

    # --- validation ---------------------------------------------------------------------------

    def _problems(self) -> list[str]:
        problems: list[str] = []
        for category in IncidentCategory:
            if category not in self.capabilities:
                problems.append(f"capabilities: category {category.value} is missing")
        for category in NEVER_DISPATCHED:
            if self.capabilities.get(category):
                problems.append(
                    f"capabilities.{category.value}: never dispatched, must be empty "
                    f"(has {_forces(self.capabilities[category])})"
                )
        for category in self.volunteer_never_to:
            if Force.VOLUNTEER in self.capabilities.get(category, frozenset()):
                problems.append(
                    f"capabilities.{category.value}: lists volunteer, but volunteer_never_to "
                    f"names {category.value}"
                )
        for category in IncidentCategory:
            for priority in PRIORITIES:
                if (category, priority) not in self.run_cards:
                    problems.append(f"run_cards.{category.value}.{priority}: missing")
        for (category, priority), card in self.run_cards.items():
            problems.extend(self._card_problems(category, priority, card))
        for force in Force:
            speed = self.speed_mps.get(force)
            if speed is None:
                problems.append(f"speed_mps: force {force.value} is missing")
            elif not (math.isfinite(speed) and speed > 0):
                problems.append(f"speed_mps.{force.value}: must be a positive number, not {speed}")
        if not (math.isfinite(self.detour_factor) and self.detour_factor >= 1.0):
            problems.append(f"detour_factor: must be >= 1, not {self.detour_factor}")
        for name in ("stale_after_s", "own_zone_preference_s", "post_margin_s", "post_radius_m"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                problems.append(f"{name}: must be a non-negative number, not {value}")
        if not (math.isfinite(self.ack_timeout_s) and self.ack_timeout_s > 0):
            problems.append(f"ack_timeout_s: must be positive, not {self.ack_timeout_s}")
        if self.max_attempts_per_slot < 1:
            problems.append(
                f"max_attempts_per_slot: must be at least 1, not {self.max_attempts_per_slot}"
            )
        for category, priority in sorted(self.violent_calls):
            if priority not in PRIORITIES:
                problems.append(f"violent_calls.{category.value}: priority {priority} not in 1..3")
        return problems

    def _card_problems(
        self, category: IncidentCategory, priority: int, card: tuple[SlotSpec, ...]
    ) -> list[str]:
        where = f"run_cards.{category.value}.{priority}"
        problems: list[str] = []
        if priority not in PRIORITIES:
            return [f"{where}: priority must be 1, 2 or 3"]
        if category in NEVER_DISPATCHED and card:
            return [f"{where}: {category.value} is never dispatched, the run card must be empty"]
        if len(card) > 64:
            problems.append(f"{where}: at most 64 slots")
        capable = self.capabilities.get(category, frozenset())
        community_before = False
        for i, slot in enumerate(card):
            at = f"{where}[{i}] ({slot.label})"
            if not slot.forces:
                problems.append(f"{at}: names no force")
                continue
            beyond = slot.forces - capable
            if beyond:
                problems.append(
                    f"{at}: {_forces(beyond)} not in capabilities.{category.value} "
                    f"({_forces(capable) or 'nothing'})"
                )
            if Force.VOLUNTEER in slot.forces:
                if slot.forces != {Force.VOLUNTEER}:
                    problems.append(f"{at}: volunteers only in volunteer-only slots")
                elif not community_before:
                    problems.append(
                        f"{at}: a volunteer slot must follow a community-only slot "
                        "(volunteers go only alongside a community unit)"
                    )
                if category in self.volunteer_never_to or (category, priority) in (
                    self.violent_calls
                ):
                    problems.append(
                        f"{at}: volunteers are never sent to {category.value} "
                        f"priority {priority} (volunteer_never_to / violent_calls)"
                    )
            if slot.forces == {Force.COMMUNITY}:
                community_before = True
        return problems


def _forces(forces: Iterable[Force]) -> str:
    chosen = set(forces)
    return ", ".join(f.value for f in Force if f in chosen)


def _freeze_capabilities(
    raw: Mapping[IncidentCategory, Iterable[Force]], problems: list[str]
) -> dict[IncidentCategory, frozenset[Force]]:
    frozen: dict[IncidentCategory, frozenset[Force]] = {}
    for category, forces in raw.items():
        try:
            frozen[IncidentCategory(category)] = frozenset(Force(f) for f in forces)
        except ValueError as exc:
            problems.append(f"capabilities.{category}: {exc}")
    return frozen


def _freeze_run_cards(
    raw: Mapping[tuple[IncidentCategory, int], Iterable[SlotSpec]], problems: list[str]
) -> dict[tuple[IncidentCategory, int], tuple[SlotSpec, ...]]:
    frozen: dict[tuple[IncidentCategory, int], tuple[SlotSpec, ...]] = {}
    for key, card in raw.items():
        try:
            category, priority = key
            frozen[(IncidentCategory(category), int(priority))] = tuple(card)
        except (ValueError, TypeError) as exc:
            problems.append(f"run_cards.{key}: {exc}")
    return frozen


def eta_s(distance_m: float, force: Force, policy: DispatchPolicy) -> float:
    """Estimated time of arrival in seconds: straight-line ``distance_m`` x detour factor /
    the force's speed."""
    return distance_m * policy.detour_factor / policy.speed_mps[force]


# --- the default policy ----------------------------------------------------------------------

_C = IncidentCategory
_F = Force

_DEFAULT_CAPABILITIES: Final[Mapping[IncidentCategory, frozenset[Force]]] = MappingProxyType(
    {
        _C.CRIMINAL: frozenset({_F.STATION, _F.SWAT}),
        _C.PUBLIC_ORDER: frozenset({_F.STATION, _F.SWAT, _F.COMMUNITY, _F.ARMED_POLICE}),
        _C.TRAFFIC: frozenset({_F.TRAFFIC, _F.STATION}),
        _C.FIRE: frozenset({_F.FIRE, _F.TRAFFIC}),
        _C.RESCUE: frozenset({_F.COMMUNITY, _F.STATION, _F.VOLUNTEER}),
        _C.DISPUTE: frozenset({_F.COMMUNITY, _F.STATION, _F.VOLUNTEER}),
        _C.OTHER: frozenset({_F.COMMUNITY, _F.STATION}),
        _C.INVALID: frozenset(),
        _C.NON_POLICE: frozenset(),
    }
)

_PRIMARY_STATION = _slot("primary", _F.STATION)
_PRIMARY_COMMUNITY = _slot("primary", _F.COMMUNITY)
_PRIMARY_COMMUNITY_OR_STATION = _slot("primary", _F.STATION, _F.COMMUNITY)
_VOLUNTEER_ESCORT = _slot("volunteer_escort", _F.VOLUNTEER)

_DEFAULT_RUN_CARDS: Final[Mapping[tuple[IncidentCategory, int], tuple[SlotSpec, ...]]] = (
    MappingProxyType(
        {
            # 刑事: a case-handling team always; SWAT joins an emergency.
            (_C.CRIMINAL, 1): (_PRIMARY_STATION, _slot("backup", _F.SWAT)),
            (_C.CRIMINAL, 2): (_PRIMARY_STATION,),
            (_C.CRIMINAL, 3): (_PRIMARY_STATION,),
            # 治安: violent or crowd events get SWAT or the armed police as backup.
            (_C.PUBLIC_ORDER, 1): (_PRIMARY_STATION, _slot("backup", _F.SWAT, _F.ARMED_POLICE)),
            (_C.PUBLIC_ORDER, 2): (_PRIMARY_COMMUNITY_OR_STATION,),
            (_C.PUBLIC_ORDER, 3): (_PRIMARY_COMMUNITY_OR_STATION,),
            # 交通事故: traffic police; an emergency also gets a station unit.
            (_C.TRAFFIC, 1): (_slot("primary", _F.TRAFFIC), _slot("backup", _F.STATION)),
            (_C.TRAFFIC, 2): (_slot("primary", _F.TRAFFIC),),
            (_C.TRAFFIC, 3): (_slot("primary", _F.TRAFFIC),),
            # 火灾: the fire service; an emergency also gets traffic police to hold the road.
            (_C.FIRE, 1): (_slot("primary", _F.FIRE), _slot("traffic_control", _F.TRAFFIC)),
            (_C.FIRE, 2): (_slot("primary", _F.FIRE),),
            (_C.FIRE, 3): (_slot("primary", _F.FIRE),),
            # 群众求助: whoever is nearest; minor assistance is community work with volunteers.
            (_C.RESCUE, 1): (_PRIMARY_COMMUNITY_OR_STATION,),
            (_C.RESCUE, 2): (_PRIMARY_COMMUNITY_OR_STATION,),
            (_C.RESCUE, 3): (_PRIMARY_COMMUNITY, _VOLUNTEER_ESCORT),
            # 纠纷: community work; a dispute turned violent gets a station unit and no volunteers.
            (_C.DISPUTE, 1): (_PRIMARY_STATION, _slot("backup", _F.COMMUNITY)),
            (_C.DISPUTE, 2): (_PRIMARY_COMMUNITY, _VOLUNTEER_ESCORT),
            (_C.DISPUTE, 3): (_PRIMARY_COMMUNITY, _VOLUNTEER_ESCORT),
            (_C.OTHER, 1): (_PRIMARY_COMMUNITY_OR_STATION,),
            (_C.OTHER, 2): (_PRIMARY_COMMUNITY_OR_STATION,),
            (_C.OTHER, 3): (_PRIMARY_COMMUNITY_OR_STATION,),
        }
        | {(c, p): () for c in (_C.INVALID, _C.NON_POLICE) for p in PRIORITIES}
    )
)

_DEFAULT_SPEEDS: Final[Mapping[Force, float]] = MappingProxyType(
    {
        _F.SWAT: 11.0,
        _F.STATION: 11.0,
        _F.TRAFFIC: 11.0,
        _F.ARMED_POLICE: 11.0,
        _F.FIRE: 11.0,
        _F.COMMUNITY: 8.0,
        _F.VOLUNTEER: 1.4,
    }
)


def default_policy() -> DispatchPolicy:
    """The default policy, modelled on the Hailar mechanism (see ``docs/dispatch-policy.md``).

    Vehicles of SWAT, stations, traffic police, the armed police and the fire service make
    about 11 m/s (40 km/h) in town, community teams about 8 m/s (e-bikes, foot and car mixed),
    volunteers walk (1.4 m/s).
    """
    return DispatchPolicy(
        capabilities=_DEFAULT_CAPABILITIES,
        run_cards=_DEFAULT_RUN_CARDS,
        speed_mps=_DEFAULT_SPEEDS,
    )


# --- the policy file -------------------------------------------------------------------------

_Label = Annotated[str, Field(pattern=_LABEL_PATTERN)]
_Priority = Annotated[int, Field(ge=1, le=3)]
_NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]


class _SlotFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    label: _Label
    forces: list[Force] = Field(min_length=1)


class _PolicyFile(BaseModel):
    """A policy file. Every member is optional; what is given overrides the default policy:
    ``capabilities`` per category, ``run_cards`` per (category, priority), ``speed_mps`` per
    force; the other members as a whole."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str | None = None
    capabilities: dict[IncidentCategory, list[Force]] | None = None
    run_cards: dict[IncidentCategory, dict[_Priority, list[_SlotFile]]] | None = None
    speed_mps: dict[Force, Annotated[float, Field(gt=0.0, allow_inf_nan=False)]] | None = None
    detour_factor: Annotated[float, Field(ge=1.0, allow_inf_nan=False)] | None = None
    stale_after_s: _NonNegative | None = None
    own_zone_preference_s: _NonNegative | None = None
    post_margin_s: _NonNegative | None = None
    post_radius_m: _NonNegative | None = None
    volunteer_never_to: list[IncidentCategory] | None = None
    violent_calls: dict[IncidentCategory, list[_Priority]] | None = None
    max_attempts_per_slot: Annotated[int, Field(ge=1, le=100)] | None = None
    ack_timeout_s: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = None


def load_policy(path: Path | str) -> DispatchPolicy:
    """Load a policy file (JSON, the shape :func:`policy_to_json` writes) over the default.

    Every member is optional. ``capabilities`` override the default per category,
    ``run_cards`` per category and priority (``{"dispute": {"2": [{"label": "primary",
    "forces": ["community"]}]}}``), ``speed_mps`` per force; scalars, ``volunteer_never_to``
    and ``violent_calls`` replace the default as a whole. Unknown members are errors (a typo
    must not silently fall back to a default). Raises :class:`PolicyError` naming the file and
    every problem.
    """
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise PolicyError([f"cannot read the file: {exc.strerror or exc}"], source=source) from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PolicyError(
            [f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"], source=source
        ) from None
    except UnicodeDecodeError as exc:
        raise PolicyError([f"not UTF-8 text: {exc.reason}"], source=source) from None
    return policy_from_json(data, source=source)


def policy_from_json(data: object, *, source: str = "<policy>") -> DispatchPolicy:
    """Build a policy from a decoded policy file (see :func:`load_policy`)."""
    if not isinstance(data, dict):
        raise PolicyError(["top level: expected a JSON object"], source=source)
    try:
        file = _PolicyFile.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'top level'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        ]
        raise PolicyError(problems, source=source) from None

    base = default_policy()
    capabilities = dict(base.capabilities)
    for category, forces in (file.capabilities or {}).items():
        capabilities[category] = frozenset(forces)
    run_cards = dict(base.run_cards)
    for category, cards in (file.run_cards or {}).items():
        for priority, slots in cards.items():
            run_cards[(category, priority)] = tuple(
                SlotSpec(forces=frozenset(s.forces), label=s.label) for s in slots
            )
    speeds = dict(base.speed_mps) | dict(file.speed_mps or {})
    scalars: dict[str, Any] = {
        name: getattr(file, name)
        for name in (
            "detour_factor",
            "stale_after_s",
            "own_zone_preference_s",
            "post_margin_s",
            "post_radius_m",
            "max_attempts_per_slot",
            "ack_timeout_s",
        )
        if getattr(file, name) is not None
    }
    if file.volunteer_never_to is not None:
        scalars["volunteer_never_to"] = frozenset(file.volunteer_never_to)
    if file.violent_calls is not None:
        scalars["violent_calls"] = frozenset(
            (c, p) for c, priorities in file.violent_calls.items() for p in priorities
        )
    try:
        return DispatchPolicy(
            capabilities=capabilities, run_cards=run_cards, speed_mps=speeds, **scalars
        )
    except PolicyError as exc:
        raise PolicyError(exc.problems, source=source) from None


def policy_to_json(policy: DispatchPolicy) -> dict[str, Any]:
    """The complete policy as a policy file (JSON-ready), e.g. to start a file of your own."""
    categories = list(IncidentCategory)
    return {
        "capabilities": {
            c.value: [f.value for f in Force if f in policy.capabilities[c]] for c in categories
        },
        "run_cards": {
            c.value: {
                str(p): [
                    {"label": s.label, "forces": [f.value for f in Force if f in s.forces]}
                    for s in policy.run_cards[(c, p)]
                ]
                for p in PRIORITIES
            }
            for c in categories
        },
        "speed_mps": {f.value: policy.speed_mps[f] for f in Force},
        "detour_factor": policy.detour_factor,
        "stale_after_s": policy.stale_after_s,
        "own_zone_preference_s": policy.own_zone_preference_s,
        "post_margin_s": policy.post_margin_s,
        "post_radius_m": policy.post_radius_m,
        "volunteer_never_to": [c.value for c in categories if c in policy.volunteer_never_to],
        "violent_calls": {
            c.value: [p for p in PRIORITIES if (c, p) in policy.violent_calls]
            for c in categories
            if any((c, p) in policy.violent_calls for p in PRIORITIES)
        },
        "max_attempts_per_slot": policy.max_attempts_per_slot,
        "ack_timeout_s": policy.ack_timeout_s,
    }


# --- the published tables --------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:g}"


def _card_cell(card: tuple[SlotSpec, ...]) -> str:
    if not card:
        return "— (never dispatched)"
    parts = []
    for slot in card:
        text = f"{slot.describe()} ({slot.label})"
        if Force.VOLUNTEER in slot.forces:
            text += ", only alongside the community unit"
        parts.append(text)
    return " + ".join(parts)


def policy_table_markdown(policy: DispatchPolicy) -> str:
    """The capability matrix, the run cards and the parameters as Markdown tables."""
    forces = list(Force)
    lines = [
        "### Capability matrix",
        "",
        "Which forces may be sent to a category at all (✓). Run cards choose among these.",
        "",
        "| category | " + " | ".join(f.value for f in forces) + " |",
        "|---|" + "|".join(":-:" for _ in forces) + "|",
    ]
    for category in IncidentCategory:
        capable = policy.capabilities[category]
        cells = ["✓" if f in capable else "" for f in forces]
        lines.append(f"| {category.value} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "### Run cards",
        "",
        "The slots an incident gets, in order: one unit per slot from any of the forces named "
        "(slot label in brackets).",
        "",
        "| category | priority 1 (emergency) | priority 2 (urgent) | priority 3 (routine) |",
        "|---|---|---|---|",
    ]
    for category in IncidentCategory:
        cells = [_card_cell(policy.run_cards[(category, p)]) for p in PRIORITIES]
        lines.append(f"| {category.value} | " + " | ".join(cells) + " |")
    violent = ", ".join(f"{c.value} priority {p}" for c, p in sorted(policy.violent_calls))
    lines += [
        "",
        "### Volunteers",
        "",
        "Volunteers go only in volunteer-only slots that follow a community-only slot, and are "
        "chosen only when a community unit is assigned to the same incident. Never to: "
        + (", ".join(c.value for c in IncidentCategory if c in policy.volunteer_never_to) or "—")
        + "; nor to calls treated as violent: "
        + (violent or "—")
        + ".",
        "",
        "### Speeds and thresholds",
        "",
        "| force | speed (m/s) | speed (km/h) |",
        "|---|--:|--:|",
    ]
    for force in forces:
        speed = policy.speed_mps[force]
        lines.append(f"| {force.value} | {_number(speed)} | {_number(round(speed * 3.6, 1))} |")
    lines += [
        "",
        "| parameter | value |",
        "|---|--:|",
        f"| `detour_factor` | {_number(policy.detour_factor)} |",
        f"| `stale_after_s` | {_number(policy.stale_after_s)} |",
        f"| `own_zone_preference_s` | {_number(policy.own_zone_preference_s)} |",
        f"| `post_margin_s` | {_number(policy.post_margin_s)} |",
        f"| `post_radius_m` | {_number(policy.post_radius_m)} |",
        f"| `max_attempts_per_slot` | {policy.max_attempts_per_slot} |",
        f"| `ack_timeout_s` | {_number(policy.ack_timeout_s)} |",
    ]
    return "\n".join(lines) + "\n"


def render_policy_doc(document: str, policy: DispatchPolicy) -> str:
    """``document`` with the block between :data:`DOC_BEGIN` and :data:`DOC_END` replaced by
    :func:`policy_table_markdown` of ``policy``."""
    start = document.find(DOC_BEGIN)
    end = document.find(DOC_END)
    if start < 0 or end < start:
        raise ValueError("the document has no generated block (DOC_BEGIN ... DOC_END)")
    head = document[: start + len(DOC_BEGIN)]
    return f"{head}\n\n{policy_table_markdown(policy)}\n{document[end:]}"


def _main(argv: list[str]) -> int:
    """``python -m streams.dispatch.policy [DOC]``: rewrite the generated block of the doc
    (default ``docs/dispatch-policy.md``) from the default policy."""
    target = Path(argv[0] if argv else "docs/dispatch-policy.md")
    text = target.read_text(encoding="utf-8")
    updated = render_policy_doc(text, default_policy())
    if updated != text:
        target.write_text(updated, encoding="utf-8")
        print(f"updated {target}")
    else:
        print(f"{target} is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
