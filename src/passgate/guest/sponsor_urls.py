"""Sponsored access, mounted by the portal at /portal/<organisation>/<location>/sponsor/."""

from django.urls import path

from . import sponsor_views

urlpatterns = [
    path("", sponsor_views.ask, name="portal-sponsor"),
    path("wait/<str:token>/", sponsor_views.wait, name="portal-sponsor-wait"),
    path("wait/<str:token>/status", sponsor_views.wait_status, name="portal-sponsor-status"),
    path("decide/<str:token>/", sponsor_views.decide, name="sponsor-decide"),
]
