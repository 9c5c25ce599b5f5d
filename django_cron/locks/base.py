import hashlib
import os
import socket
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.checks import Error, Warning


def new_token() -> str:
    """Return an owner token that also says where the owner runs."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def fit_key(key: str, limit: int) -> str:
    """
    Return ``key``, or if it is longer than ``limit`` characters, its start and
    a digest of the whole: readable, unique, and within what the store takes.
    """
    if len(key) <= limit:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{key[: limit - len(digest) - 1]}~{digest}"


# Caches that live inside one process: a lock there coordinates nothing.
LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def check_cache(backend, options) -> list:
    """Check the cache alias that a cache-based lock backend (``needs_cache``) names."""
    needs = backend.needs_cache
    alias = options.get("alias", "default")
    if alias not in settings.CACHES:
        return [
            Error(
                f"DJANGO_CRON['LOCK_OPTIONS'] names the cache {alias!r}, which CACHES lacks.",
                hint="Give 'alias' the name of a cache in CACHES.",
                id="django_cron.E010",
            )
        ]
    cache_backend = settings.CACHES[alias].get("BACKEND", "")
    if needs != "any" and cache_backend != needs:
        return [
            Warning(
                f"{backend.__name__} uses the cache {alias!r}, whose backend {cache_backend!r} "
                f"is not {needs}, so it has no Redis client to lock with.",
                hint=f"Point it at a cache with BACKEND '{needs}', or use CacheLock.",
                id="django_cron.W003",
            )
        ]
    if cache_backend in LOCAL_CACHES:
        return [
            Warning(
                f"{backend.__name__} uses the cache {alias!r} ({cache_backend}), which cannot "
                "coordinate processes: every process would hold its own locks.",
                hint="Use memcached, the database cache or Redis, or the default DatabaseLock.",
                id="django_cron.W002",
            )
        ]
    return []


class BaseLock:
    """
    A named lease: held by one owner, for a time to live, then free again.

    A backend never blocks: acquire() answers at once. Every lease expires on
    its own, so a holder that dies never leaves a lock behind, and only the
    holder's token can extend or release it, so an owner whose lease expired
    cannot release a lock that someone else now holds. Any key works: a
    backend whose store limits key length shortens long keys with fit_key().
    """

    def acquire(self, key: str, ttl: timedelta) -> str | None:
        """Take the lock ``key`` for ``ttl``; return an owner token, or None if held."""
        raise NotImplementedError("subclasses of BaseLock must provide an acquire() method")

    def extend(self, key: str, token: str, ttl: timedelta) -> bool:
        """Make ``token``'s lease on ``key`` last ``ttl`` from now; False if it is not held."""
        raise NotImplementedError("subclasses of BaseLock must provide an extend() method")

    def release(self, key: str, token: str) -> bool:
        """Free ``key`` if ``token`` still holds it; return whether it did."""
        raise NotImplementedError("subclasses of BaseLock must provide a release() method")

    # The cache backend a cache-based lock needs ("any" for any cache), or None.
    needs_cache = None

    @classmethod
    def check(cls, options: dict) -> list:
        """Return what ``manage.py check`` reports about this backend with ``options``."""
        return check_cache(cls, options) if cls.needs_cache is not None else []
