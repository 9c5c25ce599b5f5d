"""Jobs of the servers that the tests start (tests/test_servers.py)."""

import asyncio
import sys

from django.utils import timezone, translation

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


@register(every=2, name="server.exit")
def exits():
    # What call_command does on bad input.
    sys.exit(2)


@register(every=2, name="server.meddle")
def meddle():
    # Settings of its own, which must not reach the requests the worker serves next.
    timezone.activate("Asia/Tokyo")
    translation.activate("de")
    print("meddled")
