from django.apps import AppConfig


class OtipassConfig(AppConfig):
    name = "passgate.connectors.otipass"
    label = "connector_otipass"
    verbose_name = "Otipass"

    def ready(self) -> None:
        from . import functions, interface, reintegration

        interface.register()
        functions.register()
        reintegration.register()
