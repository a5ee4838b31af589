"""Results: the targets of issue 9 judged from the figures, rich tables, and the JSON file."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

#: The issue's targets (goals to chase; the bench reports what it reaches).
THROUGHPUT_RATIO = 0.4
LATENCY_P99_MS = {"at_least_once": 50.0, "exactly_once": 300.0}
LATENCY_AT_TELEMETRY_PER_S = 2000.0
DECISION_P99_RATIO = 3.0
RSS_MB = 400.0
RSS_AT = (10_000, 50_000)  # units, open incidents


def _verdict(value: float | None, limit: float, *, at_most: bool) -> str:
    if value is None or math.isnan(value):
        return "not measured"
    return "met" if (value <= limit if at_most else value >= limit) else "missed"


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per target: what was measured, the limit, met / missed / not measured."""
    rows: list[dict[str, Any]] = []
    thr = results.get("throughput")
    ratio = thr.get("ratio_to_ceiling") if thr else None
    rows.append(
        {
            "target": "throughput / ceiling",
            "limit": f">= {THROUGHPUT_RATIO}",
            "measured": ratio,
            "verdict": _verdict(ratio, THROUGHPUT_RATIO, at_most=False),
        }
    )
    for guarantee, limit in LATENCY_P99_MS.items():
        runs = [
            r
            for r in results.get("latency", [])
            if r["guarantee"] == guarantee
            and r["telemetry_per_s_target"] >= LATENCY_AT_TELEMETRY_PER_S
        ]
        # A run with incidents never answered has no honest p99: count it as missed.
        p99 = None
        if runs:
            p99 = math.inf if runs[0]["missing"] else runs[0]["p99_ms"]
        rows.append(
            {
                "target": f"incident -> assignment p99, {guarantee}, "
                f"{LATENCY_AT_TELEMETRY_PER_S:,.0f} telemetry/s",
                "limit": f"<= {limit:.0f} ms",
                "measured": p99,
                "verdict": _verdict(p99, limit, at_most=True),
            }
        )
    scale = results.get("scale") or {}
    decisions = {row["units"]: row for row in scale.get("decisions", [])}
    ratio_d = (
        decisions[10_000]["p99_us"] / decisions[100]["p99_us"]
        if 10_000 in decisions and 100 in decisions
        else None
    )
    rows.append(
        {
            "target": "decision p99 at 10,000 units / at 100",
            "limit": f"<= {DECISION_P99_RATIO}",
            "measured": ratio_d,
            "verdict": _verdict(ratio_d, DECISION_P99_RATIO, at_most=True),
        }
    )
    full = [
        s
        for s in scale.get("steps", [])
        if s["units"] >= RSS_AT[0] and s.get("open_incidents", 0) >= RSS_AT[1]
    ]
    rss = full[-1]["rss_mb"] if full else None
    rows.append(
        {
            "target": "worker RSS, 10,000 units + 50,000 open incidents",
            "limit": f"<= {RSS_MB:.0f} MB",
            "measured": rss,
            "verdict": _verdict(rss, RSS_MB, at_most=True),
        }
    )
    return rows


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _table(title: str, rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> Table:
    """Columns are (header, key); a key ``name:N`` prints N decimals (default 1)."""
    table = Table(title=title)
    for header, _ in columns:
        table.add_column(header, justify="right")
    for row in rows:
        cells = []
        for _, key in columns:
            name, _, digits = key.partition(":")
            cells.append(_f(row.get(name), int(digits or 1)))
        table.add_row(*cells)
    return table


def render(results: dict[str, Any], console: Console) -> None:
    meta = results.get("meta", {})
    console.print(
        "[bold]patrolflow bench[/] — "
        + ", ".join(f"{k} {v}" for k, v in meta.get("machine", {}).items())
    )
    if "ceiling" in results:
        c = results["ceiling"]
        console.print(
            _table(
                "ceiling: raw aiokafka consumer, same pre-loaded records",
                [c],
                [
                    ("messages", "messages"),
                    ("read+decode msg/s", "messages_per_s"),
                    ("read only msg/s", "read_only_messages_per_s"),
                ],
            )
        )
    runs = [results[k] for k in ("throughput", "scale_out") if k in results]
    if runs:
        console.print(
            _table(
                "throughput: pre-loaded mix through the whole pipeline",
                runs,
                [
                    ("workers", "workers"),
                    ("events", "events"),
                    ("seconds", "seconds"),
                    ("events/s", "events_per_s"),
                    ("/ ceiling", "ratio_to_ceiling:4"),
                    ("/ 1 worker", "speedup:2"),
                    ("committed s", "committed_seconds"),
                ],
            )
        )
    if results.get("latency"):
        console.print(
            _table(
                "latency: incident published -> first assignment record received",
                results["latency"],
                [
                    ("guarantee", "guarantee"),
                    ("telemetry/s", "telemetry_per_s_sent"),
                    ("incidents", "incidents"),
                    ("missing", "missing"),
                    ("p50 ms", "p50_ms"),
                    ("p95 ms", "p95_ms"),
                    ("p99 ms", "p99_ms"),
                    ("max ms", "max_ms"),
                    ("backlog", "input_backlog_at_end"),
                ],
            )
        )
    if "scale" in results:
        s = results["scale"]
        console.print(
            _table(
                "scale: choose() decision time (µs)",
                s.get("decisions", []),
                [
                    ("units", "units"),
                    ("p50", "p50_us"),
                    ("p99", "p99_us"),
                    ("ratio", "p99_ratio:2"),
                ],
            )
        )
        console.print(
            _table(
                "scale: worker memory",
                s.get("steps", []),
                [
                    ("units", "units"),
                    ("open incidents", "open_incidents"),
                    ("applied", "applied"),
                    ("RSS MB", "rss_mb"),
                ],
            )
        )
    table = Table(title="targets (issue 9)")
    for header in ("target", "limit", "measured", "verdict"):
        table.add_column(header)
    colour = {"met": "green", "missed": "red"}
    for row in results.get("targets", []):
        verdict = row["verdict"]
        table.add_row(
            row["target"],
            row["limit"],
            _f(row["measured"], 4 if "ceiling" in row["target"] else 2),
            f"[{colour.get(verdict, 'yellow')}]{verdict}[/]",
        )
    console.print(table)


def write(results: dict[str, Any], out_dir: Path) -> Path:
    """``<out_dir>/bench-<UTC time>.json`` and a copy as ``latest.json``; returns the first."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    # Standard JSON: a figure that does not exist (inf, NaN) is written as null.
    text = json.dumps(_finite(results), indent=2, default=str, allow_nan=False)
    path = out_dir / f"bench-{stamp}.json"
    path.write_text(text)
    (out_dir / "latest.json").write_text(text)
    return path


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
