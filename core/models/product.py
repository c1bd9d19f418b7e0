"""Products of the catalog."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import BackendRefsMixin, Base, VersionedMixin


class ProductRow(VersionedMixin, BackendRefsMixin, Base):
    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(40))
    tax_code: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)
