"""`passgate scan --device-token T BARCODE`: one online scan, as a device would make it."""

from __future__ import annotations

import json
import uuid

from django.core.management.base import BaseCommand, CommandError

from passgate.access import services
from passgate.errors import PassgateError


class Command(BaseCommand):
    help = "Scan one barcode with a device token (in-process, or over HTTP with --url). Exit status 0 = granted, 1 = denied, 2 = usage error."

    def add_arguments(self, parser):
        parser.add_argument("barcode")
        parser.add_argument("--device-token", required=True, help="The device's token (pgd_…).")
        parser.add_argument("--exit", action="store_true", help="An exit scan instead of an entry.")
        parser.add_argument("--nonce", help="Idempotency key (default: a new UUID; reuse it to replay).")
        parser.add_argument("--url", help="Base URL of a running passgate (e.g. http://127.0.0.1:8000); "
                                          "default: decide in-process against the database.")
        parser.add_argument("--json", action="store_true", help="Print the whole answer as JSON.")

    def handle(self, *args, **options):
        nonce = options["nonce"] or uuid.uuid4().hex
        direction = "EXIT" if options["exit"] else "ENTRY"
        if options["url"]:
            answer = self._http(options, nonce, direction)
        else:
            try:
                device = services.authenticate_device(options["device_token"])
                if device is None:
                    raise CommandError("--device-token: unknown token (expected the pgd_… token of an enrolled device)",
                                       returncode=2)
                answer = services.scan(device, options["barcode"], nonce, direction=direction)
            except PassgateError as exc:
                raise CommandError(f"{exc.field or 'error'}: {exc.message}", returncode=2) from None
        if options["json"]:
            self.stdout.write(json.dumps(answer, indent=2))
        else:
            self.stdout.write(format_answer(answer))
        if answer["decision"] != "GRANTED":
            raise SystemExit(1)

    def _http(self, options, nonce, direction):
        import httpx

        url = options["url"].rstrip("/") + "/api/v1/access/scans"
        try:
            r = httpx.post(url, json={"barcode": options["barcode"], "nonce": nonce, "direction": direction},
                           headers={"Authorization": f"Bearer {options['device_token']}"}, timeout=10)
        except httpx.HTTPError as exc:
            raise CommandError(f"--url: cannot reach {url}: {exc}", returncode=2) from None
        if r.status_code != 200:
            body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            raise CommandError(f"{body.get('field') or 'error'}: {body.get('message') or r.text[:200]}", returncode=2)
        return r.json()


def format_answer(answer: dict) -> str:
    head = answer["decision"] + (f" {answer['reason']}" if answer.get("reason") else "")
    lines = [f"{head} — {answer['message']}", f"  barcode {answer['barcode']}  door {answer.get('door')}  "
             f"sector {answer.get('sector')}  {answer['direction']}"]
    t = answer.get("ticket") or {}
    if t:
        what = " ".join(str(x) for x in (t.get("product"), t.get("performance"), t.get("tariff"), t.get("category"),
                                         t.get("seat")) if x)
        lines.append(f"  {what}  holder: {t.get('holder') or '—'}  entries: {t.get('entries')}")
    return "\n".join(lines)
