from django.apps import AppConfig


class OtipassConfig(AppConfig):
    name = "passgate.connectors.otipass"
    label = "connector_otipass"
    verbose_name = "Otipass"

    def ready(self) -> None:
        from .interface import register
        from .reintegration import register as register_reintegration

        register()
        register_reintegration()
