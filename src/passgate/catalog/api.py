"""Catalogue API (/api/v1/catalog/…): seasons, products, performances, tariffs,
categories, channels, points of sale and contingents — list (filters, keyset
pages), get, create, patch, delete. Thin: every write goes through
catalog.services, which checks the role, validates and audits."""

# No `from __future__ import annotations`: the views are built in a loop and ninja
# reads their annotations, which must be real types bound at definition time.
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from django.db.models import Model, QuerySet
from django.http import HttpRequest
from ninja import Query, Router, Status

from passgate.apikit import Id, aware, input_names, local, not_null, paginate, responses
from passgate.orgs.permissions import Permission
from passgate.orgs.services import Actor, scoped_get

from . import schemas as s
from . import services
from .models import Category, Contingent, Performance, PointOfSale, Product, SalesChannel, Season, Tariff

router = Router(tags=["catalogue"])


# ---------------------------------------------------------------- serialisers

def season_out(o: Season) -> dict[str, Any]:
    return {"id": o.pk, "code": o.code, "name": o.name, "starts_on": o.starts_on, "ends_on": o.ends_on}


def product_out(o: Product) -> dict[str, Any]:
    org = o.organisation
    return {
        "id": o.pk, "season_id": o.season_id, "season_code": o.season.code, "code": o.code, "name": o.name,
        "family": o.family, "validity": o.validity, "valid_from": local(o.valid_from, org),
        "valid_until": local(o.valid_until, org), "validity_hours": o.validity_hours,
        "max_controls": o.max_controls, "max_controls_per_day": o.max_controls_per_day,
        "capacity": o.capacity, "sold_count": o.sold_count,
    }


def performance_out(o: Performance) -> dict[str, Any]:
    org = o.organisation
    return {
        "id": o.pk, "product_id": o.product_id, "product_code": o.product.code, "code": o.code, "name": o.name,
        "starts_at": local(o.starts_at, org), "ends_at": local(o.ends_at, org),
        "doors_open_at": local(o.doors_open_at, org), "venue_site": o.venue_site, "venue_city": o.venue_city,
        "venue_country_code": o.venue_country_code, "venue_zip": o.venue_zip, "capacity": o.capacity,
        "sold_count": o.sold_count,
    }


def tariff_out(o: Tariff) -> dict[str, Any]:
    return {"id": o.pk, "product_id": o.product_id, "product_code": o.product.code, "code": o.code,
            "name": o.name, "price": str(o.price)}


def category_out(o: Category) -> dict[str, Any]:
    return {"id": o.pk, "product_id": o.product_id, "product_code": o.product.code, "code": o.code,
            "name": o.name}


def channel_out(o: SalesChannel) -> dict[str, Any]:
    return {"id": o.pk, "code": o.code, "name": o.name, "type": o.type}


def point_of_sale_out(o: PointOfSale) -> dict[str, Any]:
    return {"id": o.pk, "channel_id": o.channel_id, "channel_code": o.channel.code, "code": o.code,
            "name": o.name}


def contingent_out(o: Contingent) -> dict[str, Any]:
    return {
        "id": o.pk, "code": o.code, "name": o.name, "channel_id": o.channel_id, "channel_code": o.channel.code,
        "product_id": o.product_id, "product_code": o.product.code, "performance_id": o.performance_id,
        "performance_code": o.performance.code if o.performance_id else None, "quota": o.quota,
        "sold_count": o.sold_count,
    }


# ---------------------------------------------------------------- resources

@dataclass
class Resource:
    path: str  # URL segment, plural
    singular: str  # for operation ids
    model: type[Model]
    create_in: type
    out: type
    query: type
    serialize: Callable[[Any], dict[str, Any]]
    refs: dict[str, type[Model]] = field(default_factory=dict)  # "product_id" → Product
    filters: dict[str, str] = field(default_factory=dict)  # query field → ORM lookup
    related: tuple[str, ...] = ()
    nullable: set[str] = field(default_factory=set)  # fields a PATCH may set to null


RESOURCES = [
    Resource("seasons", "season", Season, s.SeasonIn, s.SeasonOut, s.SeasonQuery, season_out,
             filters={"code": "code"}, nullable={"starts_on", "ends_on"}),
    Resource("products", "product", Product, s.ProductIn, s.ProductOut, s.ProductQuery, product_out,
             refs={"season_id": Season}, filters={"code": "code", "season_id": "season_id", "family": "family"},
             related=("season", "organisation"),
             nullable={"valid_from", "valid_until", "validity_hours", "max_controls", "max_controls_per_day",
                       "capacity"}),
    Resource("performances", "performance", Performance, s.PerformanceIn, s.PerformanceOut, s.PerformanceQuery,
             performance_out, refs={"product_id": Product},
             filters={"code": "code", "product_id": "product_id", "starts_after": "starts_at__gte",
                      "starts_before": "starts_at__lt"},
             related=("product", "organisation"), nullable={"doors_open_at", "capacity"}),
    Resource("tariffs", "tariff", Tariff, s.TariffIn, s.TariffOut, s.TariffQuery, tariff_out,
             refs={"product_id": Product}, filters={"code": "code", "product_id": "product_id"},
             related=("product",)),
    Resource("categories", "category", Category, s.CategoryIn, s.CategoryOut, s.CategoryQuery, category_out,
             refs={"product_id": Product}, filters={"code": "code", "product_id": "product_id"},
             related=("product",)),
    Resource("channels", "channel", SalesChannel, s.ChannelIn, s.ChannelOut, s.ChannelQuery, channel_out,
             filters={"code": "code", "type": "type"}),
    Resource("points-of-sale", "point_of_sale", PointOfSale, s.PointOfSaleIn, s.PointOfSaleOut,
             s.PointOfSaleQuery, point_of_sale_out, refs={"channel_id": SalesChannel},
             filters={"code": "code", "channel_id": "channel_id"}, related=("channel",)),
    Resource("contingents", "contingent", Contingent, s.ContingentIn, s.ContingentOut, s.ContingentQuery,
             contingent_out, refs={"channel_id": SalesChannel, "product_id": Product, "performance_id": Performance},
             filters={"code": "code", "channel_id": "channel_id", "product_id": "product_id",
                      "performance_id": "performance_id"},
             related=("channel", "product", "performance"), nullable={"performance_id"}),
]


def _queryset(res: Resource, actor: Actor) -> QuerySet:
    return res.model._default_manager.filter(organisation=actor.organisation).select_related(*res.related)


def _model_fields(res: Resource, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """API input → service keyword arguments: ids become rows of this organisation (404 otherwise),
    times without an offset are read in the organisation's time zone."""
    fields: dict[str, Any] = {}
    for name, value in data.items():
        if name in res.refs:
            target = res.refs[name]
            fields[name.removesuffix("_id")] = (
                None if value is None else scoped_get(actor, target, field=name, pk=value))
        elif isinstance(value, Enum):
            fields[name] = value.value
        elif hasattr(value, "tzinfo") and hasattr(value, "hour"):
            fields[name] = aware(value, actor.organisation)
        else:
            fields[name] = value
    return fields


def _get(res: Resource, actor: Actor, obj_id: int) -> Any:
    return scoped_get(actor, res.model, field="id", pk=obj_id)


def _register(res: Resource) -> None:
    Out, In, Query_ = res.out, res.create_in, res.query
    Patch = s.patch_of(In)
    Page = s.page_of(Out)
    label = res.model._meta.verbose_name
    refs = [name.removesuffix("_id") for name in res.refs]

    def list_objects(request: HttpRequest, query: Query[Query_]) -> Any:  # type: ignore[valid-type]
        actor: Actor = request.auth
        actor.require(Permission.VIEW)
        qs = _queryset(res, actor)
        for name, lookup in res.filters.items():
            value = getattr(query, name)
            if value is not None:
                qs = qs.filter(**{lookup: aware(value, actor.organisation) if lookup.startswith("starts_at")
                                  else value})
        return paginate(qs, query.cursor, query.limit, res.serialize)

    def get_object(request: HttpRequest, id: Id) -> Any:
        actor: Actor = request.auth
        actor.require(Permission.VIEW)
        obj = _get(res, actor, id)
        return res.serialize(obj)

    def create_object(request: HttpRequest, payload: In) -> Any:  # type: ignore[valid-type]
        actor: Actor = request.auth
        actor.require(Permission.MANAGE_CATALOG)
        with input_names(*refs):
            obj = services.create(actor, res.model, **_model_fields(res, actor, payload.model_dump()))
        return Status(201, res.serialize(_queryset(res, actor).get(pk=obj.pk)))

    def update_object(request: HttpRequest, id: Id, payload: Patch) -> Any:  # type: ignore[valid-type]
        actor: Actor = request.auth
        actor.require(Permission.MANAGE_CATALOG)
        obj = _get(res, actor, id)
        data = payload.model_dump(exclude_unset=True)
        not_null(data, res.nullable)
        with input_names(*refs):
            services.update(actor, obj, **_model_fields(res, actor, data))
        return res.serialize(_queryset(res, actor).get(pk=obj.pk))

    def delete_object(request: HttpRequest, id: Id) -> Any:
        actor: Actor = request.auth
        actor.require(Permission.MANAGE_CATALOG)
        services.delete(actor, _get(res, actor, id))
        return Status(204, None)

    path, one = f"/{res.path}", f"/{res.path}/{{id}}"
    router.get(path, response=responses(Page), operation_id=f"list_{res.path.replace('-', '_')}",
               summary=f"List {label}s")(list_objects)
    router.get(one, response=responses(Out), operation_id=f"get_{res.singular}", summary=f"Get a {label}")(
        get_object)
    router.post(path, response=responses(Out, 201), operation_id=f"create_{res.singular}",
                summary=f"Create a {label}")(create_object)
    router.patch(one, response=responses(Out), operation_id=f"update_{res.singular}",
                 summary=f"Change a {label} (only the fields sent)")(update_object)
    router.delete(one, response=responses(None, 204), operation_id=f"delete_{res.singular}",
                  summary=f"Delete a {label} (409 while something still uses it)")(delete_object)


for _resource in RESOURCES:
    _register(_resource)
