"""URL major versions, their lifecycle, and the headers every deprecated operation answers with.

The registry below is the one place the lifecycle dates live (settings may move them,
`LEDGERGATE_VERSIONING__V1_SUNSET=...`). A route declares with FastAPI's own keywords
that a newer version replaces it, so no tier imports the edge:

    @router.get("/{invoice_id}", deprecated=True,
                openapi_extra={"x-successor-version": "/v2/invoices/{invoice_id}"})

It is then `deprecated: true` in the OpenAPI document (the extension names the
successor there too), and every answer it gives carries

    Deprecation: @1795564800                       (RFC 9745, a structured-field date)
    Sunset: Tue, 01 Jun 2027 00:00:00 GMT          (RFC 8594, an HTTP-date)
    Link: </v2/invoices/inv_...>; rel="successor-version", </versions>; rel="deprecation"

The headers are added when the response starts (`headers.py`), from the
route that matched the request, so they reach every answer of the operation whoever
built it: the endpoint, a `Response` replayed by idempotency, and every problem
(authentication, validation, 404, 415) raised before or after the endpoint ran.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.types import Scope

from app.governance import route_table
from core.settings import VersioningSettings

SUCCESSOR_EXTENSION = "x-successor-version"
VERSIONS_PATH = "/versions"
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")  # what `quote(text, safe="")` leaves as it is

# `/v2/invoices` was published on 2026-11-25; `/v1` keeps working for six months more.
V1_DEPRECATION = datetime(2026, 11, 25, tzinfo=UTC)
V1_SUNSET = datetime(2027, 6, 1, tzinfo=UTC)


class Lifecycle(StrEnum):
    CURRENT = "current"
    DEPRECATED = "deprecated"


@dataclass(frozen=True)
class ApiVersion:
    """A URL major version (`v1` is served under `/v1`) and where it is in its lifecycle."""

    name: str
    status: Lifecycle
    deprecation: datetime | None = None
    sunset: datetime | None = None
    successor: str | None = None

    def __post_init__(self) -> None:
        deprecated = self.status == Lifecycle.DEPRECATED
        if deprecated != (self.deprecation is not None and self.sunset is not None):
            raise ValueError(f"{self.name}: a deprecated version has both dates, others neither")
        if self.deprecation and self.sunset and self.sunset <= self.deprecation:
            raise ValueError(f"{self.name}: the sunset must come after the deprecation")
        if deprecated and self.successor is None:
            raise ValueError(f"{self.name}: a deprecated version names its successor")

    @property
    def prefix(self) -> str:
        return f"/{self.name}"

    def deprecation_headers(self) -> list[tuple[bytes, bytes]]:
        """`Deprecation` and `Sunset`, as sent on every answer of a deprecated operation."""
        if self.deprecation is None or self.sunset is None:
            return []
        return [
            (b"deprecation", f"@{int(self.deprecation.timestamp())}".encode()),
            (b"sunset", format_datetime(self.sunset.astimezone(UTC), usegmt=True).encode()),
        ]


class VersionRegistry:
    """Every version the gateway serves, oldest first."""

    def __init__(self, versions: Iterable[ApiVersion]) -> None:
        self._versions = {version.name: version for version in versions}
        # Sent on every answer of a deprecated operation: formatted once.
        self._deprecation = {v.name: v.deprecation_headers() for v in self._versions.values()}
        for version in self._versions.values():
            if version.successor is not None and version.successor not in self._versions:
                raise ValueError(f"{version.name}: unknown successor {version.successor}")

    @classmethod
    def from_settings(cls, settings: VersioningSettings) -> VersionRegistry:
        return cls(
            [
                ApiVersion(
                    "v1",
                    Lifecycle.DEPRECATED,
                    deprecation=settings.v1_deprecation or V1_DEPRECATION,
                    sunset=settings.v1_sunset or V1_SUNSET,
                    successor="v2",
                ),
                ApiVersion("v2", Lifecycle.CURRENT),
            ]
        )

    def __iter__(self) -> Iterator[ApiVersion]:
        return iter(self._versions.values())

    def deprecation_headers(self, version: ApiVersion) -> list[tuple[bytes, bytes]]:
        """`version.deprecation_headers()`, formatted when the registry was built."""
        return self._deprecation[version.name]

    def of_path(self, path: str) -> ApiVersion | None:
        """The version a path is served under: `/v1/invoices` is `v1`."""
        return self._versions.get(path.lstrip("/").split("/", 1)[0])


def _successor_of(route: APIRoute) -> str | None:
    successor = (route.openapi_extra or {}).get(SUCCESSOR_EXTENSION)
    return successor if isinstance(successor, str) else None


def successor_url(template: str, path_params: Mapping[str, Any]) -> str:
    """The successor's path for this request: its path parameters, percent-encoded. A value
    of unreserved characters only (an id) is its own encoding, taken without `quote`'s calls."""
    return template.format_map(
        {
            name: text if _UNRESERVED.fullmatch(text := str(v)) else quote(text, safe="")
            for name, v in path_params.items()
        }
    )


class DeprecatedOperation(BaseModel):
    operation_id: str
    method: str
    path: str
    successor: str | None = Field(
        description="Path template of the operation that replaces it, if one does."
    )


class VersionInfo(BaseModel):
    version: str = Field(examples=["v1"])
    status: Lifecycle = Field(
        description="`current`: served and maintained. `deprecated`: the operations listed "
        "in `deprecated_operations` are to be withdrawn at `sunset`; use their successors."
    )
    base_path: str = Field(examples=["/v1"])
    deprecation: datetime | None = Field(description="Sent as the `Deprecation` header.")
    sunset: datetime | None = Field(description="Sent as the `Sunset` header.")
    successor: str | None = Field(description="The version that replaces this one.")
    deprecated_operations: list[DeprecatedOperation]


class VersionList(BaseModel):
    versions: list[VersionInfo]


def deprecated_operations(app: FastAPI) -> Iterator[DeprecatedOperation]:
    """The operations the app's OpenAPI document marks `deprecated`, with their successors."""
    for operation in route_table.operations(app):
        if operation.deprecated:
            successor = route_table.openapi_extra(operation).get(SUCCESSOR_EXTENSION)
            yield DeprecatedOperation(
                operation_id=operation.operation_id,
                method=operation.method,
                path=operation.template,
                successor=successor if isinstance(successor, str) else None,
            )


def version_list(registry: VersionRegistry, app: FastAPI) -> VersionList:
    """Every version of the registry, with the operations of `app` it deprecates."""
    deprecated: dict[str, list[DeprecatedOperation]] = {}
    for operation in deprecated_operations(app):
        version = registry.of_path(operation.path)
        if version is not None:
            deprecated.setdefault(version.name, []).append(operation)
    return VersionList(
        versions=[
            VersionInfo(
                version=version.name,
                status=version.status,
                base_path=version.prefix,
                deprecation=version.deprecation,
                sunset=version.sunset,
                successor=version.successor,
                deprecated_operations=deprecated.get(version.name, []),
            )
            for version in registry
        ]
    )


def deprecation_headers(registry: VersionRegistry, scope: Scope) -> list[tuple[bytes, bytes]]:
    """The headers of the operation `scope` was routed to, when its version deprecates it.

    The route object is the one FastAPI put in `scope["route"]`; the version comes from
    the request path, which carries every prefix the route was included under.
    """
    route = scope.get("route")
    if not isinstance(route, APIRoute) or not route.deprecated:
        return []
    version = registry.of_path(scope["path"])
    if version is None or scope["method"] not in (route.methods or ()):
        return []
    headers = registry.deprecation_headers(version)
    if not headers:
        return []
    links = [f'<{VERSIONS_PATH}>; rel="deprecation"']
    if (successor := _successor_of(route)) is not None:
        url = successor_url(successor, scope.get("path_params", {}))
        links.insert(0, f'<{url}>; rel="successor-version"')
    return [*headers, (b"link", ", ".join(links).encode())]


router = APIRouter(tags=["versions"])


@router.get(
    VERSIONS_PATH,
    response_model=VersionList,
    operation_id="versions-list",
    summary="List the API versions and their lifecycle",
)
async def list_versions(request: Request) -> VersionList:
    """Every URL major version, its status, its deprecation and sunset dates and successor."""
    registry: VersionRegistry = request.app.state.versions
    return version_list(registry, request.app)


def install_versioning(app: FastAPI, settings: VersioningSettings) -> VersionRegistry:
    """Put the registry on `app.state.versions`; the response headers (`headers.py`) take it
    for the deprecation headers."""
    registry = VersionRegistry.from_settings(settings)
    app.state.versions = registry
    return registry
