from django.core.management.base import BaseCommand

from passgate import demo


class Command(BaseCommand):
    help = "Load the demo organisation (idempotent: a second run changes nothing)."

    def handle(self, *args, **options):
        org, created = demo.load(stdout=self.stdout)
        state = "loaded" if created else "already present (its performance on now kept on now)"
        self.stdout.write(self.style.SUCCESS(f"Demo organisation {org.code!r} {state}."))
        for line in demo.now_lines(org):
            self.stdout.write(line)
