"""``patrolflow bench``: end-to-end figures against the raw aiokafka client, in the same run.

Sections (each bounded in count and time, each writing ``bench-results/<section>.json``):
``ceiling`` (a raw consumer reading and decoding the pre-loaded inputs), ``throughput`` (one
worker through the whole pipeline), ``scale_out`` (two workers against one), ``latency``
(incident published -> assignment received, at-least-once and exactly-once) and ``scale``
(decision time and worker RSS at 100 / 1,000 / 10,000 units and 50,000 open incidents).
Every run uses fresh topics and a fresh application id, deleted afterwards.
"""
