"""Otipass API (/api/v1/otipass/…): the readiness checklist of an Otipass interface."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from passgate.apikit import Id, responses
from passgate.errors import NotFound
from passgate.jobs.models import Interface
from passgate.orgs.permissions import Permission
from passgate.orgs.services import scoped_get

from .readiness import readiness

PREFIX = "/v1/otipass/"
router = Router(tags=["otipass"])


class CheckOut(Schema):
    step: int
    title: str
    status: str
    ok: bool
    detail: str
    fix: str


class ReadinessOut(Schema):
    interface: int
    ready: bool
    checks: list[CheckOut]


@router.get("/interfaces/{id}/readiness", response=responses(ReadinessOut), operation_id="otipass_readiness",
            summary="Seed 001's set-up steps for an Otipass interface: each DONE, MISSING or WRONG, with the fix")
def get_readiness(request: HttpRequest, id: Id) -> Any:
    request.auth.require(Permission.VIEW)
    interface = scoped_get(request.auth, Interface, field="id", pk=id)
    if interface.type != "OTIPASS":
        raise NotFound("no such Otipass interface in this organisation", field="id", found=id)
    checks = readiness(interface)
    return {"interface": interface.pk, "ready": all(c.ok for c in checks), "checks": [c.as_dict() for c in checks]}
