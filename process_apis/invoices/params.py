"""The invoice id in a path, as every invoice route of every version takes it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from core.ids import id_pattern

InvoiceID = Annotated[
    str, Path(pattern=id_pattern("invoice"), examples=["inv_01jd0000000000000000000000"])
]
