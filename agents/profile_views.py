"""Free agents' public profiles: ``/agents/<handle>`` for everyone, and the
"public profile" settings of the account page (``agents`` blueprint)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_security import auth_required, current_user

from agents import profiles
from agents.forms import PublicProfileForm
from agents.views import apply_service_errors, bp, render_account
from campaigns import photos, unit_of_work
from campaigns.errors import ValidationError
from campaigns.urls import absolute_url


@bp.get("/agents/<handle>")
def profile(handle: str):
    found = profiles.get_public_profile(handle)
    if found.handle != handle:  # one address per profile: the one its owner chose
        return redirect(url_for("agents.profile", handle=found.handle), 301)
    return render_template(
        "agents/profile.html",
        profile=found,
        agent=found.agent,
        showcase=profiles.showcase(found.agent),
        profile_url=absolute_url("agents.profile", handle=found.handle),
    )


@bp.post("/me/public-profile")
@auth_required()
def update_public_profile():
    agent = current_user._get_current_object()
    form = PublicProfileForm(prefix="public")
    if not form.validate():
        return render_account(public_form=form, status=422)
    upload = form.photo.data
    try:
        jpeg = photos.process(upload) if upload and getattr(upload, "filename", "") else b""
    except photos.PhotoError as exc:
        form.photo.errors = [*form.photo.errors, str(exc)]
        return render_account(public_form=form, status=422)
    try:
        saved = profiles.save_profile(
            agent,
            is_public=form.is_public.data,
            handle=form.handle.data or "",
            links={name: getattr(form, name).data or "" for name in profiles.LINKS},
            remove_photo=form.remove_photo.data and not jpeg,
        )
        if jpeg:
            saved.photo = photos.save(jpeg)  # once the rest is accepted: no orphan file
    except ValidationError as exc:
        unit_of_work.discard()
        apply_service_errors(form, exc)
        return render_account(public_form=form, status=422)
    if saved.is_public:
        flash(_("Your public profile is saved and shown."), "success")
    else:
        flash(_("Your profile is saved. It is not shown to the public."), "success")
    return redirect(url_for("agents.account") + "#public-profile")
