"""Forms of a donor's own data: asking for the link, erasing, staff erasure."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms.fields import EmailField

from campaigns.organisations.forms import StaffForm


class DonorLinkForm(FlaskForm):
    email = EmailField(
        _l("Email address"),
        description=_l("The address you gave when you made your gifts."),
    )


class DonorEraseForm(FlaskForm):
    confirm = BooleanField(_l("I understand: my name, email, address and messages are erased"))


class StaffDonorEraseForm(StaffForm):
    email = EmailField(_l("Donor's email address"))
    confirm = BooleanField(
        _l("The donor asked for it: erase their personal details from this organisation's gifts")
    )
