"""Ledgergate: the edge and composition root of the integration gateway."""

import sys

# httpx imports its command-line client (click, rich, pygments: 4 MiB resident in every
# worker) whenever those are installed, as the `ledgergate` command's own dependencies
# are. Nothing here runs that client; told it cannot be imported, httpx defines a stub.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
# FastAPI imports pydantic's bundled v1 (pydantic.v1: 90 modules, 1.6 MiB resident in every
# worker) only to refuse v1 models when it builds a route; none is ever given. Told it cannot
# be imported, FastAPI takes every model for a v2 one, as each of ours is.
sys.modules.setdefault("pydantic.v1", None)  # type: ignore[arg-type]
