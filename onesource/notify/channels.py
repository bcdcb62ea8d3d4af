"""The two channels: e-mail over SMTP and JSON webhooks signed with a shared secret.

A webhook body is the alert as JSON; ``X-OneSource-Timestamp`` is the sending time (Unix
seconds) and ``X-OneSource-Signature`` is ``sha256=`` + hex HMAC-SHA256 of
``<timestamp>.<body>`` with the webhook's secret.  Receivers recompute it over the raw
body and refuse a signature that differs or a timestamp more than 5 minutes old (replay).
Retries are bounded: a network error or a 5xx/429 is tried again ``attempts`` times in
all with doubling backoff; any other 4xx is final.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from onesource.notify.config import SmtpConfig, WebhookConfig

log = logging.getLogger("onesource.notify")
SIGNATURE_HEADER = "X-OneSource-Signature"
TIMESTAMP_HEADER = "X-OneSource-Timestamp"


class DeliveryError(Exception):
    """A message could not be delivered (after the retries the channel allows)."""


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def send_email(
    smtp: SmtpConfig, to: Sequence[str], subject: str, text: str, *, html: str | None = None
) -> None:
    """Send one message to ``to`` (one SMTP transaction).

    A header value with a line break (an injected ``Bcc:``) fails this delivery with
    ``DeliveryError``, like an unreachable server: the other alerts still go out.
    """
    msg = EmailMessage()
    try:
        msg["From"] = smtp.sender
        msg["To"] = ", ".join(to)
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2].strip("> ") or None)
    except ValueError as exc:  # the e-mail policy refuses CR/LF in a header
        raise DeliveryError(f"a header of the message holds a line break or is bad: {exc}") from exc
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    cls = smtplib.SMTP_SSL if smtp.ssl else smtplib.SMTP
    try:
        with cls(smtp.host, smtp.port, timeout=smtp.timeout) as conn:
            if smtp.starttls and not smtp.ssl:
                conn.starttls()
            if smtp.username:
                conn.login(smtp.username, smtp.password() or "")
            conn.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP {smtp.host}:{smtp.port}: {exc}") from exc


def post_webhook(
    hook: WebhookConfig,
    payload: dict[str, Any],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """POST ``payload`` as signed JSON; the receiver's status code, or ``DeliveryError``."""
    import httpx

    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    secret = hook.secret()
    last = ""
    for attempt in range(hook.attempts):
        if attempt:
            sleep(hook.backoff_seconds * 2 ** (attempt - 1))
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "OneSource-notify/1",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign(secret, stamp, body),
        }
        try:
            resp = httpx.post(hook.url, content=body, headers=headers, timeout=hook.timeout)
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
            continue
        if resp.status_code < 300:
            return resp.status_code
        last = f"HTTP {resp.status_code}"
        if resp.status_code < 500 and resp.status_code != 429:
            break  # the receiver refuses this message: trying again changes nothing
    raise DeliveryError(f"webhook {hook.name!r} ({_origin(hook.url)}): {last}")


def _origin(url: str) -> str:
    """Scheme and host of ``url`` only: chat webhooks often carry their token in the path."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
