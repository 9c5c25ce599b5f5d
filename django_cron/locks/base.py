import hashlib
import os
import socket
import uuid
from datetime import timedelta


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
