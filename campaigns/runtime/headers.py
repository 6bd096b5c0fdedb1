"""Security headers on every response.

The pages run no inline script or style (``static/js/relais.js`` holds the
small behaviours, strings come from data-* attributes), so the policy is
``'self'`` only: an injected ``<script>`` cannot run even if a sanitiser
missed it. No page may be framed (``frame-ancestors 'none'``): the staff
refund and hide forms cannot be clickjacked. A view that must be framable
(an embed) says so with ``@framable``.
"""

from __future__ import annotations

from functools import wraps

from flask import Flask, Response, current_app, g

# The give form answers with a redirect to Stripe Checkout: browsers apply
# form-action to the redirect after a form submission too.
STRIPE_CHECKOUT = "https://checkout.stripe.com"
# So does the Stripe account screen's "Connect with Stripe", to Stripe's onboarding.
STRIPE_CONNECT = "https://connect.stripe.com"

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": f"'self' {STRIPE_CHECKOUT} {STRIPE_CONNECT}",
    "frame-ancestors": "'none'",
}
PERMISSIONS = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
HSTS = "max-age=31536000; includeSubDomains"


def content_security_policy(*, frame_ancestors: str = "'none'") -> str:
    policy = dict(POLICY, **{"frame-ancestors": frame_ancestors})
    return "; ".join(f"{name} {value}" for name, value in policy.items())


# Written once: every response carries one of the two.
FRAMED_NOWHERE, FRAMED_ANYWHERE = (
    content_security_policy(),
    content_security_policy(frame_ancestors="*"),
)


def framable(view):
    """Let any site frame this view's pages (embeds for blogs and overlays)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        g.relais_framable = True
        return view(*args, **kwargs)

    wrapper.relais_framable = True  # the page cache's early path leaves such views alone
    return wrapper


def secure_headers(response: Response) -> Response:
    headers = response.headers
    is_framable = g.get("relais_framable", False)
    headers.setdefault(
        "Content-Security-Policy", FRAMED_ANYWHERE if is_framable else FRAMED_NOWHERE
    )
    if not is_framable:
        headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Permissions-Policy", PERMISSIONS)
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config.get("RELAIS_ENV") == "production":
        # Browsers ignore it over plain HTTP; behind TLS it pins HTTPS.
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    app.after_request(secure_headers)
