"""The staff form for an expense, and the check of its supporting document.

The form turns what was typed (an amount in major units, a day, a file) into
the data ``campaigns.fund_use.services`` expects; the service validates the rest.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from PIL import ImageOps
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.widgets import DateInput

from campaigns.fund_use.models import Expense
from campaigns.fund_use.services import Document
from campaigns.organisations.forms import StaffForm, major_text, parse_amount
from campaigns.organisations.models import Project
from campaigns.photos import open_image  # the same decompression-bomb guard as photos

# Under the request limit (MAX_UPLOAD_BYTES, 8 MB by default), so the form can say it;
# EXPENSE_DOCUMENT_MAX_BYTES overrides it.
DOCUMENT_MAX_BYTES = 5 * 1024 * 1024


class DocumentError(ValueError):
    """A document we will not keep; the message says what to do."""


def _clean_image(data: bytes, kind: str) -> bytes:
    """Re-encode an image from its pixels only: EXIF (GPS, camera) and text
    chunks of a phone photo of a receipt are dropped."""
    image = open_image(
        data,
        {kind},
        DocumentError,
        wrong_format=_("Choose a PDF, PNG or JPEG file."),
        too_many_pixels=_("The image has too many pixels: choose a smaller one."),
        unreadable=_("This image cannot be read. Choose a PDF, PNG or JPEG file."),
    )
    image = ImageOps.exif_transpose(image)
    clean = image.convert("RGBA" if kind == "PNG" else "RGB")
    # Pixels only: Pillow would copy a JPEG comment over from the original.
    clean.info = {}
    out = io.BytesIO()
    if kind == "PNG":
        clean.save(out, "PNG")
    else:
        clean.save(out, "JPEG", quality=90)
    return out.getvalue()


def read_document(upload) -> Document:
    """Check an uploaded invoice or receipt by its content: a PDF, PNG or JPEG
    under the size limit, whatever its name says."""
    limit = current_app.config.get("EXPENSE_DOCUMENT_MAX_BYTES", DOCUMENT_MAX_BYTES)
    data = upload.stream.read(limit + 1)
    if not data:
        raise DocumentError(_("The file is empty. Choose a PDF, PNG or JPEG file."))
    if len(data) > limit:
        raise DocumentError(
            _("The document is too large: keep it under %(mb)s MB.", mb=max(1, limit // 2**20))
        )
    if data.startswith(b"%PDF-"):
        # Every complete PDF ends with an end-of-file marker (after the last update).
        if b"%%EOF" not in data[-2048:]:
            raise DocumentError(_("This PDF seems incomplete. Save it again and choose it."))
        return Document(data, "pdf")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return Document(_clean_image(data, "PNG"), "png")
    if data.startswith(b"\xff\xd8\xff"):
        return Document(_clean_image(data, "JPEG"), "jpg")
    raise DocumentError(_("Choose a PDF, PNG or JPEG file."))


class ExpenseForm(StaffForm):
    MONEY_FIELDS = {"amount": "2400"}
    ERROR_FIELDS = {"amount_minor": "amount", "spent_at": "spent_on"}

    project = SelectField(_l("Project"), choices=[], validate_choice=False)
    title = StringField(
        _l("Title"),
        description=_l("What the money paid for, as donors will read it: “Well #34, Kati”."),
        render_kw={"required": True, "maxlength": 200},
    )
    amount = StringField(_l("Amount spent"), render_kw={"inputmode": "decimal", "required": True})
    spent_on = StringField(_l("Day spent"), widget=DateInput(), render_kw={"required": True})
    description = TextAreaField(
        _l("Description"),
        description=_l("Optional: what was bought or built, where, by whom."),
        render_kw={"rows": 5, "maxlength": 5000},
    )
    document = FileField(
        _l("Supporting document"),
        description=_l(
            "Optional: an invoice or receipt as PDF, PNG or JPEG. Public once the expense "
            "is published: remove personal details first."
        ),
        render_kw={"accept": "application/pdf,image/png,image/jpeg"},
    )
    remove_document = BooleanField(_l("Remove the current document"))

    @classmethod
    def for_expense(cls, expense: Expense, **kwargs) -> ExpenseForm:
        return cls(
            data={
                "project": str(expense.project_id),
                "title": expense.title,
                "amount": major_text(expense.amount_minor, expense.currency),
                "spent_on": expense.spent_at.date().isoformat(),
                "description": expense.description,
            },
            **kwargs,
        )

    def offer(self, projects: list[Project]) -> None:
        """The organisation's projects to choose from, "Cause — Project"."""
        self.project.choices = [SelectChoice("", _l("Choose a project"))] + [
            SelectChoice(str(p.id), f"{p.cause.title} — {p.name}") for p in projects
        ]

    def service_data(self, currency: str, projects: list[Project]) -> tuple[dict, dict]:
        """The data for ``expenses.save_expense`` and what could not be read."""
        errors: dict[str, str] = {}
        by_id = {str(p.id): p for p in projects}
        data: dict[str, Any] = {
            "project": by_id.get(self.project.data or ""),
            "title": self.title.data or "",
            "description": self.description.data or "",
            "remove_document": bool(self.remove_document.data),
        }
        try:
            data["amount_minor"] = parse_amount(self.amount.data, currency)
        except ValueError:
            errors["amount_minor"] = _(
                "Enter the amount spent as a number such as 2400 or 1250.50, in %(currency)s.",
                currency=currency,
            )
        text = (self.spent_on.data or "").strip()
        try:
            data["spent_on"] = date.fromisoformat(text)
        except ValueError:
            errors["spent_at"] = _("Enter the day the money was spent, such as 2026-06-21.")
        upload = self.document.data
        if upload is not None and getattr(upload, "filename", ""):
            try:
                data["document"] = read_document(upload)
            except DocumentError as exc:
                errors["document"] = str(exc)
        return data, errors
