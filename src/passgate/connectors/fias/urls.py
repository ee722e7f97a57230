from django.urls import path

from . import portal

urlpatterns = [
    path("<str:organisation>/<str:location>/room-charge/", portal.room_charge, name="fias-room-charge"),
    path("<str:organisation>/<str:location>/room-charge/<str:token>/", portal.posting_wait, name="fias-posting"),
]
