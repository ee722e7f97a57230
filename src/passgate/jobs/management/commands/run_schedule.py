import datetime as dt
import logging
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from passgate.errors import PassgateError


class TqdmProgress:
    def __init__(self, bar):
        self.bar = bar

    def total(self, n):
        self.bar.total = n
        self.bar.refresh()

    def advance(self, n=1):
        self.bar.update(n)


def parse_date(value: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date-from: expected a date such as 2026-01-31 or 2026-01-31T08:00:00+01:00, "
                           f"found {value!r}") from None
    if timezone.is_naive(when):
        when = timezone.make_aware(when, timezone.get_current_timezone())
    return when


class Command(BaseCommand):
    help = "Run one schedule now, in the foreground, with a progress bar. Exits 1 if the run ends ERROR."

    def add_arguments(self, parser):
        parser.add_argument("schedule_id", type=int)
        parser.add_argument("--date-from", default=None,
                            help="a one-off catch-up: handle the tickets updated since this date (the schedule's "
                                 "position is left as it is)")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, schedule_id, date_from, no_progress, **options):
        from tqdm import tqdm

        from passgate.jobs.models import ExecutionStatus, Schedule
        from passgate.jobs.runner import REMAINING_COUNT_LIMIT, run_schedule

        if options.get("verbosity", 1) < 2:  # partner calls are on the execution; -v 2 shows them here too
            logging.getLogger("passgate.partner").setLevel(logging.WARNING)
        since = parse_date(date_from) if date_from else None
        schedule = Schedule.objects.select_related("interface").filter(pk=schedule_id).first()
        if schedule is None:
            raise CommandError(f"schedule: no schedule with id {schedule_id}")
        self.stdout.write(f"running {schedule} (interface {schedule.interface.name}, function {schedule.function})")
        with tqdm(total=0, unit="item", file=sys.stderr, disable=no_progress, dynamic_ncols=True) as bar:
            try:
                execution = run_schedule(schedule.pk, trigger="CLI", date_from=since, progress=TqdmProgress(bar))
            except PassgateError as exc:
                raise CommandError(str(exc)) from None
        self.stdout.write(f"execution #{execution.pk}: {execution.status} — {execution.summary}")
        if execution.remaining is not None:
            more = "+" if execution.remaining >= REMAINING_COUNT_LIMIT else ""
            self.stdout.write(f"left for the next run: {execution.remaining}{more}")
        if execution.error:
            self.stderr.write(f"error: {execution.error}")
        if execution.status == ExecutionStatus.ERROR:
            sys.exit(1)
