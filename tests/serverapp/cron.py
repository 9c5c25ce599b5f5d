"""Jobs of the servers that the tests start (tests/test_servers.py)."""

from django_cron import register
from tests.effects import record


@register(every=2, name="server.tick")
def tick():
    record("server.tick")


@register(every=2, name="server.fail")
def fail():
    raise RuntimeError("failing on purpose")
