"""One notification channel: an apprise URL behind a small interface of ours.

apprise never raises on a failed delivery; it returns a result whose log entries say why. Here a
failure becomes :class:`DeliveryFailed` carrying that reason (secrets masked), and whether a retry
can help: an authentication or authorisation refusal (HTTP 401/403) or a request the service calls
malformed (other 4xx) will not get better by trying again.

The channel's URL is a secret (bot tokens, webhook keys): it is never logged. Beyond the whole
URL, the parts apprise itself hides in its privacy form of the URL are registered with
:mod:`common.redact`, so an apprise log line or error that echoes a token alone is masked too.

E-mail (``mailto://``, ``mailtos://``) needs three things apprise does not do by itself: the body
is declared plain text (otherwise apprise takes it for HTML and the mail's text part runs every
line into one), apprise's own pause of 5.5 s between two mails of one channel is turned off (the
channel's token bucket is the one rate limit, and that pause could not be interrupted by a stop),
and the SMTP server's own answer (``535``, ``550``, ``451``, connection refused), which apprise
logs only at debug level, becomes the reason. An SMTP ``5xx`` is permanent and not retried (an
authentication failure never is), a ``4xx`` or an unreachable server is retried.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

import apprise
from apprise.attachment.memory import AttachMemory
from apprise.plugins.email import NotifyEmail
from apprise.plugins.telegram import NotifyTelegram

from common.redact import redact, register_secret
from controller.notify.config import ChannelSection
from controller.notify.templates import Message

log = logging.getLogger(__name__)

DEFAULT_MAX_CHARS = 4096
_HTTP_STATUS = re.compile(r"error=(\d{3})\b|HTTP Error (\d{3})\b")
# smtplib's exceptions as apprise prints them: ``(535, b'5.7.8 ...')``, a refused recipient as
# ``{'a@b': (550, b'...')}``, a partly refused one as ``refused: 550 b'...'``.
_SMTP_REPLY = re.compile(
    r"(?:'(?P<rcpt>[^']*)':\s*)?\((?P<code>\d{3}), b(?P<q>['\"])(?P<text>.*?)(?P=q)"
    r"|refused: (?P<code2>\d{3}) b(?P<q2>['\"])(?P<text2>.*?)(?P=q2)"
)
_DETAIL = re.compile(r"^Socket Exception: ")
"""The debug line in which apprise's e-mail (and other socket) plugins name the actual error."""
_RESPONSE = re.compile(r"^Response Details:")
_DESCRIPTION = re.compile(r'"description"\s*:\s*"((?:[^"\\]|\\.)*)"')
"""The service's own words in the response apprise logs at debug level (Telegram's Bot API says
``"description": "Forbidden: bot was blocked by the user"``; apprise's warning for a failed photo
upload gives only the status code)."""
_RETRY_AFTER = re.compile(r"\bretry after (\d+(?:\.\d+)?)\b", re.IGNORECASE)
"""A rate-limited service's own wait (Telegram: ``Too Many Requests: retry after 3``)."""
_NOTIFY_TAKES_LOG_LEVEL = "log_level" in inspect.signature(apprise.Apprise.notify).parameters
_URL_PARTS = re.compile(r"[/?&=@:#]")
MIN_SECRET_PART = 6
RETRYABLE_4XX = {408, 425, 429}

NOTIFY_TYPE = {
    "critical": apprise.NotifyType.FAILURE,
    "major": apprise.NotifyType.WARNING,
    "minor": apprise.NotifyType.INFO,
    "warning": apprise.NotifyType.INFO,
}


class ChannelError(ValueError):
    """A channel that cannot be set up (apprise does not know the URL); names the channel only."""


class DeliveryFailed(Exception):
    """``retry_after``: seconds the service asked us to wait before the next try (Telegram's
    429 says ``retry after N``), or None."""

    def __init__(
        self, reason: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


class _RedactApprise(logging.Filter):
    """apprise logs its own warnings (through our root handlers): mask secrets in them."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the format
            text = str(record.msg)
        record.msg = redact(text)
        record.args = None
        return True


class _WarningsOnward(logging.Handler):
    """Hands apprise's warnings and errors on to the process's own handlers (the root logger's);
    its debug lines stay with apprise's per-call capture, where a failure's reason is read."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger().handle(record)


def install_log_filter() -> None:
    """Mask secrets in apprise's own log lines; pass on only its warnings and errors (our lanes
    log each delivery themselves). apprise itself logs at debug level, so that the failure detail
    it writes only there (an SMTP server's ``535`` or ``550``) reaches the delivery's result."""
    logger = logging.getLogger("apprise")
    if not any(isinstance(f, _RedactApprise) for f in logger.filters):
        logger.addFilter(_RedactApprise())
    if not any(isinstance(h, _WarningsOnward) for h in logger.handlers):
        logger.addHandler(_WarningsOnward())
    logger.propagate = False
    logger.setLevel(logging.DEBUG)


def register_url_secrets(url: str, plugin: Any) -> None:
    """The whole URL, each part of it that apprise's privacy form does not show, and the values
    of added headers and query parameters (``+Authorization=Bearer ...``, ``-apikey=...``),
    which apprise shows even in that form."""
    register_secret(url)
    for value in _header_and_param_values(url):
        for secret in (value, value.split()[-1]):
            if len(secret) >= MIN_SECRET_PART:
                register_secret(secret)
    try:
        public = set(_parts(plugin.url(privacy=True)))
        private = _parts(plugin.url(privacy=False))
    except Exception as exc:  # a plugin's url() is its own code: never let it stop start-up
        log.debug("apprise url() failed: %s", type(exc).__name__)
        return
    for part in private:
        if part not in public and len(part) >= MIN_SECRET_PART:
            register_secret(part)


def _header_and_param_values(url: str) -> list[str]:
    """By hand: ``parse_qsl`` would read the ``+`` that marks a header as a space."""
    query = url.split("?", 1)[1] if "?" in url else ""
    pairs = [p.partition("=") for p in query.split("&")]
    return [unquote(v) for k, _, v in pairs if k[:1] in "+-" and unquote(v).strip()]


def _parts(url: str) -> list[str]:
    rest = url.split("://", 1)[-1]
    return [unquote(p) for p in _URL_PARTS.split(rest) if p] + [
        unquote(p) for p in rest.split("/") if p
    ]


class AppriseChannel:
    """Send one message (and optionally a JPEG) to one apprise URL."""

    def __init__(self, name: str, config: ChannelSection) -> None:
        self.name = name
        url = config.url.get_secret_value()
        asset = apprise.AppriseAsset(
            async_mode=False, service_timeout=config.timeout_s, **_asset_for(url)
        )
        self._apprise = apprise.Apprise(asset=asset)
        plugin = apprise.Apprise.instantiate(url, asset=asset)
        if plugin is None or not self._apprise.add(plugin):
            register_secret(url)
            raise ChannelError(f"channel {name}: apprise does not understand its URL")
        register_url_secrets(url, plugin)
        self.email = isinstance(plugin, NotifyEmail)
        # our text is plain: undeclared, apprise passes it to Telegram as HTML, where a site or
        # title with ``<`` or ``&`` is refused ("can't parse entities") and a tag would render
        self.plain_text = self.email or isinstance(plugin, NotifyTelegram)
        if self.email:
            # apprise waits 5.5 s between two mails of one plugin, in a sleep a stop cannot end;
            # the channel's token bucket (rate_per_minute, burst) is the rate limit.
            plugin.request_rate_per_sec = 0
        self.max_chars = config.max_chars or int(getattr(plugin, "body_maxlen", 0) or 0)
        self.max_chars = self.max_chars or DEFAULT_MAX_CHARS
        self.title_max = int(getattr(plugin, "title_maxlen", 250) or 0)
        self.attachments = config.attach_snapshot and bool(
            getattr(plugin, "attachment_support", False)
        )

    def send(
        self, message: Message, *, severity: str, cleared: bool = False, jpeg: bytes | None = None
    ) -> None:
        """Deliver once or raise :class:`DeliveryFailed`."""
        attach = None
        if jpeg is not None and self.attachments:
            attach = apprise.AppriseAttachment()
            attach.add(AttachMemory(content=jpeg, name="snapshot.jpg", mimetype="image/jpeg"))
        kind = apprise.NotifyType.SUCCESS if cleared else NOTIFY_TYPE.get(severity)
        extra: dict[str, Any] = {}
        if self.plain_text:  # apprise would otherwise take it for HTML
            extra["body_format"] = apprise.NotifyFormat.TEXT
        if _NOTIFY_TAKES_LOG_LEVEL:  # the failure detail apprise logs at debug level
            extra["log_level"] = logging.DEBUG
        try:
            result = self._apprise.notify(
                body=message.body,
                title=message.title,
                notify_type=kind or apprise.NotifyType.INFO,
                attach=attach,
                **extra,
            )
        except Exception as exc:  # apprise reports failures; anything raised is a bug of theirs
            raise DeliveryFailed(
                f"apprise raised {type(exc).__name__}: {redact(str(exc))}"
            ) from exc
        if not result:
            raise failure_from(_log_messages(result))


def _asset_for(url: str) -> dict[str, Any]:
    """A mail says who sent it (``X-Application`` and the sender's default display name)."""
    return {"app_id": "Kendali"} if url.lower().startswith(("mailto:", "mailtos:")) else {}


def _log_messages(result: Any) -> list[str]:
    """apprise's warnings and errors, and the debug lines that carry the error itself."""
    try:
        entries = list(result.logs())
    except Exception:  # an older result without logs(): the status is all we know
        return []
    out = []
    for e in entries:
        text = str(e.message)
        if e.level in ("WARNING", "ERROR"):
            out.append(text)
        elif e.level == "DEBUG" and _DETAIL.match(text):
            out.append(_DETAIL.sub("", text))
        elif e.level == "DEBUG" and _RESPONSE.match(text):
            said = _DESCRIPTION.search(text)
            if said:
                out.append(said.group(1).replace('\\"', '"'))
    return out


def _smtp_replies(text: str) -> list[tuple[int, str]]:
    """``(code, 'SMTP 550 5.1.1 mailbox unavailable (to a@b)')`` for each SMTP reply in ``text``."""
    found = []
    for m in _SMTP_REPLY.finditer(text):
        code = int(m.group("code") or m.group("code2"))
        said = (m.group("text") or m.group("text2") or "").strip()
        rcpt = f" (to {m.group('rcpt')})" if m.group("rcpt") else ""
        found.append((code, f"SMTP {code} {said}{rcpt}".strip()))
    return found


def failure_from(messages: Iterable[str]) -> DeliveryFailed:
    """The reason from apprise's log lines; permanent when the service refused the request
    (HTTP 4xx but 408/425/429, or an SMTP 5xx such as 535 authentication failed or 550 no
    such mailbox)."""
    texts: list[str] = []
    status = 0
    smtp: list[int] = []
    for message in messages:
        text = redact(message)
        replies = _smtp_replies(text)
        if replies:
            smtp += [code for code, _ in replies]
            text = "; ".join(said for _, said in replies)
        m = _HTTP_STATUS.search(text)
        if m:
            status = int(m.group(1) or m.group(2))
        if not any(text in earlier for earlier in texts):  # e.g. a description already quoted
            texts.append(text)
    reason = "; ".join(texts)[:1000] or "delivery failed (apprise gave no reason)"
    permanent = 400 <= status < 500 and status not in RETRYABLE_4XX
    permanent = permanent or any(500 <= code < 600 for code in smtp)
    asked = _RETRY_AFTER.search(reason)
    retry_after = float(asked.group(1)) if asked else None
    return DeliveryFailed(reason, permanent=permanent, retry_after=retry_after)
