"""The vendors' published API descriptions the contract tests check against.

They live gzip-compressed in `tests/vendor_specs/` (source and licence in its README),
so a clone of the repository is all the suite needs.
"""

from __future__ import annotations

import gzip
from pathlib import Path

VENDOR_SPECS = Path(__file__).resolve().parents[1] / "vendor_specs"


def vendor_spec_text(name: str) -> str:
    """The text of `name` (e.g. `stripe-2020-08-27/spec3.json`), decompressed."""
    return gzip.decompress((VENDOR_SPECS / f"{name}.gz").read_bytes()).decode("utf-8")
