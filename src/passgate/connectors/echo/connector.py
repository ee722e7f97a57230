"""ECHO: a trivial connector that proves the machinery end to end against the
echo sandbox (`passgate sandbox echo`). Its wire format, all in this module:

- header `X-Api-Key: <secret>` on every call;
- `GET /ping` → `{"ok": true, "partner": "echo"}` (401 with a wrong key);
- `POST /batch {"items": [{"id", "barcode", "status"}]}` → per item
  `{"id", "status": ACCEPTED | ALREADY | REJECTED, "error"?}`; the partner is
  idempotent by id, so the call may be repeated.

Function ECHO_TICKETS sends the organisation's tickets changed since the
position the last run reached (ctx.changed_tickets) whose current status and
barcode it has not sent yet, in chunks, and records each outcome.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from passgate.jobs.partner_http import PartnerClient, PartnerError, check_http_url
from passgate.jobs.registry import (
    ConnectionReport,
    FunctionSpec,
    InterfaceTypeSpec,
    NormalisedConfig,
    register_function,
    register_type,
)
from passgate.jobs.runner import ItemRecord, RunContext
from passgate.jobs.secrets import decrypt


class EchoClient(PartnerClient):
    partner = "echo"

    def __init__(self, base_url: str, api_key: str, **kwargs) -> None:
        headers = {"X-Api-Key": api_key, "Accept": "application/json"}
        kwargs.setdefault("secrets", [api_key])
        super().__init__(base_url, headers=headers, **kwargs)

    def ping(self) -> dict:
        return self.get("/ping").json()

    def send_batch(self, items: list[dict]) -> list[dict]:
        return self.post("/batch", json={"items": items}, idempotent=True).json()["results"]


class EchoInterfaceParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    greeting: str = "hello"


class EchoTicketsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    statuses: list[Literal["NOT_PRINTED", "PRINTED", "CANCELLED", "INVALIDATED"]] = Field(
        default_factory=lambda: ["NOT_PRINTED", "PRINTED"])
    chunk_size: int = Field(default=100, ge=1, le=1000)
    # Stay running this long before working (demos and concurrency tests); the lease is renewed meanwhile.
    hold_seconds: float = Field(default=0, ge=0, le=600)


def normalise(url: str, parameters: dict) -> NormalisedConfig:
    url, _ = check_http_url(url)
    return NormalisedConfig(url=url, parameters=parameters)


def test_connection(interface) -> ConnectionReport:
    with EchoClient(interface.url, decrypt(interface.secret_encrypted)) as client:
        try:
            client.ping()
        except PartnerError as exc:
            if exc.status in (401, 403):
                return ConnectionReport(False, "the partner answered but refused the API key",
                                        [("URL", True, interface.url), ("credentials", False, str(exc.found))])
            return ConnectionReport(False, f"the partner cannot be reached at this URL: {exc.message}",
                                    [("URL", False, str(exc.found))])
    return ConnectionReport(True, "URL and API key are right", [("URL", True, interface.url),
                                                               ("credentials", True, "accepted")])


def echo_tickets(ctx: RunContext) -> None:
    from passgate.sales.models import Ticket

    params: EchoTicketsParams = ctx.params
    if params.hold_seconds:
        ctx.sleep(params.hold_seconds)
    # the partner keeps a ticket's status and barcode: a cancellation or a reprint is sent again
    selected = ctx.changed_tickets(Ticket.objects.filter(status__in=params.statuses),
                                   sent_key=("status", "barcode"))
    if ctx.simulation:
        ctx.record(ItemRecord("SKIPPED", t, message="simulation: not sent") for t in selected)
        ctx.summary = f"simulation: {len(selected)} tickets would be sent"
        return
    with ctx.http(EchoClient, api_key=ctx.secret) as client:
        client.ping()
        for start in range(0, len(selected), params.chunk_size):
            chunk = selected[start:start + params.chunk_size]
            results = client.send_batch([{"id": t.pk, "barcode": t.barcode, "status": t.status} for t in chunk])
            by_id = {r["id"]: r for r in results}
            records = []
            for t in chunk:
                r = by_id.get(t.pk, {"status": "MISSING", "error": "the partner did not answer for this item"})
                ok = r["status"] in ("ACCEPTED", "ALREADY")
                records.append(ItemRecord("DONE" if ok else "FAILED", t, partner_code=r["status"],
                                          message=r.get("error", ""), mark_processed=ok))
            ctx.record(records)
    ctx.summary = (f"{ctx.counts['done']} tickets echoed, {ctx.counts['failed']} refused"
                   + (f" (updated since {ctx.since:%Y-%m-%d %H:%M:%S})" if ctx.execution.date_from_used else "")
                   + (f", {ctx.remaining} left for the next run" if ctx.remaining else ""))


def register() -> None:
    register_type(InterfaceTypeSpec(code="ECHO", label="Echo (sandbox test partner)", params_schema=EchoInterfaceParams,
                                    normalise=normalise, test_connection=test_connection, secret_label="API key"))
    register_function("ECHO", FunctionSpec(
        name="ECHO_TICKETS", label="Echo tickets", run=echo_tickets, params_schema=EchoTicketsParams,
        default_batch_size=1000, max_batch_size=10000, uses_watermark=True,
        description="Sends the tickets changed since the last run (by position in the change sequence) to the "
                    "echo partner; a cancelled or reprinted ticket is sent again."))
