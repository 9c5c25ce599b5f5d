import os
import time

from django.http import HttpResponse, JsonResponse
from django.urls import include, path

from django_cron.trigger import trigger


def index(request):
    """The trivial view every throughput figure is measured on."""
    return HttpResponse("ok")


def state(request):
    """This process and the seconds until its next due check, for the warm-up."""
    return JsonResponse({"pid": os.getpid(), "next_check_in": trigger.next_check - time.time()})


urlpatterns = [
    path("", index),
    path("state/", state),
    path("cron/", include("django_cron.urls")),
]
