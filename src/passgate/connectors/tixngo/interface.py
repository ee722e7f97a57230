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


def normalise_tixngo(url: str, parameters: dict[str, Any]) -> NormalisedConfig:
    url, parts = check_http_url(url)
    if not parts.path.rstrip("/").endswith("/organizer/tickets"):
        raise InvalidInput("the TIXnGO URL must end with organizer/tickets", field="url",
                           expected="https://host/…/organizer/tickets", found=url)
    return NormalisedConfig(url=url, parameters=parameters)



def register() -> None:
    from .templates import TixngoTemplateParams

    register_type(InterfaceTypeSpec(
        code="TIXNGO", label="TIXnGO", params_schema=TixngoParams, normalise=normalise_tixngo,
        singleton_group="TIXNGO", secret_label="API key"))
    register_type(InterfaceTypeSpec(
        code="TIXNGO_TEMPLATE", label="TIXnGO with ticket template", params_schema=TixngoTemplateParams,
        normalise=normalise_tixngo, singleton_group="TIXNGO", secret_label="API key"))
