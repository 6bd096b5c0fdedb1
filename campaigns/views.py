"""Public pages: home, cause, page detail; agents' page management."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from campaigns.models import Cause, CauseStatus
from extensions import db

bp = Blueprint("campaigns", __name__)


@bp.get("/")
def home():
    causes = db.session.scalars(
        select(Cause).where(Cause.status == CauseStatus.PUBLISHED).order_by(Cause.created_at)
    ).all()
    return render_template("campaigns/home.html", causes=causes)
