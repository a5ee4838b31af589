"""Event-loop delay: sleep a known interval and measure how much later the loop woke us (pure).

Every agent, timer and the web server share the worker's one event loop; a CPU-bound step or a
synchronous call in any of them delays all the others. A sleep that wakes late measures exactly
that, whatever caused it. No Faust here: ``streams.observability.agents`` runs the probe in the
worker, and the tests run it in a plain asyncio loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

#: Long enough to cost nothing, short enough that a stall of a few hundred ms is seen.
PROBE_INTERVAL_S = 0.5


async def measure_delay(
    interval_s: float = PROBE_INTERVAL_S, clock: Callable[[], float] = time.monotonic
) -> float:
    """Sleep ``interval_s``; return how many seconds later than that we woke (never negative)."""
    started = clock()
    await asyncio.sleep(interval_s)
    # asyncio may wake a timer up to its clock resolution early: that is no delay.
    return max(0.0, clock() - started - interval_s)


async def probe_forever(
    observe: Callable[[float], None], interval_s: float = PROBE_INTERVAL_S
) -> None:
    """Measure and report the delay, one sleep after another, until cancelled."""
    while True:
        observe(await measure_delay(interval_s))
