from django.apps import AppConfig


class TixngoConfig(AppConfig):
    name = "passgate.connectors.tixngo"
    label = "connector_tixngo"
    verbose_name = "TIXnGO"

    def ready(self) -> None:
        from passgate.sales.timeline import register_source

        from . import functions, interface, timeline

        interface.register()
        functions.register()
        register_source("tixngo wallet", timeline.timeline_events)
