"""Bridges from other Django schedulers: Tivix django-cron and django-crontab."""
