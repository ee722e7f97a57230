from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path
from django.views.generic import RedirectView

from passgate.api import api, index_without_slash


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


admin.site.site_header = "passgate back office"
admin.site.site_title = "passgate"
admin.site.index_title = "Tickets, passes and doors"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("healthz", healthz),
    path("admin/", admin.site.urls),
    path("api", index_without_slash),
    path("api/", api.urls),
    path("radius/", include("passgate.guest.urls")),
    path("portal/", include("passgate.guest.portal.urls")),
    # charge to the room (hotel PMS connector), under the portal's prefix for the walled garden
    path("portal/", include("passgate.connectors.fias.urls")),
    path("paypal/", include("passgate.connectors.paypal.urls")),
]
