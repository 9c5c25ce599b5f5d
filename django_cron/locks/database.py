from django.db import IntegrityError, transaction

from .. import conf
from ..clock import DbNow, db_now_plus
from ..models import Lock
from .base import BaseLock, fit_key, new_token

KEY_LENGTH = Lock._meta.get_field("key").max_length


class DatabaseLock(BaseLock):
    """
    Leases in the project's database, timed by the database server's clock.

    Taking a lock is one conditional UPDATE of an expired row, or an INSERT
    when the row does not exist yet; the primary key settles races between
    two inserts. Nothing is read first.
    """

    def __init__(self, using=None):
        self.using = using or conf.database()

    def _locks(self):
        return Lock.objects.using(self.using)

    def acquire(self, key, ttl):
        key = fit_key(key, KEY_LENGTH)
        token = new_token()
        expires = db_now_plus(ttl)
        if (
            self._locks()
            .filter(key=key, expires_at__lt=DbNow())
            .update(token=token, expires_at=expires)
        ):
            return token
        try:
            with transaction.atomic(using=self.using):
                self._locks().create(key=key, token=token, expires_at=expires)
        except IntegrityError:
            return None
        return token

    def extend(self, key, token, ttl):
        key = fit_key(key, KEY_LENGTH)
        return bool(
            self._locks()
            .filter(key=key, token=token, expires_at__gte=DbNow())
            .update(expires_at=db_now_plus(ttl))
        )

    def release(self, key, token):
        key = fit_key(key, KEY_LENGTH)
        return bool(self._locks().filter(key=key, token=token).delete()[0])
