"""The access room's built-in maintenance functions, run by the jobs machinery on the SYSTEM
interface of every organisation: post-synchronisation of partner cards, and pruning of the
change log offline packages are built from."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

POSTSYNC = "ACCESS_POSTSYNC"
PRUNE_CHANGES = "ACCESS_PRUNE_CHANGES"


class PostSyncParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(1000, ge=1, le=100_000, description="Cards handed to partners per run, at most.")


class PruneParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keep_days: int = Field(30, ge=1, le=3650, description="Days of change log kept for offline increments; a "
                                                          "device whose cursor is older starts again in full.")


def postsync(ctx) -> None:
    """For each partner interface whose sectors have cards waiting: hand them to the partner."""
    from passgate.jobs.models import Interface

    from .models import PostSync, Scan
    from .services import run_postsync

    org = ctx.organisation
    waiting = (Scan.objects.filter(organisation=org, postsync_status=PostSync.PENDING, sector__interface__isnull=False)
               .values_list("sector__interface", flat=True).distinct())
    interfaces = list(Interface.objects.filter(organisation=org, pk__in=list(waiting)).order_by("pk"))
    totals = {"done": 0, "failed": 0, "pending": 0}
    if ctx.simulation:
        rows = list(Scan.objects.filter(organisation=org, postsync_status=PostSync.PENDING,
                                        sector__interface__in=interfaces).values_list("barcode", flat=True)
                    [:ctx.params.limit])
        ctx.select(len(rows))
        for barcode in rows:
            ctx.item("SKIPPED", object_ref=barcode, message="simulation: would be handed to the partner")
        ctx.summary = f"simulation: {len(rows)} card(s) waiting"
        return

    def report(row, status, code, message):
        outcome = {"DONE": "DONE", "FAILED": "FAILED"}.get(status, "SKIPPED")
        if outcome == "SKIPPED":
            message = f"partner unreachable, left pending: {message}"
        ctx.item(outcome, object_ref=row.barcode, partner_code=code or "", message=message or "")

    left = ctx.params.limit
    for interface in interfaces:
        if left <= 0:
            break
        counts = run_postsync(interface, left, on_result=report, on_claimed=ctx.select)
        for key in totals:
            totals[key] += counts[key]
        left -= sum(counts.values())
    ctx.summary = (f"{totals['done']} card(s) synchronised, {totals['failed']} refused or failed, "
                   f"{totals['pending']} left pending (partner unreachable)")


def prune_changes(ctx) -> None:
    from .changes import prune

    keep = dt.timedelta(days=ctx.params.keep_days)
    if ctx.simulation:
        ctx.summary = f"simulation: would delete change-log entries older than {ctx.params.keep_days} days"
        return
    deleted = prune(ctx.organisation.pk, keep)
    ctx.summary = f"{deleted} change-log entr{'y' if deleted == 1 else 'ies'} older than {ctx.params.keep_days} days deleted"


def register() -> None:
    from passgate.jobs.apps import SYSTEM_TYPE
    from passgate.jobs.registry import (
        FunctionSpec,
        InterfaceTypeSpec,
        register_function,
        register_type,
        types,
    )

    if SYSTEM_TYPE not in types():  # jobs registers it first; stay correct whatever the app order
        register_type(InterfaceTypeSpec(code=SYSTEM_TYPE, label="passgate maintenance (built-in)",
                                        secret_label="(none)"))
    register_function(SYSTEM_TYPE, FunctionSpec(
        name=POSTSYNC, label="Access: post-synchronise partner cards", run=postsync, params_schema=PostSyncParams,
        default_batch_size=None, max_batch_size=None, builtin=True, default_frequency_minutes=2,
        description="Hands partner cards admitted offline (or while the partner was down) to their partner."))
    register_function(SYSTEM_TYPE, FunctionSpec(
        name=PRUNE_CHANGES, label="Access: prune the offline change log", run=prune_changes,
        params_schema=PruneParams, default_batch_size=None, max_batch_size=None, builtin=True,
        default_frequency_minutes=24 * 60,
        description="Deletes change-log entries older than the retention; older device cursors restart in full."))
