# urls.py as a 2009 site wrote it, autodiscover() by hand: it must stay harmless.
import django_cron

django_cron.autodiscover()

import subprocess  # noqa: E402
import sys  # noqa: E402

from django.conf import settings  # noqa: E402
from django.contrib import admin  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.utils import timezone, translation  # noqa: E402

from tests.effects import record  # noqa: E402


def hello(request):
    record("view")
    return HttpResponse("hello")


def clean(request):
    """Answer 200 only if no job left its time zone, language or streams in this thread."""
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE
    assert translation.get_language() == settings.LANGUAGE_CODE
    assert sys.stdout.fileno() >= 0 and sys.stdout.encoding and sys.stderr.fileno() >= 0
    subprocess.run([sys.executable, "-c", "pass"], stdout=sys.stdout, check=True)
    return HttpResponse("clean")


async def hello_async(request):
    return HttpResponse("hello async")


urlpatterns = [
    path("", hello),
    path("async/", hello_async),
    path("clean/", clean),
    path("cron/", include("django_cron.urls")),
    path("admin/", admin.site.urls),
]
