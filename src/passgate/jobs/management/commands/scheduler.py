from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("Enqueue due schedules and close runs whose worker died. Safe to run on several machines at "
            "once: the database decides who enqueues.")

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between passes")
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args, interval, once, **options):
        from passgate.jobs.scheduler import loop

        if options.get("verbosity", 1) >= 1:
            self.stdout.write(f"scheduler: a pass every {interval:g} s (Ctrl-C to stop)")
        loop(interval=interval, max_ticks=1 if once else None)
