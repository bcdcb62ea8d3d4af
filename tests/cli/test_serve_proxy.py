"""``onesource serve``/``up`` trust no X-Forwarded-For unless the operator names the proxy
(attack-a xff.py: a forged header from loopback chose the address failure counting saw)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest


def client_seen(config: Any, peer: str, forwarded: str) -> str:
    """The client address an ASGI app sees behind uvicorn with ``config``'s proxy settings."""
    import uvicorn

    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["client"] = scope["client"][0]

    echo = uvicorn.Config(
        app,
        proxy_headers=config.proxy_headers,
        forwarded_allow_ips=config.forwarded_allow_ips,
        lifespan="off",
    )
    echo.load()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [(b"x-forwarded-for", forwarded.encode())],
        "client": (peer, 40000),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    asyncio.run(echo.loaded_app(scope, receive, send))
    return str(seen["client"])


def test_serve_ignores_forwarded_for_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from onesource.cli.serve import server_config

    monkeypatch.delenv("ONESOURCE_TRUSTED_PROXIES", raising=False)
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    config = server_config("127.0.0.1", 8000)
    assert client_seen(config, "127.0.0.1", "203.0.113.9") == "127.0.0.1"


def test_serve_trusts_the_named_proxy_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from onesource.cli.serve import server_config

    monkeypatch.setenv("ONESOURCE_TRUSTED_PROXIES", "10.0.0.5")
    config = server_config("127.0.0.1", 8000)
    assert client_seen(config, "10.0.0.5", "203.0.113.9") == "203.0.113.9"
    assert client_seen(config, "127.0.0.1", "203.0.113.9") == "127.0.0.1"


def test_up_passes_the_same_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    from onesource.cli.up import _web_command

    monkeypatch.delenv("ONESOURCE_TRUSTED_PROXIES", raising=False)
    assert "--no-proxy-headers" in _web_command("127.0.0.1", 8000)
    monkeypatch.setenv("ONESOURCE_TRUSTED_PROXIES", "10.0.0.5, 10.0.1.0/24")
    cmd = _web_command("127.0.0.1", 8000)
    assert cmd[-3:] == ["--proxy-headers", "--forwarded-allow-ips", "10.0.0.5,10.0.1.0/24"]
