from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "passgate.sales"
    label = "sales"
    verbose_name = "Sales"

    def ready(self) -> None:
        from .timeline import email_events, register_source, sales_events

        register_source("sales", sales_events)
        register_source("email", email_events)
