"""Dispatch: which units an incident gets, and the region state that commits them.

Pure logic (no Faust, no aiokafka imports), typed, with plain values in and out:

- :mod:`streams.dispatch.policy`: the dispatch policy — capability matrix, run cards by
  category and priority, per-force speed profile, thresholds — its JSON file loader and its
  Markdown rendering (``docs/dispatch-policy.md``).
- :mod:`streams.dispatch.spatial`: :class:`~streams.dispatch.spatial.UnitIndex`, a uniform grid
  over a local metric plane that yields free units in exact increasing distance order.
- :mod:`streams.dispatch.selection`: :func:`~streams.dispatch.selection.choose`, one decision per
  open run-card slot: eligibility, ranking by ETA, the own-zone near tie and the post coverage
  rule.
- :mod:`streams.dispatch.bench`: the decision-time benchmark (100, 1,000 and 10,000 units).
"""
