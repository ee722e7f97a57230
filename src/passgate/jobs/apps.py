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
