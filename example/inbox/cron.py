# cron.py of an inbox app in the style of django-cron in 2009.
# django_cron runs it unchanged: nothing here uses the newer API.
from django_cron import cronScheduler, Job  # noqa: I001 (as written in 2009)

import logging
from datetime import timedelta

from django.utils import timezone

from .models import Message

logger = logging.getLogger(__name__)


class CheckMail(Job):
    """
    Pretend to fetch new mail: each run files one message in the inbox, so
    the runs can be seen in the admin.
    """

    # run every 60 seconds
    run_every = 60

    def job(self):
        # This will be executed every minute
        message = Message.objects.create(
            folder=Message.Folder.INBOX,
            subject=f"Mail checked at {timezone.now():%Y-%m-%d %H:%M:%S %Z}",
        )
        logger.info("CheckMail filed %r", message.subject)


cronScheduler.register(CheckMail)


class PurgeOld(Job):
    """Delete the messages of one folder that are older than some days."""

    run_every = 3600

    # The older style: override run(), which receives the extra arguments
    # given to cronScheduler.register() at every run.
    def run(self, folder, days=30):
        cutoff = timezone.now() - timedelta(days=days)
        deleted, _ = Message.objects.filter(folder=folder, created_at__lt=cutoff).delete()
        logger.info("PurgeOld deleted %d %s message(s) older than %d days", deleted, folder, days)


# CheckMail fills the inbox; this keeps it to a week of messages.
cronScheduler.register(PurgeOld, "inbox", days=7)
