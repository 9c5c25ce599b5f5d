"""
What other schedulers' users bring along: Tivix django-cron (``tivix``;
its settings are ``django_cron.legacy_settings``, which ``conf`` reads) and
django-crontab's CRONJOBS (``crontab``).
"""
