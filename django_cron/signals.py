from django.dispatch import Signal

# Sent after each successful run, as in 2009. ``sender`` is the job instance
# (the function, for function jobs); keyword arguments: ``name`` and ``run``.
cron_done = Signal()

# Sent by the runner around each run. ``sender`` is the job instance (the
# function, for function jobs); keyword arguments: ``name`` and ``run``, and
# ``exception`` for job_failed (None when the run timed out).
job_started = Signal()
job_succeeded = Signal()
job_failed = Signal()

# Sent once a run's outcome is in the history (after job_succeeded or
# job_failed, which come before). ``sender`` is the registered class or
# function; keyword arguments: ``name`` and ``run``, the finished JobRun.
run_finished = Signal()
