"""Interface-type skeletons whose rules the seeds state: the URL rules and the
parameter schemas of OTIPASS and TIXnGO. Their functions (and a richer
"test connection") are registered by their connectors, in later issues."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from passgate.errors import InvalidInput

from .registry import InterfaceTypeSpec, NormalisedConfig, register_type


def check_http_url(url: str, field: str = "url") -> tuple[str, Any]:
    """A stripped absolute http(s) URL without query or fragment, or InvalidInput."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port
    except ValueError as exc:  # "Invalid IPv6 URL", a port out of range…
        raise InvalidInput(f"this URL cannot be read ({exc})", field=field, expected="https://host/path",
                           found=url) from None
    if parts.scheme not in {"http", "https"} or not host or any(c.isspace() for c in url):
        raise InvalidInput("the URL must be absolute, starting with https:// (or http://)", field=field,
                           expected="https://host/path", found=url or "(empty)")
    if parts.query or parts.fragment:
        raise InvalidInput("the URL must not carry a query string or a fragment", field=field,
                           expected="https://host/path", found=url)
    if parts.username or parts.password:
        raise InvalidInput("put the user name and the password in their own fields, not in the URL",
                           field=field, expected="https://host/path", found=urlunsplit(
                               (parts.scheme, parts.hostname, parts.path, "", "")))
    return url.rstrip("/"), parts


# ---------------------------------------------------------------- Otipass

class OtipassSector(BaseModel):
    model_config = ConfigDict(extra="forbid")

    OtipassServiceId: str = Field(min_length=1)
    OtipassPSpaceId: str = Field(pattern=r"^PROVIDER#\S+$")
    seasonCode: str = Field(min_length=1)
    productCode: str = Field(min_length=1)


class OtipassParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    OtipassProjectId: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    NumType: Literal["numeric", "serial"] = "numeric"
    sectorInfos: dict[str, OtipassSector] = Field(default_factory=dict)
    # productCode of a synchronised Otipass pass → passgate tariff code
    tariffMapping: dict[str, str] = Field(default_factory=dict)


def normalise_otipass(url: str, parameters: dict[str, Any]) -> NormalisedConfig:
    """`https://otipass.example/api/toulouse` → URL `…/api` + OtipassProjectId `toulouse`."""
    url, parts = check_http_url(url)
    segments = [s for s in parts.path.split("/") if s]
    if "api" not in segments:
        raise InvalidInput("the Otipass URL must contain /api", field="url",
                           expected="https://host/api (optionally followed by the project id)", found=url)
    index = len(segments) - 1 - segments[::-1].index("api")
    rest = segments[index + 1:]
    parameters = dict(parameters)
    if len(rest) > 1:
        raise InvalidInput("after /api only the project id may follow", field="url",
                           expected="https://host/api/PROJECT", found=url)
    if rest:
        project = rest[0]
        given = parameters.get("OtipassProjectId")
        if given not in (None, "", project):
            raise InvalidInput("the project id in the URL and OtipassProjectId differ", field="url",
                               expected=f"OtipassProjectId {project!r} (from the URL)", found=given)
        parameters["OtipassProjectId"] = project
    base = urlunsplit((parts.scheme, parts.netloc, "/" + "/".join(segments[: index + 1]), "", ""))
    if not parameters.get("OtipassProjectId"):
        raise InvalidInput("the Otipass project id is missing", field="parameters",
                           expected="OtipassProjectId in the parameters, or a URL ending /api/PROJECT",
                           found=url)
    return NormalisedConfig(url=base, parameters=parameters)


# ---------------------------------------------------------------- TIXnGO

class TixngoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticketIterationSize: int = Field(default=1000, ge=1, le=1000)


def normalise_tixngo(url: str, parameters: dict[str, Any]) -> NormalisedConfig:
    url, parts = check_http_url(url)
    if not parts.path.rstrip("/").endswith("/organizer/tickets"):
        raise InvalidInput("the TIXnGO URL must end with organizer/tickets", field="url",
                           expected="https://host/…/organizer/tickets", found=url)
    return NormalisedConfig(url=url, parameters=parameters)


register_type(InterfaceTypeSpec(
    code="OTIPASS", label="Otipass", params_schema=OtipassParams, normalise=normalise_otipass,
    secret_label="password (the Otipass API key)"))
register_type(InterfaceTypeSpec(
    code="TIXNGO", label="TIXnGO", params_schema=TixngoParams, normalise=normalise_tixngo,
    singleton_group="TIXNGO", secret_label="API key"))
register_type(InterfaceTypeSpec(
    code="TIXNGO_TEMPLATE", label="TIXnGO with ticket template", params_schema=TixngoParams,
    normalise=normalise_tixngo, singleton_group="TIXNGO", secret_label="API key"))
