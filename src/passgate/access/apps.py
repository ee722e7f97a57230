from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "passgate.access"
    label = "access"
    verbose_name = "Access control"

    def ready(self) -> None:
        from passgate.sales.signals import tickets_changed
        from passgate.sales.timeline import register_source

        from . import cache, maintenance
        from .changes import on_tickets_changed
        from .timeline import scan_events

        cache.connect()
        maintenance.register()
        tickets_changed.connect(on_tickets_changed, dispatch_uid="access.on_tickets_changed")
        register_source("scans", scan_events)
