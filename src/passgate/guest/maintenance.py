"""The guest room's built-in maintenance functions (run by the jobs machinery on every
organisation's SYSTEM interface): expire tickets and cut their sessions, close stale sessions,
purge the extra fields' values past their retention."""

from __future__ import annotations

EXPIRE = "GUEST_EXPIRE"
STALE = "GUEST_CLOSE_STALE"
PURGE = "GUEST_PURGE_EXTRA"
DISCONNECT = "GUEST_SEND_DISCONNECTS"


def expire(ctx) -> None:
    from .services import expire_tickets

    if ctx.simulation:
        ctx.summary = "simulation: nothing expired"
        return
    tickets, cuts = expire_tickets(ctx.organisation)
    ctx.summary = f"{tickets} ticket(s) expired, {cuts} session(s) to disconnect"


def send_disconnects(ctx) -> None:
    from .coa import send_pending

    if ctx.simulation:
        ctx.summary = "simulation: nothing sent"
        return
    answers = send_pending(ctx.organisation)
    ctx.summary = (f"{answers['ACK']} ACK, {answers['NAK']} NAK (Disconnect or CoA), "
                   f"{answers['TIMEOUT']} unanswered (retried next run)")


def close_stale(ctx) -> None:
    from .services import close_stale_sessions

    if ctx.simulation:
        ctx.summary = "simulation: nothing closed"
        return
    ctx.summary = f"{close_stale_sessions(ctx.organisation)} stale session(s) closed"


def purge(ctx) -> None:
    from .services import purge_extra_fields

    if ctx.simulation:
        ctx.summary = "simulation: nothing purged"
        return
    ctx.summary = f"extra fields purged on {purge_extra_fields(ctx.organisation)} ticket(s)"


def register() -> None:
    from passgate.jobs.apps import SYSTEM_TYPE
    from passgate.jobs.registry import (
        FunctionSpec,
        InterfaceTypeSpec,
        NoParams,
        register_function,
        register_type,
        types,
    )

    if SYSTEM_TYPE not in types():
        register_type(InterfaceTypeSpec(code=SYSTEM_TYPE, label="passgate maintenance (built-in)",
                                        secret_label="(none)"))
    common = dict(params_schema=NoParams, default_batch_size=None, max_batch_size=None, builtin=True)
    register_function(SYSTEM_TYPE, FunctionSpec(
        name=EXPIRE, label="Guest WiFi: expire tickets and cut their sessions", run=expire,
        default_frequency_minutes=1, description="Tickets past their expiry become EXPIRED; their open sessions "
                                                 "get a Disconnect-Request.", **common))
    register_function(SYSTEM_TYPE, FunctionSpec(
        name=DISCONNECT, label="Guest WiFi: send the Disconnect/CoA-Requests owed", run=send_disconnects,
        default_frequency_minutes=1, description="Each open session of a cancelled, expired or used-up ticket gets "
                                                 "a Disconnect-Request (RFC 5176) at its NAS, one whose quota runs "
                                                 "low a CoA-Request with what is left; unanswered ones are "
                                                 "retried, each ACK or NAK is recorded.", **common))
    register_function(SYSTEM_TYPE, FunctionSpec(
        name=STALE, label="Guest WiFi: close stale sessions", run=close_stale, default_frequency_minutes=5,
        description="Sessions with no accounting for 3× their interim interval are closed and free their "
                    "device slot.", **common))
    register_function(SYSTEM_TYPE, FunctionSpec(
        name=PURGE, label="Guest WiFi: purge extra fields past retention", run=purge,
        default_frequency_minutes=24 * 60,
        description="Erases the values of the extra fields asked at issue once the method's retention is over.",
        **common))
