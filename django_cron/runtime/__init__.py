"""
What runs a pass, below the runner: the job state rows (``states``), the life
of a run (``runs``), calling a job (``execution``) with its heartbeat, alerts
and outbound pings, connection upkeep and history pruning.
"""
