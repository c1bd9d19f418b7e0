"""Ledgergate: the edge and composition root of the integration gateway."""

import sys

# httpx imports its command-line client (click, rich, pygments: 4 MiB resident in every
# worker) whenever those are installed, as the `ledgergate` command's own dependencies
# are. Nothing here runs that client; told it cannot be imported, httpx defines a stub.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
