from django_cron.locks.cache import CacheLock

__all__ = ["CacheLock"]
