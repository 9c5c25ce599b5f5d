from django.urls import path

from . import views

app_name = "django_cron"

urlpatterns = [
    path("ping/<str:key>/", views.ping, name="ping"),
    path("status/", views.status, name="status"),
]
