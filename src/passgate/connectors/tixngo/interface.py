"""The TIXNGO and TIXNGO_TEMPLATE interface types: URL rule (…/organizer/tickets), parameters,
one interface per organisation (seeds 002, 003). Registered by the app's ready()."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from passgate.errors import InvalidInput
from passgate.jobs.partner_http import check_http_url
from passgate.jobs.registry import InterfaceTypeSpec, NormalisedConfig, register_type


class TixngoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticketIterationSize: int = Field(default=1000, ge=1, le=1000)
    # The channel and point of sale that mark injected tickets PRINTED (external printing, seed 002),
    # by code; set once, checked at save, required by the injection functions.
    salesChannel: str | None = Field(default=None, min_length=1, max_length=40)
    pointOfSale: str | None = Field(default=None, min_length=1, max_length=40)


def normalise_tixngo(url: str, parameters: dict[str, Any]) -> NormalisedConfig:
    url, parts = check_http_url(url)
    if not parts.path.rstrip("/").endswith("/organizer/tickets"):
        raise InvalidInput("the TIXnGO URL must end with organizer/tickets", field="url",
                           expected="https://host/…/organizer/tickets", found=url)
    return NormalisedConfig(url=url, parameters=parameters)


def printing_point_of_sale(organisation, parameters: dict[str, Any]):
    """The point of sale (of the channel) configured to mark tickets PRINTED; InvalidInput naming the
    parameter when it is missing, unknown in this organisation, or of another channel."""
    from passgate.catalog.models import PointOfSale, SalesChannel

    channel_code, pos_code = parameters.get("salesChannel"), parameters.get("pointOfSale")
    if not channel_code or not pos_code:
        missing = "salesChannel" if not channel_code else "pointOfSale"
        raise InvalidInput("the TIXnGO interface needs the sales channel and point of sale that mark injected "
                           "tickets as printed", field=f"parameters.{missing}",
                           expected="the code of a sales channel and of one of its points of sale",
                           found="(missing)")
    channel = SalesChannel.objects.filter(organisation=organisation, code=channel_code).first()
    if channel is None:
        raise InvalidInput("no sales channel with this code in the organisation", field="parameters.salesChannel",
                           expected="the code of a sales channel of this organisation", found=channel_code)
    pos = PointOfSale.objects.filter(organisation=organisation, code=pos_code).select_related("channel").first()
    if pos is None:
        raise InvalidInput("no point of sale with this code in the organisation", field="parameters.pointOfSale",
                           expected=f"the code of a point of sale of channel {channel_code}", found=pos_code)
    if pos.channel_id != channel.pk:
        raise InvalidInput("the point of sale belongs to another channel", field="parameters.pointOfSale",
                           expected=f"a point of sale of channel {channel_code}",
                           found=f"{pos_code} (channel {pos.channel.code})")
    return pos


def check_tixngo(organisation, parameters: dict[str, Any], lines=None, interface_pk=None) -> None:
    """At save: the point of sale and channel, when given, exist and belong together."""
    if parameters.get("salesChannel") or parameters.get("pointOfSale"):
        printing_point_of_sale(organisation, parameters)



def register() -> None:
    from .templates import TixngoTemplateParams

    register_type(InterfaceTypeSpec(
        code="TIXNGO", label="TIXnGO", params_schema=TixngoParams, normalise=normalise_tixngo,
        singleton_group="TIXNGO", secret_label="API key",
        check=check_tixngo))
    register_type(InterfaceTypeSpec(
        code="TIXNGO_TEMPLATE", label="TIXnGO with ticket template", params_schema=TixngoTemplateParams,
        normalise=normalise_tixngo, singleton_group="TIXNGO", secret_label="API key",
        check=check_tixngo))
