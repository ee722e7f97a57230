from django.apps import AppConfig


class TixngoConfig(AppConfig):
    name = "passgate.connectors.tixngo"
    label = "connector_tixngo"
    verbose_name = "TIXnGO"

    def ready(self) -> None:
        from . import functions, interface

        interface.register()
        functions.register()
