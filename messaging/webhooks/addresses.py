"""Which URLs an endpoint may have (SSRF).

In production an endpoint is an ``https://`` URL whose host is a public
address: a name, or an IP that is globally routable. Loopback, private
(10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16: cloud
metadata), carrier-grade NAT, multicast and reserved addresses are refused,
and so are ``localhost`` and names under ``.localhost``, ``.local`` and
``.internal``. A name is checked again where it matters, when the worker
connects: ``messaging.outbox.channels`` refuses a connection whose peer is not
public (``is_public``), so a name that resolves to an inside address (or is
rebound to one later) reaches nothing. Redirects are never followed.

When the app is testing or debugging (``WEBHOOK_ALLOW_LOCAL``, by default
``TESTING or DEBUG``), ``http://`` to a loopback host is allowed too, so a
receiver on one's own machine can be tried.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _

LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa")
URL_MAX = 500


def allow_local() -> bool:
    """Whether loopback receivers (and plain http to them) are allowed."""
    configured = current_app.config.get("WEBHOOK_ALLOW_LOCAL")
    if configured is None:
        return bool(current_app.testing or current_app.debug)
    return bool(configured)


def is_public(address: str) -> bool:
    """A globally routable IP (an IPv4-mapped IPv6 address is judged as IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def peer_allowed(address: str) -> bool:
    """Whether the worker may talk to this connected peer."""
    return is_public(address) or (allow_local() and is_loopback(address))


def _ip(host: str):
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be an endpoint, as a sentence; None when it can."""
    if not url:
        return _("Enter the address that will receive the events.")
    if len(url) > URL_MAX:
        return _("The address is too long (%(max)d characters at most).", max=URL_MAX)
    if any(c.isspace() for c in url):
        return _("The address cannot contain spaces.")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return _("Enter a full address such as https://example.org/hooks/relais.")
    if parts.scheme not in ("https", "http") or not host:
        return _("Enter a full address such as https://example.org/hooks/relais.")
    if parts.username or parts.password:
        return _("Leave the user name and password out of the address.")
    ip = _ip(host)
    local_name = host == "localhost" or host.endswith(LOCAL_SUFFIXES)
    loopback = local_name or (ip is not None and is_loopback(host))
    if allow_local() and loopback:
        return None  # http or https to one's own machine, while testing
    if parts.scheme != "https":
        return _("The address must start with https://: events carry your organisation's data.")
    if local_name or (ip is not None and not is_public(host)):
        return _(
            "This address is on a private or local network; Relais only sends to public addresses."
        )
    if "." not in host and ip is None:
        return _("Enter a full address such as https://example.org/hooks/relais.")
    return None
