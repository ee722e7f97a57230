from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "passgate.jobs"
    label = "jobs"
