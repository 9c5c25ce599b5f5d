import os
import socket

from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from django_cron import conf
from django_cron.health import overview
from django_cron.models import JobRun

# How a run's owner token starts when this process ran it ("host:pid:...").
HERE = f"{socket.gethostname()[:40]}:{os.getpid()}:"


def index(request):
    """Show every job with its next run, the latest runs, and how to trigger and inspect them."""
    now = timezone.now()
    runs = list(JobRun.objects.using(conf.database()).select_related("job")[:20])
    for run in runs:
        # The runs of this server came from its own traffic: the demo runs no worker.
        run.here = run.owner.startswith(HERE)
    key = conf.get("PING_KEY")
    context = {
        "now": now,
        "jobs": overview(now),
        "runs": runs,
        "polling": conf.polling_frequency(),
        "ping_url": key and request.build_absolute_uri(reverse("django_cron:ping", args=[key])),
        "status_url": request.build_absolute_uri(reverse("django_cron:status")),
        "key": key,
    }
    return render(request, "reports/index.html", context)
