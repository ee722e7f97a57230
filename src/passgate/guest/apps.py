from django.apps import AppConfig


class GuestConfig(AppConfig):
    name = "passgate.guest"
    label = "guest"
    verbose_name = "Guest WiFi"

    def ready(self) -> None:
        from . import maintenance

        maintenance.register()
