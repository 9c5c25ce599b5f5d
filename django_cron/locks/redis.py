from django_redis import get_redis_connection
from redis.exceptions import LockError

from .base import BaseLock, new_token


class RedisLock(BaseLock):
    """
    Leases in Redis, through the client of a django-redis cache alias.

    Built on redis-py's Lock: SET NX PX to take a lock, and its Lua scripts to
    extend or release it only for the token that holds it. Redis times every
    lease with its own clock, so app servers need not agree on the time.
    """

    needs_cache = "django_redis.cache.RedisCache"

    def __init__(self, alias="default", prefix="django_cron:lock:"):
        self.alias = alias
        self.prefix = prefix

    def _lock(self, key, ttl=None, token=None):
        lock = get_redis_connection(self.alias).lock(
            self.prefix + key,
            timeout=ttl.total_seconds() if ttl is not None else None,
            blocking=False,
        )
        # A new Lock for each call, given the caller's token: the heartbeat
        # thread extends the lease that its runner took.
        if token is not None:
            lock.local.token = lock.redis.get_encoder().encode(token)
        return lock

    def acquire(self, key, ttl):
        token = new_token()
        return token if self._lock(key, ttl).acquire(token=token) else None

    def extend(self, key, token, ttl):
        try:
            return self._lock(key, ttl, token).extend(ttl.total_seconds(), replace_ttl=True)
        except LockError:
            return False

    def release(self, key, token):
        try:
            self._lock(key, token=token).release()
        except LockError:
            return False
        return True
