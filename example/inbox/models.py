from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Message(models.Model):
    """A stand-in for a mail message: enough for the demo jobs to leave a trace."""

    class Folder(models.TextChoices):
        INBOX = "inbox", _("inbox")
        DRAFTS = "drafts", _("drafts")

    folder = models.CharField(
        _("folder"), max_length=20, choices=Folder.choices, default=Folder.INBOX
    )
    subject = models.CharField(_("subject"), max_length=200)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")

    def __str__(self):
        return self.subject
