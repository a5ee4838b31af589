"""Case clearance figures: filed, cleared (cohort), rates and their comparisons.

Pure logic lives in :mod:`~streams.clearance.periods` (calendar spans and their comparison
spans), :mod:`~streams.clearance.figures` (exact rates and changes, bulletin presentation) and
:mod:`~streams.clearance.ledger` (the case ledger the agents back with tables). None of them
imports Faust or aiokafka.
"""
