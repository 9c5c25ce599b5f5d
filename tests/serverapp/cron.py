"""Jobs of the servers that the tests start (tests/test_servers.py)."""

import asyncio

from django_cron import register
from tests.effects import record


@register(every=2, name="server.tick")
def tick():
    record("server.tick")


@register(every=2, name="server.fail")
def fail():
    raise RuntimeError("failing on purpose")


@register(every=2, name="server.async")
async def async_tick():
    await asyncio.sleep(0.01)
    record("server.async")
