from django.apps import AppConfig


class EchoConfig(AppConfig):
    name = "passgate.connectors.echo"
    label = "connector_echo"
    verbose_name = "Echo (sandbox test partner)"

    def ready(self) -> None:
        from .connector import register

        register()
