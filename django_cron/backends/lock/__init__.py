"""
Tivix django-cron's lock backends, by their old paths.

DJANGO_CRON_LOCK_BACKEND naming one of them selects the matching lock of
django_cron.locks (see django_cron.compat.tivix.LOCK_BACKENDS); the names
below are importable for code that refers to them.
"""
