"""The rlm_rest endpoints, mounted at /radius/ (see freeradius.py)."""

from django.urls import path

from . import freeradius

urlpatterns = [
    path("authorize", freeradius.authorize, name="radius-authorize"),
    path("post-auth", freeradius.post_auth, name="radius-post-auth"),
    path("accounting", freeradius.accounting, name="radius-accounting"),
]
