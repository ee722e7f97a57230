"""/portal/<organisation code>/<location code>/…: the captive portal's pages (mounted from passgate.urls)."""

from django.urls import include, path

from . import views

PLACE = "<str:organisation>/<str:location>/"

urlpatterns = [
    path(PLACE, views.home, name="portal-home"),
    path(PLACE + "login/", views.login, name="portal-login"),
    path(PLACE + "buy/", views.buy, name="portal-buy"),
    path(PLACE + "sms/", views.sms, name="portal-sms"),
    path(PLACE + "hotel/", views.hotel, name="portal-hotel"),
    path(PLACE + "ticket/<str:token>/", views.ticket, name="portal-ticket"),
    path(PLACE + "sponsor/", include("passgate.guest.sponsor_urls")),
]
