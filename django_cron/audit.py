"""
The audit trail: a row for each operator action, from the admin, the API or
the command line. Who (a user, an operator key, or the command line and its
OS user), what (the action, the job, its arguments, a schedule before and
after), when and from where. Rows are written in the transaction of the change
they record, and pruned with the run history.
"""

import getpass
import ipaddress
import json
import os

from django.core.serializers.json import DjangoJSONEncoder

from . import conf
from .models import AuditEntry

Via = AuditEntry.Via


def _entries():
    return AuditEntry.objects.using(conf.database())


def command_line_actor() -> str:
    """Return who runs this process, as the audit trail names a command-line action."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name, no USER variable: a container's uid
        user = f"uid {os.getuid()}"
    return f"command line ({user})"


def user_actor(user) -> str:
    """Return how the audit trail names a signed-in user."""
    return user.get_username()


def remote_addr(request) -> str | None:
    """Return the request's remote address, or None if it is not an IP address."""
    value = request.META.get("REMOTE_ADDR") if request is not None else None
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None  # a test client's or a unix socket's


def jsonable(value):
    """Return ``value`` as JSON would give it back: dates as ISO 8601 strings."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def record(
    actor: str,
    via: str,
    action: str,
    job: str = "",
    *,
    arguments=None,
    before=None,
    after=None,
    note: str = "",
    request=None,
) -> AuditEntry:
    """Write one audit row and return it."""
    return _entries().create(
        actor=actor[:200],
        via=via,
        action=action,
        job=job[:200],
        arguments=jsonable(arguments or {}),
        before=None if before is None else jsonable(before),
        after=None if after is None else jsonable(after),
        note=note,
        remote_addr=remote_addr(request),
    )


def prune(cutoff, batch_size: int) -> int:
    """Delete one batch of audit rows older than ``cutoff``; return how many."""
    batch = list(
        _entries().filter(at__lt=cutoff).order_by("at").values_list("pk", flat=True)[:batch_size]
    )
    return _entries().filter(pk__in=batch).delete()[0] if batch else 0
