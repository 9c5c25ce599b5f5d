"""
Operator keys: secrets for the operator API, each with the scopes it allows.

A key is 32 random bytes, URL-safe, shown once when it is made and never
stored: the table keeps its SHA-256 digest. A key that long needs no salt or
slow hash (those protect passwords people choose), and looking a digest up by
equality tells a guesser nothing about the key. The ping key is not one of
these: it only triggers runs and reads health (credentials.py).
"""

import hashlib
import secrets
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from . import conf
from .models import OperatorKey

# What each scope allows (docs/api.rst, "Credentials").
SCOPES = ("read", "run", "pause", "schedule")
# A prefix that says what the secret is, in a leaked log or a secret scanner.
PREFIX = "dcr_"
# A key used again within this many seconds does not write its last use again.
LAST_USED_EVERY = 60


class BadKey(ValueError):
    """A name or scope list that a key cannot have; says which and why."""


def _keys():
    return OperatorKey.objects.using(conf.database())


def digest(key: str) -> str:
    """Return the SHA-256 of ``key`` in hex, as the table stores it."""
    # surrogatepass: a header can hold anything; every string hashes, none raises.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def parse_scopes(text) -> list:
    """Return the scopes a comma-separated string (or a list) names; raise BadKey if unknown."""
    names = text.split(",") if isinstance(text, str) else list(text)
    scopes = [name.strip() for name in names if name.strip()]
    unknown = [name for name in scopes if name not in SCOPES]
    if unknown or not scopes:
        raise BadKey(
            f"unknown scope {', '.join(map(repr, unknown))}" if unknown else "no scope given"
        )
    return sorted(set(scopes), key=SCOPES.index)


def create(name: str, scopes, created_by: str = "") -> tuple[OperatorKey, str]:
    """Make a key; return its row and the key itself, which nothing keeps."""
    name = name.strip()
    if not name or len(name) > OperatorKey._meta.get_field("name").max_length:
        raise BadKey("a key's name must have 1 to 100 characters")
    if not name.isprintable():
        raise BadKey("a key's name must be printable")
    if _keys().filter(name=name).exists():
        raise BadKey(f"a key named {name!r} exists already (cron key list)")
    key = PREFIX + secrets.token_urlsafe(32)
    row = _keys().create(
        name=name,
        digest=digest(key),
        scopes=",".join(parse_scopes(scopes)),
        created_by=created_by,
    )
    return row, key


def revoke(name: str) -> OperatorKey | None:
    """Revoke the key ``name``; return it, or None if no key of that name is still valid."""
    row = _keys().filter(name=name, revoked_at__isnull=True).first()
    if row is None:
        return None
    now = timezone.now()
    if not _keys().filter(pk=row.pk, revoked_at__isnull=True).update(revoked_at=now):
        return None  # revoked by someone else meanwhile
    row.revoked_at = now
    return row


def find(given: str) -> OperatorKey | None:
    """
    Return the key row whose key is ``given`` (revoked or not), or None.

    A right key and a wrong one cost the same: one digest and one lookup by
    it. The digest read back is compared again in constant time, so that a
    database whose comparison ignores case still matches only the same key.
    """
    wanted = digest(given)
    row = _keys().filter(digest=wanted).first()
    if row is not None and constant_time_compare(row.digest, wanted):
        return row
    return None


def mark_used(row: OperatorKey) -> None:
    """Note that ``row`` was used now; a key in steady use writes once a minute at most."""
    now = timezone.now()
    since = now - timedelta(seconds=LAST_USED_EVERY)
    if row.last_used_at is not None and row.last_used_at >= since:
        return  # noted a moment ago, as the row read for this request says
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=since)
    _keys().filter(stale, pk=row.pk).update(last_used_at=now)
    row.last_used_at = now
