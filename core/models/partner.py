"""Channel partners."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.canonical.parties import PartnerStatus
from core.models.base import BackendRefsMixin, Base, VersionedMixin


class PartnerRow(VersionedMixin, BackendRefsMixin, Base):
    __tablename__ = "partners"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[PartnerStatus] = mapped_column(String(20))
    commission_plan: Mapped[str] = mapped_column(String(50))
