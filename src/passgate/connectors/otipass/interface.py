"""The OTIPASS interface type: its URL rule (`…/api/PROJECT` is split) and its parameter schema
(seed 001). Registered by the app's ready()."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from passgate.errors import InvalidInput
from passgate.jobs.partner_http import check_http_url
from passgate.jobs.registry import InterfaceTypeSpec, NormalisedConfig, register_type


class OtipassSector(BaseModel):
    model_config = ConfigDict(extra="forbid")

    OtipassServiceId: str = Field(min_length=1)
    OtipassPSpaceId: str = Field(pattern=r"^PROVIDER#\S+$")
    seasonCode: str = Field(min_length=1)
    productCode: str = Field(min_length=1)


DEFAULT_CONTACT = "OTIPASS"


class OtipassParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    OtipassProjectId: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    NumType: Literal["numeric", "serial"] = "numeric"
    sectorInfos: dict[str, OtipassSector] = Field(default_factory=dict)
    # passgate productCode (of sectorInfos) → the code of the tariff of that product the entries are sold at
    tariffMapping: dict[str, str] = Field(default_factory=dict)
    # The door's whole time budget with the partner, retries included; past it the card is admitted
    # offline (once per sector) and queued for post-synchronisation.
    doorTimeoutSeconds: float = Field(default=1.5, ge=0.2, le=10)
    # The number of the contact the reintegrated sales are made to (paid by pending account).
    contactNumber: str = Field(default=DEFAULT_CONTACT, min_length=1, max_length=40)


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



def register() -> None:
    from .checks import check_mapping, serve_mapped_sectors
    from .readiness import readiness
    from .setup import repair

    register_type(InterfaceTypeSpec(
        code="OTIPASS", label="Otipass", params_schema=OtipassParams, normalise=normalise_otipass,
        secret_label="password (the Otipass API key)", check=check_mapping, on_saved=serve_mapped_sectors,
        readiness=readiness, repair=repair))
