"""URLs of the demo site: the live overview at /, django_cron's ping and status, the admin."""

from django.contrib import admin
from django.urls import include, path
from reports import views

import django_cron

# The 2009 idiom. django_cron's AppConfig has already imported every cron.py,
# so this does nothing new; it stays to show that an old urls.py still works.
django_cron.autodiscover()

urlpatterns = [
    path("", views.index, name="index"),
    # cron/ping/<key>/ runs due jobs for an uptime monitor; cron/status/ says
    # whether they are healthy.
    path("cron/", include("django_cron.urls")),
    path("admin/", admin.site.urls),
]
