from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "passgate.catalog"
    label = "catalog"
    verbose_name = "Catalogue"
