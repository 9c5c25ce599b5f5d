import math

from django.core.cache import caches

from .base import BaseLock, fit_key, new_token

# memcached refuses keys over 250 bytes, and Django adds its prefix and version.
KEY_LENGTH = 200


class CacheLock(BaseLock):
    """
    Leases in any Django cache with an atomic ``add()``: memcached, the database
    cache, Redis.

    Taking a lock is one ``add()``, which only one caller can win. The cache
    API has no compare-and-set, so extend() and release() read the token and
    then act: an owner whose lease expired in between could touch a new
    owner's lock. The runner's claim does not rest on the lock (the database's
    conditional UPDATE settles each slot), so that window can at worst let a
    long job overlap itself; use RedisLock where that matters.
    """

    # The cache backends this lock works with, for the system checks.
    needs_cache = "any"

    def __init__(self, alias="default", prefix="django_cron:lock:"):
        self.alias = alias
        self.prefix = prefix

    @property
    def cache(self):
        return caches[self.alias]

    @staticmethod
    def _timeout(ttl):
        # Caches count whole seconds (memcached only knows integers).
        return max(1, math.ceil(ttl.total_seconds()))

    def _key(self, key):
        return fit_key(self.prefix + key, KEY_LENGTH)

    def acquire(self, key, ttl):
        token = new_token()
        return token if self.cache.add(self._key(key), token, self._timeout(ttl)) else None

    def extend(self, key, token, ttl):
        if self.cache.get(self._key(key)) != token:
            return False
        return self.cache.touch(self._key(key), self._timeout(ttl))

    def release(self, key, token):
        if self.cache.get(self._key(key)) != token:
            return False
        return self.cache.delete(self._key(key))
