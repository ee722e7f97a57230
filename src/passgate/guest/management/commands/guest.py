"""`passgate guest issue --count N`: issue guest WiFi tickets from the command line (with a
progress bar), and optionally write them as CSV or print their slips as one PDF.
`passgate guest nas-sim`: the NAS stand-in (sandboxes/nas) drives a small crowd of guests through
`passgate radius` for the demo: logins, traffic, the odd logout; it honours Disconnects."""

from __future__ import annotations

import csv
import datetime as dt
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from passgate.errors import PassgateError
from passgate.guest import delivery, services
from passgate.guest.models import AccessMethod, GuestStatus, GuestTicket, TicketType
from passgate.orgs.models import Organisation
from passgate.orgs.services import Actor


class Command(BaseCommand):
    help = "Guest WiFi tickets: `passgate guest issue --organisation demo --method DAY --count 100`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        issue = sub.add_parser("issue", help="Issue tickets of one access method.")
        issue.add_argument("--organisation", required=True, help="Organisation code.")
        issue.add_argument("--method", required=True, help="Access method code.")
        issue.add_argument("--count", type=int, default=1)
        issue.add_argument("--type", default=None, choices=TicketType.values,
                           help="Ticket type (default: the method's format).")
        issue.add_argument("--user-id", default="", help="Recipient's e-mail or mobile.")
        issue.add_argument("--extra", action="append", default=[], metavar="NAME=VALUE",
                           help="An extra field's value (repeat).")
        issue.add_argument("--valid-from", type=dt.date.fromisoformat, help="Variable/Special: first day.")
        issue.add_argument("--valid-until", type=dt.date.fromisoformat, help="Variable/Special: last day.")
        issue.add_argument("--csv", help="Write serial, username, password and expiry to this CSV file.")
        issue.add_argument("--pdf", help="Write the slips to this PDF file.")
        sim = sub.add_parser("nas-sim", help="Play a hotspot controller with a small crowd of guests.")
        sim.add_argument("--organisation", required=True, help="Organisation code.")
        sim.add_argument("--guests", type=int, default=5, help="How many unused or in-use tickets to log in.")
        sim.add_argument("--secret", required=True, help="The NAS client's shared secret.")
        sim.add_argument("--auth-port", type=int, default=18120)
        sim.add_argument("--acct-port", type=int, default=18130)
        sim.add_argument("--coa-port", type=int, default=3799, help="Where the stand-in listens for Disconnect/CoA.")
        sim.add_argument("--interval", type=float, default=10.0, help="Seconds between traffic updates.")
        sim.add_argument("--rounds", type=int, default=0, help="Stop after this many updates (0: until Ctrl-C).")

    def handle(self, *args, **options):
        if options["action"] == "nas-sim":
            return self.nas_sim(options)
        return self.issue(options)

    def nas_sim(self, options):
        import random
        import time

        from sandboxes.nas import NasStandIn

        org = Organisation.objects.filter(code=options["organisation"]).first()
        if org is None:
            raise CommandError(f"no organisation {options['organisation']!r}")
        tickets = list(GuestTicket.objects.filter(organisation=org, status__in=[GuestStatus.NO_USE,
                                                                                GuestStatus.IN_USE])
                       .order_by("pk")[:options["guests"]])
        nas = NasStandIn(options["secret"], options["auth_port"], options["acct_port"],
                         coa_port=options["coa_port"]).start()
        sessions = []
        try:
            for n, ticket in enumerate(tickets):
                answer, session = nas.connect(ticket.username, ticket.password, f"02-00-00-00-01-{n:02x}",
                                              chap=n % 2 == 1)
                self.stdout.write(f"{ticket.username}: {answer.code}")
                if session:
                    sessions.append(session)
            rounds = 0
            while sessions and (not options["rounds"] or rounds < options["rounds"]):
                time.sleep(options["interval"])
                rounds += 1
                sessions = [s for s in sessions if s.session_id in nas.sessions]  # cut ones are gone
                for session in sessions:
                    nas.traffic(session, random.randint(10**5, 10**7), random.randint(10**6, 10**8))
                self.stdout.write(f"round {rounds}: {len(sessions)} session(s) open, "
                                  f"{len(nas.received)} Disconnect/CoA received")
        except KeyboardInterrupt:
            pass
        finally:
            for session in list(nas.sessions.values()):
                nas.disconnect(session)
            nas.stop()

    def issue(self, options):
        org = Organisation.objects.filter(code=options["organisation"]).first()
        if org is None:
            raise CommandError(f"no organisation {options['organisation']!r}")
        method = AccessMethod.objects.filter(organisation=org, code=options["method"]).first()
        if method is None:
            codes = ", ".join(AccessMethod.objects.filter(organisation=org).values_list("code", flat=True))
            raise CommandError(f"no access method {options['method']!r} (known: {codes or 'none'})")
        extra = {}
        for pair in options["extra"]:
            name, sep, value = pair.partition("=")
            if not sep:
                raise CommandError(f"--extra expects NAME=VALUE, found {pair!r}")
            extra[name] = value
        actor = Actor.system(org, "cli:guest-issue")
        request = services.IssueRequest(method=method, count=options["count"], type=options["type"],
                                        user_id=options["user_id"], extra=extra, valid_from=options["valid_from"],
                                        valid_until=options["valid_until"])
        bar = tqdm(total=options["count"], unit="ticket", file=sys.stderr, disable=options["count"] < 100)
        started = dt.datetime.now()
        try:
            issued = services.issue_tickets(actor, request, progress=bar.update)
        except PassgateError as exc:
            raise CommandError(f"{exc.field + ': ' if exc.field else ''}{exc.message}"
                               + (f" (expected {exc.expected}, found {exc.found})" if exc.expected else "")) from None
        finally:
            bar.close()
        seconds = (dt.datetime.now() - started).total_seconds()
        if options["csv"]:
            with open(options["csv"], "w", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(["serial", "username", "password", "expires_at"])
                for t in issued.tickets:
                    writer.writerow([t.serial, t.username, t.password, t.expires_at.isoformat() if t.expires_at
                                     else ""])
        if options["pdf"]:
            with open(options["pdf"], "wb") as fh:
                fh.write(delivery.slip_pdf(issued.tickets))
        self.stdout.write(f"{len(issued.tickets)} ticket(s) issued in {seconds:.2f} s "
                          f"(serials {issued.tickets[0].serial} … {issued.tickets[-1].serial})")
