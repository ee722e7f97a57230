from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("Process background tasks (partner runs, …): Django's task API with the database backend. "
            "Run as many as you like, on as many machines as you like.")

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls when idle")
        parser.add_argument("--batch", action="store_true", help="process what is queued, then exit")
        parser.add_argument("--max-tasks", type=int, default=None)
        parser.add_argument("--queue-name", default="default")
        parser.add_argument("--worker-id", default=None)
        parser.add_argument("--reload", action="store_true", help="reload on code changes (development)")

    def handle(self, *args, interval, batch, max_tasks, queue_name, worker_id, reload, **options):
        import os
        import socket

        kwargs = {"interval": interval, "queue_name": queue_name, "reload": reload,
                  "worker_id": (worker_id or f"{socket.gethostname()}:{os.getpid()}")[:64],
                  "verbosity": options.get("verbosity", 1)}
        if batch:
            kwargs["batch"] = True
        if max_tasks:
            kwargs["max_tasks"] = max_tasks
        call_command("db_worker", **kwargs)
