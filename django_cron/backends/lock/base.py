from django_cron.locks.base import BaseLock as DjangoCronJobLock

__all__ = ["DjangoCronJobLock"]
