from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "passgate.sales"
    label = "sales"
    verbose_name = "Sales"
