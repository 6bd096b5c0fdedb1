"""How one outbox message leaves Relais: SMTP, X (tweepy), Facebook Pages
(facebook-sdk), an organisation's webhook endpoint (requests).

Each sender raises one of three errors, and ``messaging.outbox.delivery`` decides from
the kind alone: ``Transient`` (not delivered, try again later), ``Permanent``
(will never work: dead-letter now) and ``Ambiguous`` (it may have gone out: a
person decides, never an automatic retry).
"""

from __future__ import annotations

import smtplib
import ssl
from email.charset import QP, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import formataddr, getaddresses, parseaddr
from io import BytesIO
from urllib.parse import unquote, urlsplit

import facebook
import requests
import tweepy
from flask import current_app
from markupsafe import Markup
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from campaigns.runtime.settings import SMTP_SCHEMES
from messaging.webhooks.addresses import peer_allowed

GRAPH_API_VERSION = "v21.0"
HTTP_TIMEOUT = 30  # seconds; far below the outbox lease, so a slow call cannot outlive its claim
SMTP_TIMEOUT = 30
# Graph API error codes that mean "slow down": nothing was posted.
_GRAPH_RATE_LIMIT_CODES = {4, 17, 32, 613}


class ChannelError(Exception):
    pass


class Transient(ChannelError):
    """Not delivered; the same message may be tried again later."""


class Unavailable(Transient):
    """The SMTP server could not be reached or refused Relais' login: nothing
    was tried for this message, so it does not count as one of its attempts (an
    outage of any length delays mail and never makes dead letters of it)."""


class Permanent(ChannelError):
    """Not delivered and never will be as it stands (bad address, revoked token)."""


class Ambiguous(ChannelError):
    """Maybe delivered: the request left and no clear answer came back."""


# -- email ----------------------------------------------------------------------------
# The only place Relais talks SMTP (a test checks that no other module imports smtplib).


def smtp_settings(url: str) -> dict:
    """Parse ``smtp://user:pw@host:port``, ``smtps://…`` (SSL) or ``smtp+starttls://…``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SMTP_SCHEMES:
        raise ValueError(
            f"SMTP_URL must start with smtp://, smtps:// or smtp+starttls://, not {scheme}://"
        )
    return {
        "host": parts.hostname or "localhost",
        "port": parts.port or (465 if scheme == "smtps" else 25),
        "ssl": scheme == "smtps",
        "starttls": scheme == "smtp+starttls",
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
    }


# UTF-8 bodies as quoted-printable: readable in the raw mail, safe on 7-bit relays.
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP


def _header(value: str) -> str | Header:
    """A header value on one line (no header injection), RFC 2047-encoded when
    it is not ASCII."""
    value = " ".join(str(value).splitlines())
    return value if value.isascii() else Header(value, "utf-8")


class _Wire(Compat32):
    """compat32 as SMTP wants it (CRLF), without re-folding a header that is
    already one ASCII line (what ``_header`` makes): RFC 5322 allows lines of
    998 characters, and folding every header again cost more than the SMTP
    exchange. Encoded (non-ASCII) headers are folded as before."""

    def _fold(self, name, value, sanitize):
        if isinstance(value, str) and value.isascii() and len(name) + len(value) < 996:
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


WIRE = _Wire(linesep="\r\n")


def wire_bytes(msg: Message) -> bytes:
    """The mail as it goes on the wire."""
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=WIRE).flatten(msg)
    return out.getvalue()


def build_message(to: str, subject: str, text: str, html: str, message_id: str) -> Message:
    """The mail as the row says, from MAIL_FROM, with its fixed Message-ID.

    Built with the email package's plain classes (the compat32 policy): the
    header registry of ``EmailMessage`` parses every header it is given, which
    cost more CPU than the SMTP exchange; what goes on the wire is the same
    MIME mail."""
    name, address = parseaddr(current_app.config["MAIL_FROM"])
    body = MIMEText(text or "", "plain", _UTF8)
    if html:
        msg = MIMEMultipart("alternative")
        msg.attach(body)
        msg.attach(MIMEText(html, "html", _UTF8))
    else:
        msg = body
    msg["From"] = formataddr((" ".join(name.splitlines()), address), charset="utf-8")
    msg["To"] = _header(to)
    msg["Subject"] = _header(subject)
    msg["Message-ID"] = _header(message_id)
    return msg


def unsubscribe_mailto() -> str:
    address = (
        current_app.config.get("UNSUBSCRIBE_MAILTO")
        or parseaddr(current_app.config["MAIL_FROM"])[1]
    )
    return f"mailto:{address}?subject=unsubscribe"


def email_message(
    *,
    to: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    unsubscribe_url: str,
    footer: str,
) -> Message:
    """The mail as sent: the row's text and HTML with an unsubscribe footer, and
    RFC 2369 / RFC 8058 headers so mail clients offer a one-click unsubscribe."""
    text = f"{text.rstrip()}\n\n-- \n{footer}\n{unsubscribe_url}\n"
    if html:
        link = Markup('<p style="font-size:small;color:#555">{} <a href="{}">{}</a></p>').format(
            footer, unsubscribe_url, unsubscribe_url
        )
        lower = html.lower()
        at = lower.rfind("</body>")
        html = html[:at] + str(link) + html[at:] if at >= 0 else html + str(link)
    msg = build_message(to, subject, text, html, message_id)
    msg["List-Unsubscribe"] = _header(f"<{unsubscribe_url}>, <{unsubscribe_mailto()}>")
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return msg


class Mailer:
    """One SMTP connection reused across a worker's messages (a new connection
    per mail would cap a worker at the server's connection rate)."""

    def __init__(self, smtp_url: str):
        self.smtp_url = smtp_url
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        settings = smtp_settings(self.smtp_url)
        context = ssl.create_default_context()
        if settings["ssl"]:
            smtp = smtplib.SMTP_SSL(
                settings["host"], settings["port"], timeout=SMTP_TIMEOUT, context=context
            )
        else:
            smtp = smtplib.SMTP(settings["host"], settings["port"], timeout=SMTP_TIMEOUT)
        try:
            if settings["starttls"]:
                smtp.starttls(context=context)
            if settings["username"]:
                smtp.login(settings["username"], settings["password"] or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _reach(self) -> smtplib.SMTP:
        try:
            return self._connect()
        except smtplib.SMTPAuthenticationError as exc:
            # Relais' own settings are wrong, not this mail: retry until someone fixes them.
            raise Unavailable(f"SMTP login refused: {exc.smtp_code} {exc.smtp_error!r}") from exc
        except smtplib.SMTPResponseException:
            raise  # the server answered: judged by its code, below
        except (OSError, smtplib.SMTPException) as exc:  # refused, timeout, TLS
            raise Unavailable(f"SMTP unavailable: {exc.__class__.__name__}: {exc}") from exc

    def send(self, msg: Message) -> None:
        """Hand one mail to the SMTP server; raises Unavailable, Transient or Permanent."""
        try:
            reused = self._smtp is not None
            if self._smtp is None:
                self._smtp = self._reach()
            try:
                self._hand_over(msg)
            except smtplib.SMTPServerDisconnected:
                if not reused:
                    raise
                # The server dropped an idle connection: a fresh one, once.
                self.close()
                self._smtp = self._connect()
                self._hand_over(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            codes = [code for code, _ in exc.recipients.values()]
            error = "; ".join(
                f"{rcpt}: {code} {reply.decode(errors='replace')}"
                for rcpt, (code, reply) in exc.recipients.items()
            )
            if all(code >= 500 for code in codes):
                raise Permanent(f"recipient refused: {error}") from exc
            raise Transient(f"recipient deferred: {error}") from exc
        except smtplib.SMTPAuthenticationError as exc:
            # Relais' own settings are wrong, not this mail: retry until someone fixes them.
            self.close()
            raise Transient(f"SMTP login refused: {exc.smtp_code} {exc.smtp_error!r}") from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            reply = exc.smtp_error.decode(errors="replace") if exc.smtp_error else ""
            if exc.smtp_code >= 500:
                raise Permanent(f"SMTP {exc.smtp_code} {reply}") from exc
            raise Transient(f"SMTP {exc.smtp_code} {reply}") from exc
        except (OSError, smtplib.SMTPException) as exc:  # refused, timeout, disconnected
            self.close()
            raise Transient(f"SMTP unavailable: {exc.__class__.__name__}: {exc}") from exc

    def _hand_over(self, msg: Message) -> None:
        """``send_message`` for Relais' own mails (ASCII envelope, no Bcc): the
        envelope read from From and To, the mail flattened once by ``WIRE``."""
        sender = parseaddr(str(msg["From"]))[1]
        recipients = [address for _, address in getaddresses(map(str, msg.get_all("To", [])))]
        if not (sender.isascii() and all(r.isascii() for r in recipients)) or "Bcc" in msg:
            self._smtp.send_message(msg)  # SMTPUTF8 and Bcc: the library's way
            return
        self._smtp.sendmail(sender, recipients, wire_bytes(msg))

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None


# -- X and Facebook -------------------------------------------------------------------


class _TimeoutSession(requests.Session):
    """tweepy's Client has no timeout setting; its session gets one."""

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        return super().request(*args, **kwargs)


def _reply_text(response) -> str:
    try:
        return response.text[:500]
    except Exception:
        return ""


def x_text(text: str, link: str) -> str:
    text = text.strip()
    if link and link not in text:
        text = f"{text} {link}".strip()
    return text


def post_to_x(credentials: dict, text: str) -> str:
    """Post a tweet as the agent; returns its id. Credentials are an OAuth 2.0
    user token ("Connect X") or the four OAuth 1.0a keys of the agent's own app."""
    if "oauth2" in credentials:
        # tweepy sends an OAuth 2.0 user-context token as the bearer token.
        client = tweepy.Client(bearer_token=credentials["oauth2"]["access_token"])
        user_auth = False
    else:
        client = tweepy.Client(
            consumer_key=credentials["consumer_key"],
            consumer_secret=credentials["consumer_secret"],
            access_token=credentials["access_token"],
            access_token_secret=credentials["access_token_secret"],
        )
        user_auth = True
    client.session = _TimeoutSession()
    try:
        response = client.create_tweet(text=text, user_auth=user_auth)
    except tweepy.TooManyRequests as exc:
        raise Transient(f"X rate limit (429): {_reply_text(exc.response)}") from exc
    except tweepy.TwitterServerError as exc:
        raise Ambiguous(f"X server error {exc.response.status_code}") from exc
    except tweepy.HTTPException as exc:  # 400, 401, 403 (duplicate content), 404
        raise Permanent(
            f"X refused the post ({exc.response.status_code}): {_reply_text(exc.response)}"
        ) from exc
    except requests.RequestException as exc:  # timeout, connection reset
        raise Ambiguous(f"X did not answer: {exc.__class__.__name__}: {exc}") from exc
    try:
        return str(response.data["id"])
    except (TypeError, KeyError) as exc:
        raise Ambiguous(f"X answered without a post id: {response!r}") from exc


def post_to_facebook(credentials: dict, page_id: str, message: str, link: str = "") -> str:
    """Publish on the agent's Facebook Page; returns the post id."""
    statuses: list[int] = []
    session = requests.Session()
    session.hooks["response"].append(lambda r, *a, **k: statuses.append(r.status_code))
    graph = facebook.GraphAPI(credentials["page_token"], timeout=HTTP_TIMEOUT, session=session)
    # facebook-sdk 3.1 only accepts versions it knows in its constructor.
    graph.version = GRAPH_API_VERSION
    fields = {"message": message}
    if link:
        fields["link"] = link
    try:
        result = graph.put_object(page_id, "feed", **fields)
    except facebook.GraphAPIError as exc:
        status = statuses[-1] if statuses else 0
        code = getattr(exc, "code", None)
        detail = f"Facebook ({status or 'no status'}, code {code}): {exc.message}"
        if 400 <= status < 500 and code in _GRAPH_RATE_LIMIT_CODES:
            raise Transient(detail) from exc
        if 400 <= status < 500:
            raise Permanent(detail) from exc
        raise Ambiguous(detail) from exc
    except (requests.RequestException, ValueError) as exc:  # timeout, reset, unreadable answer
        raise Ambiguous(f"Facebook did not answer: {exc.__class__.__name__}: {exc}") from exc
    post_id = result.get("id") if isinstance(result, dict) else None
    if not post_id:
        raise Ambiguous(f"Facebook answered without a post id: {result!r}")
    return str(post_id)


# -- webhooks ---------------------------------------------------------------------------
# An endpoint is a URL staff typed: the connection is checked where it is made
# (the peer must be a public address, messaging.webhooks.addresses), no proxy
# from the environment is used, and no redirect is followed.

WEBHOOK_TIMEOUT = (5, 10)  # connect, read: a receiver answers quickly and works later


class RefusedPeer(Exception):
    """The endpoint's name led to an address Relais does not send to."""


def _checked(sock):
    peer = sock.getpeername()[0]
    if not peer_allowed(peer):
        sock.close()
        raise RefusedPeer(f"the address resolves to {peer}, which is not a public address")
    return sock


class _CheckedHTTPConnection(HTTPConnection):
    def _new_conn(self):
        return _checked(super()._new_conn())


class _CheckedHTTPSConnection(HTTPSConnection):
    def _new_conn(self):
        return _checked(super()._new_conn())


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPPool,
            "https": _CheckedHTTPSPool,
        }


def webhook_session() -> requests.Session:
    """A session for one worker's webhook posts (connections kept between them)."""
    session = requests.Session()
    session.trust_env = False  # no HTTP(S)_PROXY: the peer checked is the receiver
    adapter = _CheckedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def post_webhook(session: requests.Session, url: str, body: str, headers: dict) -> str:
    """POST one signed event; returns the receiver's status code. A 2xx is
    delivered; 410 Gone is Permanent (the receiver says it is gone for good);
    any other answer, a timeout or a refused connection is Transient (the event
    id stays the same, so the receiver drops what it already had)."""
    try:
        response = session.post(
            url,
            data=body.encode(),
            headers=headers,
            timeout=WEBHOOK_TIMEOUT,
            allow_redirects=False,
        )
    except RefusedPeer as exc:
        raise Permanent(f"Not sent: {exc}.") from exc
    except requests.RequestException as exc:
        raise Transient(f"No answer: {exc.__class__.__name__}: {exc}"[:500]) from exc
    status = response.status_code
    detail = f"HTTP {status}: {_reply_text(response)[:300]}".strip()
    if 200 <= status < 300:
        return str(status)
    if status == 410:
        raise Permanent(detail)
    if 300 <= status < 400:
        raise Transient(f"HTTP {status}: redirects are not followed; register the final address.")
    raise Transient(detail)
