"""The region core: everything that happens in a dispatch region, in order, on one worker.

Intake re-keys every accepted input by dispatch region into one internal topic; the region
agent owns the unit and incident tables and the event-time clock, and calls the pure logic of
dispatch (and, later, response) on each event.
"""
