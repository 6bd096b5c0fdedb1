"""Which language a request is served in."""

from __future__ import annotations

from flask import current_app, g, has_request_context, request, session
from flask_login import current_user


def select_locale() -> str:
    """A language the view pinned (embeds), the switch (session), the agent's
    choice, the browser, the organisation being viewed (set by the view on
    ``g``), then French."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI commands and jobs
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    pinned = getattr(g, "pinned_locale", None)  # an embed's ?lang=, set by its view
    if pinned in languages:
        return pinned
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    if getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return current_user.locale
    if request and request.accept_languages:
        best = request.accept_languages.best_match(languages)
        if best:
            return best
    org_locale = getattr(g, "organisation_locale", None)
    if org_locale in languages:
        return org_locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]
