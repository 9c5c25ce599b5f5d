# No lock files here: a lock in the database works across servers too.
from django_cron.locks.database import DatabaseLock as FileLock

__all__ = ["FileLock"]
