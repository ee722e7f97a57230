"""The rlm_rest endpoints, mounted at /radius/ (see freeradius.py)."""

from django.urls import path

from . import freeradius

urlpatterns = [
    path("authorize", freeradius.authorize_view, name="radius-authorize"),
    path("post-auth", freeradius.post_auth_view, name="radius-post-auth"),
    path("accounting", freeradius.accounting_view, name="radius-accounting"),
]
