import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from passgate.errors import PassgateError


class Command(BaseCommand):
    help = "Sales tools. `passgate sales import-external FILE`: import external sales from a CSV file " \
           "(columns in docs/external-sales.md); idempotent by order number, refused lines listed by line " \
           "and column. Exits 1 when a line was refused."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import-external", help="import external sales from a CSV file")
        imp.add_argument("file", help="the CSV file (UTF-8; comma or semicolon separated)")
        imp.add_argument("--organisation", help="organisation code (needed when there are several)")
        imp.add_argument("--no-progress", action="store_true")

    def handle(self, *args, action, **options):
        if action == "import-external":
            self.import_external(options["file"], options.get("organisation"), options["no_progress"])

    def import_external(self, path: str, organisation_code: str | None, no_progress: bool) -> None:
        from tqdm import tqdm

        from passgate.orgs.models import Organisation
        from passgate.orgs.services import Actor
        from passgate.sales.external_import import import_external_sales

        orgs = Organisation.objects.all()
        if organisation_code:
            orgs = orgs.filter(code=organisation_code)
        found = list(orgs[:2])
        if len(found) != 1:
            raise CommandError("--organisation: " + ("no such organisation" if not found else
                                                     "several organisations exist; name one with --organisation"))
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path}: cannot be read as UTF-8 text ({exc})") from None
        lines = text.splitlines()
        actor = Actor.system(found[0], f"cli:import-external {Path(path).name}"[:200])
        with tqdm(total=max(0, len(lines) - 1), unit="line", file=sys.stderr, disable=no_progress,
                  dynamic_ncols=True) as bar:
            try:
                report = import_external_sales(actor, lines, progress=bar.update)
            except PassgateError as exc:
                raise CommandError(str(exc) + (f"; expected {exc.expected}" if exc.expected else "")
                                   + (f"; found {exc.found}" if exc.found else "")) from None
        for error in report.errors:
            self.stderr.write(f"{path}: {error}")
        self.stdout.write(report.summary)
        if report.errors:
            sys.exit(1)
