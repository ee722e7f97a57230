import importlib

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from passgate import demo, supervisor
from passgate.orgs.models import Organisation


def demo_sandboxes() -> dict[str, int]:
    """name → port of the partner sandboxes the demo starts (declared by sandboxes.registry)."""
    try:
        registry = importlib.import_module("sandboxes.registry")
    except ModuleNotFoundError:
        return {}
    return dict(getattr(registry, "DEMO_SANDBOXES", {}))


def demo_env() -> dict[str, str]:
    """The demo's SMS go to the SMS gateway sandbox (its /_sandbox/state shows them: the guest
    portal's codes by SMS can be read there), unless the environment chose a backend."""
    import os

    port = demo_sandboxes().get("sms")
    if port is None or os.environ.get("PASSGATE_SMS_BACKEND"):
        return {}
    return {"PASSGATE_SMS_BACKEND": "http", "PASSGATE_SMS_URL": f"http://127.0.0.1:{port}"}


class Command(BaseCommand):
    help = ("Run the demo: migrate, load the demo organisation, start gunicorn, the worker, the scheduler "
            "and the partner sandboxes; Ctrl-C stops them all.")

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")

    def handle(self, *args, host, port, workers, **options):
        import os

        if not os.environ.get("PASSGATE_BASE_URL"):
            # links in e-mails, slips and the portal name this demo's address (also with --port),
            # in this process and in every one it starts
            os.environ["PASSGATE_BASE_URL"] = settings.BASE_URL = f"http://{host}:{port}"
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database migrated.")
        call_command("collectstatic", interactive=False, verbosity=0)
        call_command("demo_data", stdout=self.stdout)
        org = Organisation.objects.get(code=demo.DEMO_ORG_CODE)
        base = f"http://{host}:{port}"
        services = [
            supervisor.Service("web", [
                "gunicorn", "passgate.wsgi:application", "--bind", f"{host}:{port}", "--workers", str(workers),
                # threads keep connections open: FreeRADIUS's rlm_rest reuses its connection for the
                # post-auth call, and a sync worker (one request per connection) leaves it to time out
                "--worker-class", "gthread", "--threads", "4",
                "--log-level", "warning"], health_url=f"{base}/healthz"),
        ]
        commands = importlib.import_module("django.core.management").get_commands()
        for name in ("worker", "scheduler"):
            if name in commands:
                services.append(supervisor.Service(name, supervisor.passgate_argv(name)))
        for name, sandbox_port in demo_sandboxes().items():
            services.append(supervisor.Service(
                f"sandbox {name}", supervisor.passgate_argv("sandbox", name, "--port", str(sandbox_port), "--demo")))

        # rooms may run processes of their own: `demo_services(base_url, say)` in `<room>/demo.py`
        for room in demo.DEMO_ROOMS:
            try:
                module = importlib.import_module(f"{room}.demo")
            except ModuleNotFoundError:
                continue
            for name, args in getattr(module, "demo_services", lambda *_: [])(base, self.stderr.write):
                services.append(supervisor.Service(name, supervisor.passgate_argv(*args)))

        def ready():
            user, password = demo.DEMO_ADMIN
            names = ", ".join(s.name for s in services)
            self.stdout.write(self.style.SUCCESS(
                f"\npassgate is running ({names}).\n"
                f"  Back office: {base}/admin/   login: {user} / {password}\n"
                f"  API docs:    {base}/api/docs   OpenAPI: {base}/api/openapi.json\n"
                + "\n".join(demo.now_lines(org, base)) + "\n"
                "Press Ctrl-C to stop everything."))

        bin_dir = __import__("sys").executable.rsplit("/", 1)[0]
        services[0].argv[0] = f"{bin_dir}/gunicorn"
        raise SystemExit(supervisor.run(services, on_ready=ready, env=demo_env()))
