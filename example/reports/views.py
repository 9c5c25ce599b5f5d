from django.shortcuts import render

from django_cron import conf
from django_cron.health import overview
from django_cron.models import JobRun


def index(request):
    """List every registered job with what the runner knows of it, and the latest runs."""
    runs = JobRun.objects.using(conf.database()).select_related("job")[:20]
    return render(request, "reports/index.html", {"jobs": overview(), "runs": runs})
