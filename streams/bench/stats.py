"""Pure figures: percentiles and summaries of latency samples."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values (NaN for none)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max/mean in milliseconds of samples given in seconds."""
    values = sorted(seconds)
    ms = {f"p{p}_ms": percentile(values, p) * 1000 for p in (50, 95, 99)}
    ms["max_ms"] = values[-1] * 1000 if values else math.nan
    ms["mean_ms"] = sum(values) / len(values) * 1000 if values else math.nan
    return ms


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float:
    """Prometheus' ``histogram_quantile`` over cumulative (upper bound, count) buckets.

    Linear interpolation inside the bucket, as Prometheus does; the +Inf bucket answers with
    the highest finite bound. NaN when there are no observations.
    """
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return math.nan
    rank = q * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound
