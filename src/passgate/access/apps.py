from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "passgate.access"
    label = "access"
