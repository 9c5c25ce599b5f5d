"""
Schedules kept in the database, and one-off runs: their rules (``rules``),
their planning as they are saved (``planning``), the Python API (``api``)
and how one-off runs are shown (``listing``). The job a row runs is
``django_cron.definitions``'s business.

Nothing is imported here: the models' receivers connect when apps.py
imports ``rules`` and ``planning``.
"""
