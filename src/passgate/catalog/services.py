"""Catalogue services. Every write is validated, scoped to the actor's
organisation and audited."""

from __future__ import annotations

from typing import Any

from passgate.orgs.permissions import Permission
from passgate.orgs.services import Actor, create_scoped, delete_scoped, update_scoped

from .models import Category, Contingent, Performance, PointOfSale, Product, SalesChannel, Season, Tariff

CATALOG_MODELS = (Season, Product, Performance, Tariff, Category, SalesChannel, PointOfSale, Contingent)


def create(actor: Actor, model: type, **fields: Any) -> Any:
    assert model in CATALOG_MODELS, model
    return create_scoped(actor, model, Permission.MANAGE_CATALOG, **fields)


def update(actor: Actor, obj: Any, **fields: Any) -> Any:
    fields.pop("sold_count", None)  # counters move only through sales
    return update_scoped(actor, obj, Permission.MANAGE_CATALOG, **fields)


def delete(actor: Actor, obj: Any) -> None:
    delete_scoped(actor, obj, Permission.MANAGE_CATALOG)
