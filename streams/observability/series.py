"""Labelled counters start at 0 for every label combination that is bounded and known at start.

A labelled prometheus_client counter has no series until its first ``.labels(...)`` call, so
``rate()``/``increase()`` cannot see its first increment (the series appears at 1) and a panel or
rule over it returns nothing, not 0, until something happened. Creating the children at start
fixes both. Only fixed enums qualify: topics, dead-letter reasons, categories, forces, outcomes,
alert kinds. Per-region state gauges are deliberately absent: a worker exports only the regions
it owns (``docs/metrics.md``), so a 0 from a worker that does not own a region would be a lie.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import product

from prometheus_client import Counter

from schemas import topics
from schemas.alerts import AlertKind
from schemas.dispatch import AssignmentOutcome
from schemas.incidents import IncidentCategory
from schemas.units import Force
from streams.dispatch import metrics as dispatch
from streams.intake import metrics as intake
from streams.intake.decode import RejectReason
from streams.region import metrics as region
from streams.response import metrics as response

#: Outcomes of a dispatch decision that name a unit (labelled by its force) and that never do
#: (labelled ``none``), as ``streams.region.agents`` counts them.
WITH_UNIT = (AssignmentOutcome.ASSIGNED, AssignmentOutcome.MANUAL)
WITHOUT_UNIT = (
    AssignmentOutcome.UNASSIGNED,
    AssignmentOutcome.UNFILLED,
    AssignmentOutcome.NOT_DISPATCHED,
)


def initial_series() -> list[tuple[Counter, tuple[str, ...]]]:
    """Every (counter, label values) created at start."""
    series: list[tuple[Counter, tuple[str, ...]]] = []

    def add(counter: Counter, combos: Iterable[tuple[str, ...]]) -> None:
        series.extend((counter, combo) for combo in combos)

    add(intake.RECORDS, product(topics.INPUT_TOPICS, ("accepted", "dead_lettered")))
    add(intake.DEAD_LETTERS, product(topics.INPUT_TOPICS, [r.value for r in RejectReason]))
    add(region.INCIDENTS, [(c.value,) for c in IncidentCategory])
    add(dispatch.ASSIGNMENTS, product([f.value for f in Force], [o.value for o in WITH_UNIT]))
    add(dispatch.ASSIGNMENTS, [("none", o.value) for o in WITHOUT_UNIT])
    add(response.BREACHES, [(k.value,) for k in AlertKind if k is not AlertKind.RESOLVED])
    return series


def initialise() -> int:
    """Create the series at 0 (idempotent: an existing child keeps its value); returns how many."""
    series = initial_series()
    for counter, labels in series:
        counter.labels(*labels)
    return len(series)
