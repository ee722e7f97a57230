import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "passgate.settings")
django_application = get_wsgi_application()

from django.urls import get_resolver  # noqa: E402  (needs Django set up)

from passgate.guest.radius_wsgi import RadiusFastPath  # noqa: E402

# Import the URLconf (admin, API) now, while gunicorn boots the worker, not in the first
# request it serves: a cold worker otherwise keeps its first callers waiting for seconds.
_ = get_resolver().url_patterns

# rlm_rest's calls skip Django's request cycle; everything else is Django
application = RadiusFastPath(django_application)
