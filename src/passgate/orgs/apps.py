from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "passgate.orgs"
    label = "orgs"
    verbose_name = "Organisations and people"

    def ready(self) -> None:
        from . import timezones  # noqa: F401  (connects the zone-cache invalidation)
