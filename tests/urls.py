# urls.py as a 2009 site wrote it: autodiscover() by hand. It must stay harmless.
import django_cron

django_cron.autodiscover()

urlpatterns = []
