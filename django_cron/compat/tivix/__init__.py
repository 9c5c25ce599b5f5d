"""
Tivix django-cron, as a drop-in: ``CronJobBase`` and its ``Schedule``
(``jobs``, ``schedule``), ``CRON_CLASSES`` (``jobs``) and its run log
(``log``). Its settings are ``django_cron.legacy_settings``: ``conf`` reads
them, below everything here.

Tivix classes become ordinary jobs here, so they run from ``runcrons``, ``cron
run``, the middleware and the ping endpoint alike, and each slot runs once.
Their schedules keep Tivix's rules, which measure from outcomes: the interval
counts from the last successful run, a failed run is due again at the next
pass (or after ``retry_after_failure_mins``), and each time of day that passed
without a success runs, one per pass.

Nothing is imported here: each module is imported where it is used.
"""
