# A cron.py with a bug in it: the error must reach the developer, never be swallowed.
from django_cron import register


@register(every=60)
def fine():
    pass


raise RuntimeError("typo in brokenapp/cron.py")
