from django.dispatch import Signal

# Sent after each successful run, as in 2009. ``sender`` is the job instance
# (the function, for function jobs); keyword arguments: ``name`` and ``run``.
cron_done = Signal()
