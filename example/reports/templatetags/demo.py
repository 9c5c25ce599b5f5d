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


@register.filter
def duration(seconds):
    """Say how long a run took: "0.4 ms", "12.5 ms", "1.25 s"; "-" while it runs."""
    if seconds is None:
        return "-"
    # The demo's jobs take well under a millisecond: "0.000 s" would say nothing.
    if seconds < 0.0001:
        return "< 0.1 ms"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"
