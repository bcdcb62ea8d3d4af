"""Short-lived signed download links: a browser follows a plain URL without carrying a key.

Consumer keys travel in the ``X-Consumer-Key`` header only (a key in a URL lands in
access logs, browser history and ``Referer`` headers).  A registered consumer who
needs a plain URL asks for a link: it names one file of one version, the consumer,
and an expiry, signed with HMAC-SHA256 under a key derived from
``ONESOURCE_SECRET_KEY``.  It is worthless after ``LINK_TTL_S`` seconds, and for
any other file or version.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

LINK_TTL_S = 600
_PURPOSE = b"onesource-download-link-v1"


def _key() -> bytes:
    from onesource.settings import get_settings

    secret = get_settings().secret_key.encode()
    return hmac.new(secret, _PURPOSE, hashlib.sha256).digest()


def _mac(name: str, file: str, version: int, expires: int, consumer: str) -> str:
    msg = f"{name}\n{file}\n{version}\n{expires}\n{consumer}".encode()
    return hmac.new(_key(), msg, hashlib.sha256).hexdigest()


def sign(name: str, file: str, version: int, consumer: str, now: float | None = None) -> str:
    """The query string of a link to ``file`` of ``name`` version ``version``."""
    expires = int(now if now is not None else time.time()) + LINK_TTL_S
    sig = _mac(name, file, version, expires, consumer)
    return urlencode(
        {"version": version, "expires": expires, "consumer": consumer, "signature": sig}
    )


def verify(
    name: str, file: str, version: int | None, expires: str, consumer: str, signature: str
) -> str | None:
    """The consumer id a valid, unexpired link was signed for, else None."""
    if version is None or not (expires.isascii() and expires.isdigit()):  # "²" is a digit
        return None
    if len(expires) > 12 or len(consumer) > 64:
        return None
    if int(expires) < time.time():
        return None
    good = _mac(name, file, version, int(expires), consumer)
    return consumer if hmac.compare_digest(good, signature[:128]) else None
