from django.apps import AppConfig

# The interface type of passgate's own maintenance (change-log pruning, post-sync of partner
# cards, reaping lost runs, retrying failure notices): built-in functions registered on it
# (FunctionSpec.builtin) get a schedule in every organisation.
SYSTEM_TYPE = "SYSTEM"


class JobsConfig(AppConfig):
    name = "passgate.jobs"
    label = "jobs"

    def ready(self) -> None:
        from .registry import InterfaceTypeSpec, register_type

        register_type(InterfaceTypeSpec(code=SYSTEM_TYPE, label="passgate maintenance (built-in)",
                                        secret_label="(none)"))
        from django.db.models.signals import post_migrate

        from passgate.sales.timeline import register_source

        from . import maintenance
        from .signals import ensure_builtins_after_migrate
        from .timeline import job_item_events

        maintenance.register(SYSTEM_TYPE)
        # every organisation gets its built-in schedules at migrate (new ones: the scheduler notices)
        post_migrate.connect(ensure_builtins_after_migrate, sender=self, dispatch_uid="jobs.builtins")
        register_source("partner jobs", job_item_events)
