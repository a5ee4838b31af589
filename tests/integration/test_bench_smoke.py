"""`patrolflow bench all --smoke` against the real broker: every section, real positive figures.

The bench itself is not part of the test run (minutes of load); this runs each section with tiny
counts, as a user would from the command line, and reads the JSON it writes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]


def test_bench_smoke_writes_every_section(kafka_bootstrap: str, tmp_path: Path) -> None:
    out = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "streams", "bench", "all", "--smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "targets (issue 9)" in done.stdout
    written = sorted(out.glob("bench-*.json"))
    assert len(written) == 1
    results = json.loads(written[0].read_text())
    assert results == json.loads((out / "latest.json").read_text())
    events = results["meta"]["config"]["events"]

    ceiling = results["ceiling"]
    assert ceiling["complete"]
    assert ceiling["messages"] == events == ceiling["accepted"]
    assert ceiling["messages_per_s"] > 0
    assert ceiling["read_only_messages_per_s"] > 0

    for key, workers in (("throughput", 1), ("scale_out", 2)):
        run = results[key]
        assert run["workers"] == workers
        assert run["complete"], run
        assert run["events_per_s"] > 0
        assert run["ratio_to_ceiling"] > 0
        assert all(rss > 0 for rss in run["worker_rss_mb"])
    assert results["scale_out"]["speedup"] > 0

    latency = {run["guarantee"]: run for run in results["latency"]}
    assert set(latency) == {"at_least_once", "exactly_once"}
    for run in latency.values():
        assert run["incidents"] > 0
        assert run["missing"] == 0, run
        assert 0 < run["p50_ms"] <= run["p95_ms"] <= run["p99_ms"] <= run["max_ms"]

    scale = results["scale"]
    assert [row["units"] for row in scale["decisions"]] == [10, 50]
    assert all(row["p99_us"] > 0 for row in scale["decisions"])
    steps = scale["steps"]
    assert all(step["rss_mb"] > 0 for step in steps)
    last = steps[-1]
    incidents = results["meta"]["config"]["open_incidents"]
    assert last["units"] == 50
    assert last["open_incidents"] == incidents
    assert scale["worker_decisions"] >= incidents
    assert scale["worker_decision_mean_us"] > 0

    # Every target judged; with smoke counts most say "not measured" (not their conditions).
    assert len(results["targets"]) == 5
    assert results["targets"][0]["verdict"] in {"met", "missed"}
