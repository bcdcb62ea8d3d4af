"""The hub's public base URL and the Host header values it answers to.

Absolute links (``/data.json``, ``/api/open/datasets``, the ``/api`` page) are
built from ``ONESOURCE_PUBLIC_URL``, never from the request's ``Host`` header: a
forged Host would otherwise put another site's links into a government feed
(and into every cache in between).  Requests for any other host are refused
by Starlette's ``TrustedHostMiddleware``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from schemas.errors import ConfigError

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1")
# Starlette's TestClient sends Host: testserver; accepted in development only
TEST_HOST = "testserver"


def public_url(settings: Any = None) -> str:
    """The configured public base URL, without a trailing slash."""
    if settings is None:
        from onesource.settings import get_settings

        settings = get_settings()
    url = (settings.public_url or DEFAULT_PUBLIC_URL).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            f"ONESOURCE_PUBLIC_URL {url!r} is not a base URL",
            hint="e.g. https://data.qinghe.gov.cn or http://127.0.0.1:8000 (scheme, host, "
            "optional port and path prefix)",
        )
    return url


def allowed_hosts(settings: Any = None) -> list[str]:
    """Host header values the app answers: the public URL's host, loopback, the extra list."""
    if settings is None:
        from onesource.settings import get_settings

        settings = get_settings()
    hosts = [urlsplit(public_url(settings)).hostname or "", *LOCAL_HOSTS]
    hosts += [h.strip() for h in settings.trusted_hosts.split(",") if h.strip()]
    if settings.env == "development":
        hosts.append(TEST_HOST)
    return list(dict.fromkeys(h for h in hosts if h))


def absolute(path: str, settings: Any = None) -> str:
    """``path`` (starting with ``/``) under the public base URL."""
    return public_url(settings) + path


def serving_default(host: str, port: int) -> str:
    """The public URL when none is configured: the address ``onesource serve`` listens on."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # every interface: only loopback is known to reach it
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"
