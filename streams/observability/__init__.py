"""What on-call engineers and supervisors see: the metric catalogue and the worker's health metrics.

``catalogue`` lists every metric patrolflow exports (ours and Faust's sensors) and renders
``docs/metrics.md``; ``lag`` computes consumer lag per topic/partition; ``loop`` measures
event-loop delay; ``series`` lists the labelled counters created at 0; ``metrics`` defines the
lag gauge and the loop-delay histogram. All of these are pure: importing them starts no worker
and connects to nothing. ``agents`` (loaded by the worker only) wires them into the Faust app.
"""
