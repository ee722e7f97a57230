from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run a partner sandbox on 127.0.0.1: passgate sandbox NAME --port N [--state-file PATH] [--demo]"

    def add_arguments(self, parser):
        from sandboxes.registry import names

        parser.add_argument("name", choices=names())
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--state-file", default=None, help="keep the partner data in this JSON file")
        parser.add_argument("--demo", action="store_true",
                            help="start with the sandbox's demo data, if it has any (e.g. the Otipass demo project)")

    def handle(self, *args, name, port, state_file, demo=False, **options):
        from sandboxes.framework import serve
        from sandboxes.registry import create_sandbox_app

        if not 0 < port < 65536:
            raise CommandError(f"--port: expected 1 to 65535, found {port}")
        self.stdout.write(f"sandbox {name} on http://127.0.0.1:{port} (control: /_sandbox/state)")
        serve(create_sandbox_app(name, state_file=state_file, demo=demo), port)
