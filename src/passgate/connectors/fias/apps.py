from django.apps import AppConfig


class FiasConfig(AppConfig):
    name = "passgate.connectors.fias"
    label = "connector_fias"
    verbose_name = "Hotel PMS (FIAS)"

    def ready(self) -> None:
        from . import portal

        portal.register()
