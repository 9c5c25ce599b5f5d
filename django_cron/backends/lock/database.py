from django_cron.locks.database import DatabaseLock

__all__ = ["DatabaseLock"]
