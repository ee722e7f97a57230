from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "passgate.orgs"
    label = "orgs"
    verbose_name = "Organisations and people"
