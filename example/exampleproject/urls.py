"""URLs of the demo site: the job overview at /, and the admin."""

from django.contrib import admin
from django.urls import path
from reports import views

import django_cron

# The 2009 idiom. django_cron's AppConfig has already imported every cron.py,
# so this does nothing new; it stays to show that an old urls.py still works.
django_cron.autodiscover()

urlpatterns = [
    path("", views.index, name="index"),
    path("admin/", admin.site.urls),
]
