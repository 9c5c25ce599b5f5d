"""
What the operator surface (the API and the admin's forms) accepts: bodies of
a bounded size, JSON of a bounded depth, text that every database can store,
and dates that every computation on them can handle. Checked at the edge,
before anything is stored or a database is asked, so that hostile or careless
input gets a 4xx that says why, never a 500 or a 503.
"""

import json
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.utils import timezone

from .conf import MAX_DAYS
from .text import unstorable

# A request body larger than this is refused before it is read: a one-off
# run's arguments are a few hundred bytes, and a body is held in memory whole.
BODY_LIMIT = 64 * 1024
# Lists and objects nested deeper than this are refused: real arguments nest
# two or three deep, and Python's JSON parser and encoder recurse.
DEPTH_LIMIT = 32
# A date further than this from now is refused: GRACE and HISTORY_DAYS go up
# to MAX_DAYS, and a date moved by them must still be a date (years 1 to 9999).
REACH = timedelta(days=MAX_DAYS)


class BadInput(ValueError):
    """Input refused at the edge; ``str()`` says why, for the person who sent it."""


def check_text(text: str, what: str) -> None:
    """Raise BadInput if ``text`` holds NUL or a lone surrogate."""
    if unstorable(text):
        raise BadInput(f"{what} holds a NUL character or a lone surrogate, which cannot be stored.")


def check_json(value, what: str) -> None:
    """Raise BadInput if ``value`` nests deeper than DEPTH_LIMIT or holds unstorable text."""
    # A walk with a stack of its own: the value may be deeper than Python's recursion limit.
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            check_text(item, what)
        elif isinstance(item, (list, tuple, dict)):
            if depth > DEPTH_LIMIT:
                raise BadInput(f"{what} nests deeper than {DEPTH_LIMIT} levels.")
            if isinstance(item, dict):
                for key in item:
                    check_text(str(key), what)
                item = item.values()
            pending.extend((child, depth + 1) for child in item)


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


def parse_json(text, what: str = "The body"):
    """Return the JSON value of ``text``, checked by check_json(); raise BadInput saying why."""
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise BadInput(f"{what} nests deeper than {DEPTH_LIMIT} levels.") from None
    except (TypeError, ValueError) as exc:
        raise BadInput(f"{what} is not JSON: {exc}.") from None
    check_json(value, what)
    return value


def body_too_large(request) -> bool:
    """Tell whether the request says its body is over BODY_LIMIT, before it is read."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return True  # not a length: Django would read nothing, and we read nothing either
    return length > BODY_LIMIT


def within_reach(moment: datetime) -> bool:
    """Tell whether ``moment`` lies within REACH of now, where every computation on it holds."""
    # A difference, not a conversion: year 1 at +05:00 is no UTC date at all.
    now = datetime.now(dt_timezone.utc if timezone.is_aware(moment) else None)
    return abs(moment - now) <= REACH


def check_moment(moment: datetime, what: str) -> None:
    """Raise BadInput if ``moment`` is further from now than REACH."""
    if not within_reach(moment):
        raise BadInput(
            f"{what} must be within {MAX_DAYS // 365} years of now, not {moment.isoformat()}."
        )
