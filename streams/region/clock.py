"""The event-time clock of one region: a watermark with allowed lateness, plus live ticks.

The watermark is the latest event time seen minus the allowed lateness. In live mode (event
time within ``live_window`` of the wall clock) wall-clock ticks advance it too, so deadlines
fire while inputs are quiet. Replaying old data is driven by event time alone: yesterday's
replay never fires every deadline at once.

A tick moves event time on by the wall time that passed since the latest event was read, not
to the wall clock itself: a feed that runs behind the wall clock (an upstream system a minute
late, a simulator at 5x catching up) keeps its own pace instead of being overtaken by ticks
that would make every record still on its way late and flag every unit silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(slots=True)
class RegionClock:
    lateness: timedelta = timedelta(seconds=5)
    live_window: timedelta = timedelta(minutes=3)
    max_event_time: datetime | None = None
    watermark: datetime | None = None
    #: Wall-clock time at which ``max_event_time`` was read (None: read at its own time).
    read_at: datetime | None = None

    def observe(self, event_time: datetime, wall: datetime | None = None) -> bool:
        """Account for an input event read at ``wall`` (default: at its own event time);
        True when the watermark moved."""
        if self.max_event_time is None or event_time > self.max_event_time:
            self.max_event_time = event_time
            self.read_at = wall or event_time
        return self._advance(self.max_event_time - self.lateness)

    def tick(self, wall: datetime) -> bool:
        """A wall-clock tick: advances the watermark only while the feed is live, that is,
        its latest event was read within ``live_window`` of its event time (however long the
        feed has been quiet since: a silent region's deadlines still fire).

        Before the first event nothing is known to be live: a fresh deployment that is about
        to replay yesterday must not start its clock at today's wall time (every deadline of
        the replay would then fire at once, before the arrivals that meet them are read).
        """
        if self.max_event_time is None:
            return False
        read_at = self.read_at or self.max_event_time
        if read_at - self.max_event_time > self.live_window:
            return False  # read long after it happened: a replay, driven by event time alone
        return self._advance(self.max_event_time + (wall - read_at) - self.lateness)

    def is_late(self, event_time: datetime) -> bool:
        """Later than the allowed lateness: it still counts, but deadlines may have fired."""
        return self.watermark is not None and event_time < self.watermark

    def _advance(self, candidate: datetime) -> bool:
        if self.watermark is None or candidate > self.watermark:
            self.watermark = candidate
            return True
        return False
