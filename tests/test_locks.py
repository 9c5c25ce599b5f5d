"""
One suite for every lock backend, the way Django tests its session backends:
a mixin of behaviour, one subclass per backend.
"""

import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches

from django_cron.locks import get_lock
from django_cron.locks.base import fit_key
from django_cron.locks.cache import CacheLock
from django_cron.locks.database import DatabaseLock
from tests.conftest import on_each_database, wait_for

SHORT = timedelta(seconds=0.5)
LONG = timedelta(minutes=5)


class LockBackendTests:
    """What every lock backend must do. Subclasses provide a ``lock`` fixture."""

    def test_acquire_returns_a_token_and_holds_the_key(self, lock):
        token = lock.acquire("k", LONG)
        assert token
        assert lock.acquire("k", LONG) is None

    def test_keys_are_independent(self, lock):
        assert lock.acquire("a", LONG) and lock.acquire("b", LONG)

    def test_release_frees_the_key_for_its_owner_only(self, lock):
        token = lock.acquire("k", LONG)
        assert lock.release("k", "someone-else") is False
        assert lock.acquire("k", LONG) is None
        assert lock.release("k", token) is True
        assert lock.acquire("k", LONG)

    def test_an_expired_lease_can_be_taken_and_the_old_owner_cannot_release_it(self, lock):
        old = lock.acquire("k", SHORT)
        new = wait_for(lambda: lock.acquire("k", LONG), timeout=10, message="expiry")
        assert new != old
        assert lock.release("k", old) is False
        assert lock.acquire("k", LONG) is None

    def test_extend_keeps_a_lease_alive_for_its_owner(self, lock):
        token = lock.acquire("k", SHORT)
        assert lock.extend("k", token, LONG) is True
        assert lock.extend("k", "someone-else", LONG) is False
        time.sleep(SHORT.total_seconds() * 2)  # past the first expiry: still held
        assert lock.acquire("k", LONG) is None

    def test_extend_sets_the_time_to_live_it_is_given_not_more(self, lock):
        token = lock.acquire("k", LONG)
        assert lock.extend("k", token, SHORT) is True
        # The lease now ends SHORT after the extension, not LONG + SHORT.
        wait_for(lambda: lock.acquire("k", LONG), timeout=10, message="the shortened lease")

    def test_long_keys_work_and_stay_apart(self, lock):
        first, second = "job:" + "n" * 300 + "#1", "job:" + "n" * 300 + "#2"
        token = lock.acquire(first, LONG)
        assert token and lock.acquire(second, LONG)
        assert lock.acquire(first, LONG) is None
        assert lock.extend(first, token, LONG) and lock.release(first, token)
        assert lock.acquire(first, LONG)

    def test_extend_fails_once_the_lease_expired_though_nobody_took_it(self, lock):
        token = lock.acquire("k", SHORT)
        time.sleep(SHORT.total_seconds() + 1.1)  # caches count whole seconds
        assert lock.extend("k", token, LONG) is False

    def test_a_lease_expired_on_another_key_does_not_stand_in_for_this_one(self, lock):
        lock.acquire("other", SHORT)
        time.sleep(SHORT.total_seconds() + 1.1)  # caches count whole seconds
        assert lock.acquire("k", LONG)
        assert lock.acquire("k", LONG) is None
        # The database cache counts expiry in whole seconds: "other" may need a moment more.
        wait_for(lambda: lock.acquire("other", LONG), timeout=10, message="the expired key")

    def test_extend_fails_once_the_lease_was_lost(self, lock):
        token = lock.acquire("k", SHORT)
        wait_for(lambda: lock.acquire("k", LONG), timeout=10, message="expiry")
        assert lock.extend("k", token, LONG) is False


@on_each_database
class TestDatabaseLock(LockBackendTests):
    @pytest.fixture
    def lock(self, cron_db):
        return DatabaseLock()


needs_redis = pytest.mark.skipif(
    "redis" in django_settings.MISSING_SERVICES,
    reason=django_settings.MISSING_SERVICES.get("redis", ""),
)


@pytest.fixture
def clean_redis():
    """Empty the tests' Redis database before and after."""
    from django_redis import get_redis_connection

    get_redis_connection("redis").flushdb()
    yield
    get_redis_connection("redis").flushdb()


@needs_redis
@pytest.mark.usefixtures("clean_redis")
class TestRedisLock(LockBackendTests):
    @pytest.fixture
    def lock(self):
        from django_cron.locks.redis import RedisLock

        return RedisLock(alias="redis")

    def test_keys_live_under_the_prefix_with_a_ttl(self, lock):
        from django_redis import get_redis_connection

        lock.acquire("k", LONG)
        ttl = get_redis_connection("redis").pttl("django_cron:lock:k")
        assert 290_000 < ttl <= 300_000


@needs_redis
@pytest.mark.usefixtures("clean_redis")
@pytest.mark.parametrize("alias", ["redis", "django-builtin-redis"])
class TestCacheLockOnRedis(LockBackendTests):
    @pytest.fixture
    def lock(self, alias):
        return CacheLock(alias=alias)

    def test_keys_live_under_the_prefix_in_that_cache(self, lock, alias):
        token = lock.acquire("k", LONG)
        assert caches[alias].get("django_cron:lock:k") == token


@needs_redis
@pytest.mark.usefixtures("clean_redis")
def test_cache_lock_counts_whole_seconds_and_at_least_one():
    lock = CacheLock(alias="redis")
    lock.acquire("short", SHORT)
    lock.acquire("long", timedelta(seconds=90.2))
    assert caches["redis"].ttl("django_cron:lock:short") == 1
    assert caches["redis"].ttl("django_cron:lock:long") == 91


@needs_redis
@pytest.mark.usefixtures("clean_redis")
def test_the_cache_locks_use_the_default_cache_unless_told(settings):
    settings.CACHES = {**settings.CACHES, "default": settings.CACHES["redis"]}
    from django_redis import get_redis_connection

    from django_cron.locks.redis import RedisLock

    # RedisLock writes plain Redis keys; CacheLock goes through the cache's API.
    token = RedisLock().acquire("k", LONG)
    assert get_redis_connection("redis").get("django_cron:lock:k") == token.encode()
    token = CacheLock().acquire("other", LONG)
    assert caches["redis"].get("django_cron:lock:other") == token


@pytest.mark.django_db(transaction=True)
class TestCacheLockOnTheDatabaseCache(LockBackendTests):
    @pytest.fixture
    def lock(self):
        # flush() between tests empties model tables only, not the cache table.
        caches["db"].clear()
        yield CacheLock(alias="db")
        caches["db"].clear()


@pytest.mark.django_db
def test_a_key_is_shortened_only_beyond_the_limit_and_then_uses_all_of_it():
    assert fit_key("k" * 200, 200) == "k" * 200
    shortened = fit_key("k" * 201, 200)
    assert len(shortened) == 200 and shortened.startswith("k" * 100)
    assert fit_key("k" * 201, 200) != fit_key("k" * 202, 200)


def test_get_lock_builds_the_configured_backend_with_its_options(settings):
    settings.DJANGO_CRON = {
        "LOCK_BACKEND": "django_cron.locks.database.DatabaseLock",
        "LOCK_OPTIONS": {"using": "default"},
    }
    lock = get_lock()
    assert isinstance(lock, DatabaseLock) and lock.using == "default"


def test_a_backend_that_lacks_a_method_says_which():
    from django_cron.locks.base import BaseLock

    calls = {
        "an acquire() method": lambda: BaseLock().acquire("k", LONG),
        "an extend() method": lambda: BaseLock().extend("k", "t", LONG),
        "a release() method": lambda: BaseLock().release("k", "t"),
    }
    for what, call in calls.items():
        with pytest.raises(NotImplementedError) as raised:
            call()
        assert str(raised.value) == f"subclasses of BaseLock must provide {what}"
