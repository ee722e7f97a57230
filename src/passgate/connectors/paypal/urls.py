"""PayPal's URLs, mounted at /paypal/: where the payer comes back to, and where PayPal posts webhooks."""

from django.urls import path

from . import views

urlpatterns = [
    path("return/<str:reference>/", views.return_view, name="paypal-return"),
    path("cancel/<str:reference>/", views.cancel_view, name="paypal-cancel"),
    path("webhooks/<str:account>/", views.webhook, name="paypal-webhook"),
]
