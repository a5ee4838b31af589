"""What on-call engineers and supervisors see: the metric catalogue and consumer-lag helpers.

``catalogue`` lists every metric patrolflow exports (ours and Faust's sensors) and renders
``docs/metrics.md``; ``lag`` computes consumer lag per topic/partition. Both are pure: importing
them starts no worker and connects to nothing.
"""
