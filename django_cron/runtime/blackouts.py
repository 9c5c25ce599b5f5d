"""
Blackout windows: spans of time in which no job runs, or none whose name
matches a pattern. A slot inside one, or due while one lasts, is skipped and
counted, as a pause's are; a forced run, which someone asked for, still runs.

A pass reads the windows once, and only when it has a slot to claim: an idle
pass reads none.
"""

import threading
from datetime import datetime, timedelta

from .. import conf
from ..clock import stored
from ..models import Blackout

# How far ahead of its start a pass reads the windows: one that begins while
# the pass runs (a long job) still holds the slots claimed after it began.
AHEAD = timedelta(hours=1)


def _windows():
    return Blackout.objects.using(conf.database())


class Windows:
    """The windows that one pass checks its slots against, read when first needed."""

    def __init__(self, since: datetime | None = None, ahead: bool = True):
        self._since = since
        # False when the pass knows that no window ends after its slots: no read.
        self._found = None if ahead else []
        self._lock = threading.Lock()

    def covering(self, name: str, slot: datetime, now: datetime) -> Blackout | None:
        """Return a window holding ``slot`` or ``now`` for the job ``name``, or None."""
        with self._lock:
            if self._found is None:
                since = min(self._since, slot) if self._since is not None else slot
                windows = _windows().filter(end__gt=since, start__lte=now + AHEAD)
                self._found = list(windows)
        return next((window for window in self._found if window.covers(name, slot, now)), None)


def ahead(name: str | None, since: datetime) -> list:
    """Return the windows (for the job ``name``, if given) that end after ``since``."""
    found = _windows().filter(end__gt=stored(since))
    return [window for window in found if name is None or window.applies_to(name)]
