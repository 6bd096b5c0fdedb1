"""The SQL rank index: every ranked page's board figures, and how many pages
each band of figures holds (see ``campaigns.standings.board_index``)."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db


class BoardEntry(db.Model):
    """A ranked (published or closed) page in its cause's board, with the
    figures it ranks by; draft and hidden pages have none."""

    __tablename__ = "board_entries"

    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), primary_key=True)
    cause_id: Mapped[int] = mapped_column(ForeignKey("causes.id"))
    board: Mapped[str] = mapped_column(String(10))  # "pages" or "events"
    band: Mapped[int] = mapped_column(Integer)  # board_index.band_of(raised_minor)
    raised_minor: Mapped[int] = mapped_column(BigInteger)
    donor_count: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        # Read backwards: the board's order (raised, donors, then page id).
        Index(
            "ix_board_entries_order",
            "cause_id",
            "board",
            "band",
            "raised_minor",
            "donor_count",
            "page_id",
        ),
    )


class BoardBand(db.Model):
    """How many ranked pages of one board have figures in one band."""

    __tablename__ = "board_bands"

    cause_id: Mapped[int] = mapped_column(ForeignKey("causes.id"), primary_key=True)
    board: Mapped[str] = mapped_column(String(10), primary_key=True)
    band: Mapped[int] = mapped_column(Integer, primary_key=True)
    pages: Mapped[int] = mapped_column(Integer, default=0)
