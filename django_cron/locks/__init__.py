"""
Lock backends: named leases with a time to live and an owner token.

``get_lock()`` returns the backend that DJANGO_CRON["LOCK_BACKEND"] names,
built with DJANGO_CRON["LOCK_OPTIONS"].
"""

from django.utils.module_loading import import_string

from .. import conf


def get_lock():
    backend = import_string(conf.get("LOCK_BACKEND"))
    return backend(**conf.get("LOCK_OPTIONS"))
