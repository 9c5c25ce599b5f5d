from django import template

register = template.Library()


@register.filter
def relative(moment, now):
    """Say how far ``moment`` is from ``now``: "in 7 s", "5 s ago", "3 min ago"."""
    if moment is None:
        return ""
    seconds = (moment - now).total_seconds()
    amount = abs(seconds)
    # To the second while that matters; then units that read at a glance.
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if amount >= 1.5 * size:
            text = f"{amount / size:.0f} {unit}"
            break
    else:
        text = f"{amount:.0f} s"
    return f"in {text}" if seconds > 0 else f"{text} ago"
