from django.urls import path

from . import api, views

app_name = "django_cron"

urlpatterns = [
    path("ping/<str:key>/", views.ping, name="ping"),
    path("status/", views.status, name="status"),
    # The operator API (docs/api.rst). A job's name may hold slashes: <path:>.
    path("api/jobs/", api.jobs, name="api-jobs"),
    path("api/jobs/<path:name>/run/", api.run, name="api-run"),
    path("api/jobs/<path:name>/pause/", api.pause, name="api-pause"),
    path("api/jobs/<path:name>/resume/", api.resume, name="api-resume"),
    path("api/jobs/<path:name>/once/", api.once, name="api-once"),
    path("api/jobs/<path:name>/backfill/", api.backfill, name="api-backfill"),
    path("api/backfills/<int:pk>/", api.backfill_detail, name="api-backfill-detail"),
    path("api/once/", api.once_list, name="api-once-list"),
    path("api/once/<int:pk>/cancel/", api.cancel, name="api-cancel"),
    path("api/audit/", api.audit_list, name="api-audit"),
    path("api/blackouts/", api.blackouts, name="api-blackouts"),
    path("api/blackouts/add/", api.blackout_add, name="api-blackout-add"),
    path("api/blackouts/<int:pk>/delete/", api.blackout_delete, name="api-blackout-delete"),
]
