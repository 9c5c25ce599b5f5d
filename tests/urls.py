# urls.py as a 2009 site wrote it, autodiscover() by hand: it must stay harmless.
import django_cron

django_cron.autodiscover()

from django.contrib import admin  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import include, path  # noqa: E402

from tests.effects import record  # noqa: E402


def hello(request):
    record("view")
    return HttpResponse("hello")


async def hello_async(request):
    return HttpResponse("hello async")


urlpatterns = [
    path("", hello),
    path("async/", hello_async),
    path("cron/", include("django_cron.urls")),
    path("admin/", admin.site.urls),
]
