"""The circulars sent to the préfectures: one per préfecture and campaign, enforced by the database.

`Prefecture` itself (the directory) lives with the Atlas models (store.models); this table records
what was sent to each, so that `mailbot circular send` run twice sends nothing the second time, and
a message answering or forwarding a circular tells us the préfecture, hence the territory.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base


class Circular(Base):
    __tablename__ = "circular"
    __table_args__ = (UniqueConstraint("campaign_id", "prefecture_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    prefecture_id: Mapped[int] = mapped_column(ForeignKey("prefecture.id", ondelete="CASCADE"), index=True)
    outbound_id: Mapped[int] = mapped_column(ForeignKey("outbound_message.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
