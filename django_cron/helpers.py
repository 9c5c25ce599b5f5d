"""Helpers that Tivix django-cron offered, for code that imports them."""

from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def humanize_duration(duration) -> str:
    """
    A timedelta in words, largest unit first: "2 days, 1 hour, 5 seconds";
    "< 1 second" for less than a second.
    """
    minutes, seconds = divmod(duration.seconds, 60)
    hours, minutes = divmod(minutes, 60)
    units = [
        (duration.days, ngettext("%d day", "%d days", duration.days)),
        (hours, ngettext("%d hour", "%d hours", hours)),
        (minutes, ngettext("%d minute", "%d minutes", minutes)),
        (seconds, ngettext("%d second", "%d seconds", seconds)),
    ]
    words = [text % count for count, text in units if count > 0]
    return ", ".join(words) if words else _("< 1 second")
