"""`passgate door-sim`: a crowd at a door for the demo — valid, duplicate,
cancelled and unknown barcodes — with a live count. It plays the performance on now, dated now
(real controls of real tickets): an organisation other than the demo one needs --yes-real-data."""

from __future__ import annotations

import random
import sys
import time
import uuid
from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from passgate.access import services
from passgate.access.models import Device, DeviceStatus
from passgate.catalog.models import Performance
from passgate.orgs.models import DEMO_ORG_CODE
from passgate.sales.models import Ticket, TicketStatus


class Command(BaseCommand):
    help = "Simulate a crowd at a door: valid, duplicate, cancelled and unknown barcodes, with a live count."

    def add_arguments(self, parser):
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--device-token", help="Token (pgd_…) of the device at the door.")
        who.add_argument("--device", help="Name of an enrolled device (local database access).")
        parser.add_argument("--organisation", help="Organisation code (with --device, when several have it).")
        parser.add_argument("--count", type=int, default=200, help="Number of people (default 200).")
        parser.add_argument("--rate", type=float, default=20.0, help="People per second (default 20; 0 = flat out).")
        parser.add_argument("--mix", default="valid=70,duplicate=12,cancelled=8,unknown=10",
                            help="Shares of each kind (default valid=70,duplicate=12,cancelled=8,unknown=10).")
        parser.add_argument("--performance", help="Code of the performance on now to play (default: every "
                                                  "performance whose doors are open now).")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--yes-real-data", action="store_true",
                            help="Allow an organisation other than the demo one: its tickets get real controls.")

    def handle(self, *args, **options):
        device = self._device(options)
        org_code = device.organisation.code
        if org_code != DEMO_ORG_CODE and not options["yes_real_data"]:
            raise CommandError(f"the device belongs to {org_code!r}, not to the demo organisation: its tickets "
                               "would be marked controlled for real. Add --yes-real-data if that is what you "
                               "want.", returncode=2)
        rng = random.Random(options["seed"])
        mix = self._mix(options["mix"])
        on_now = self._on_now(device, options.get("performance"))
        sector = device.door.sector
        rules = services.sector_rules(sector.pk)
        live = Ticket.objects.filter(organisation_id=device.organisation_id,
                                     status__in=[TicketStatus.NOT_PRINTED, TicketStatus.PRINTED], control_count=0)
        live = live.filter(Q(performance__in=on_now) | Q(performance__isnull=True))
        valid = [b for b, p, pf, t, c in live.values_list("barcode", "product_id", "performance_id", "tariff_id",
                                                           "category_id")[:50_000]
                 if services.rules_match(rules, p, pf, t, c)]
        cancelled = list(Ticket.objects.filter(organisation_id=device.organisation_id,
                                               status__in=[TicketStatus.CANCELLED, TicketStatus.INVALIDATED])
                         .values_list("barcode", flat=True)[:5000])
        rng.shuffle(valid)
        if not valid:
            self.stderr.write("No uncontrolled ticket of a performance on now is admitted at this door; "
                              "the crowd will be denied.")
        playing = ", ".join(p.code for p in on_now) or "no performance on now"
        self.stdout.write(f"door {device.door.code} (sector {sector.code}), device {device.name}, {playing}: "
                          f"{len(valid)} valid tickets available, {len(cancelled)} cancelled/invalidated")
        counts: Counter = Counter()
        reasons: Counter = Counter()
        admitted: list[str] = []
        started = time.monotonic()
        for i in range(options["count"]):
            kind = rng.choices(list(mix), weights=list(mix.values()))[0]
            if kind == "valid" and valid:
                barcode = valid.pop()
            elif kind == "duplicate" and admitted:
                barcode = rng.choice(admitted)
            elif kind == "cancelled" and cancelled:
                barcode = rng.choice(cancelled)
            else:
                barcode = "".join(rng.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(16))
            answer = services.scan(device, barcode, uuid.uuid4().hex)
            counts[answer["decision"]] += 1
            if answer["decision"] == "GRANTED":
                admitted.append(barcode)
            else:
                reasons[answer["reason"]] += 1
            elapsed = time.monotonic() - started
            denied = ", ".join(f"{r} {n}" for r, n in reasons.most_common())
            line = (f"\rscanned {i + 1:>5}  granted {counts['GRANTED']:>5}  denied {counts['DENIED']:>4}"
                    f" ({denied})  {(i + 1) / max(elapsed, 1e-6):6.1f}/s   ")
            sys.stdout.write(line)
            sys.stdout.flush()
            if options["rate"] > 0:
                delay = (i + 1) / options["rate"] - (time.monotonic() - started)
                if delay > 0:
                    time.sleep(delay)
        sys.stdout.write("\n")
        self.stdout.write(self.style.SUCCESS(
            f"done: {counts['GRANTED']} granted, {counts['DENIED']} denied in {time.monotonic() - started:.1f} s"))

    def _device(self, options) -> Device:
        if options["device_token"]:
            device = services.authenticate_device(options["device_token"])
            if device is None:
                raise CommandError("--device-token: unknown token")
            return device
        qs = Device.objects.select_related("door__sector", "organisation").filter(name=options["device"])
        if options.get("organisation"):
            qs = qs.filter(organisation__code=options["organisation"])
        devices = list(qs[:2])
        if not devices:
            raise CommandError(f"--device: no device named {options['device']!r}")
        if len(devices) > 1:
            raise CommandError("--device: several organisations have this device; add --organisation CODE")
        if devices[0].status != DeviceStatus.ACTIVE:
            raise CommandError(f"--device: {devices[0].name} is {devices[0].status}")
        return devices[0]

    def _mix(self, text: str) -> dict[str, float]:
        mix = {}
        for part in text.split(","):
            name, _, value = part.partition("=")
            if name.strip() not in {"valid", "duplicate", "cancelled", "unknown"}:
                raise CommandError(f"--mix: unknown kind {name!r}; expected valid, duplicate, cancelled, unknown")
            try:
                mix[name.strip()] = float(value)
            except ValueError:
                raise CommandError(f"--mix: {name}= expects a number, found {value!r}") from None
        return mix

    def _on_now(self, device, code) -> list[Performance]:
        now = timezone.now()
        perfs = Performance.objects.filter(organisation_id=device.organisation_id, ends_at__gte=now).filter(
            Q(doors_open_at__lte=now) | Q(doors_open_at__isnull=True, starts_at__lte=now))
        if code:
            perf = Performance.objects.filter(organisation_id=device.organisation_id, code=code).first()
            if perf is None:
                raise CommandError(f"--performance: no performance {code!r} in this organisation", returncode=2)
            if perf not in perfs:
                raise CommandError(f"--performance: {code} is not on now (doors open "
                                   f"{perf.doors_open_at or perf.starts_at:%Y-%m-%d %H:%M} UTC, ends "
                                   f"{perf.ends_at:%Y-%m-%d %H:%M} UTC)", returncode=2)
            return [perf]
        return list(perfs.order_by("starts_at"))
