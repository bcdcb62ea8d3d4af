"""Signed exchange requests: what a department's client signs and the hub checks.

The signature is an HMAC (SHA-256 or SM3) with the key's *signing secret* over::

    METHOD \\n PATH \\n CANONICAL QUERY \\n TIMESTAMP \\n NONCE \\n HEX(HASH(BODY))

PATH is the request path as sent (percent-decoded), CANONICAL QUERY the query
parameters sorted by name then value and percent-encoded, TIMESTAMP Unix seconds, NONCE
a fresh random string per request (at most 64 characters), HASH the algorithm's own
hash.  Three headers carry it::

    X-OneSource-Timestamp: 1767225600
    X-OneSource-Nonce: 2f1c...
    X-OneSource-Signature: hmac-sha256=<hex>

The hub accepts a timestamp within five minutes of its clock and each nonce once.
Standard library only: the hub and the SDK share this module.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import parse_qsl, quote

HASHES = {"hmac-sha256": "sha256", "hmac-sm3": "sm3"}
TIMESTAMP = "X-OneSource-Timestamp"
NONCE = "X-OneSource-Nonce"
SIGNATURE = "X-OneSource-Signature"
MAX_NONCE = 64


def canonical_query(query: str) -> str:
    """The query's parameters sorted and percent-encoded the same way on both sides."""
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


def string_to_sign(
    algorithm: str, method: str, path: str, query: str, timestamp: str, nonce: str, body: bytes
) -> bytes:
    """The exact bytes the signature covers."""
    body_hash = hashlib.new(HASHES[algorithm], body).hexdigest()
    parts = [method.upper(), path, canonical_query(query), timestamp, nonce, body_hash]
    return "\n".join(parts).encode()


def signature(secret: bytes, algorithm: str, message: bytes) -> str:
    """HMAC of ``message`` with ``secret`` under ``algorithm`` (``hmac-sha256``/``hmac-sm3``)."""
    return hmac.digest(secret, message, HASHES[algorithm]).hex()


def parse_signing_secret(text: str) -> tuple[str, bytes]:
    """``(key prefix, secret)`` of a signing secret ``oss_<prefix>_<hex>``."""
    parts = text.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != "oss" or not parts[1]:
        raise ValueError("a signing secret looks like oss_<prefix>_<hex>")
    return parts[1], bytes.fromhex(parts[2])


def sign_headers(
    signing_secret: str,
    method: str,
    path: str,
    query: str,
    body: bytes,
    *,
    algorithm: str = "hmac-sha256",
    now: float | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The three headers that sign one request."""
    _prefix, secret = parse_signing_secret(signing_secret)
    timestamp = str(int(time.time() if now is None else now))
    nonce = nonce or secrets.token_hex(16)
    message = string_to_sign(algorithm, method, path, query, timestamp, nonce, body)
    return {
        TIMESTAMP: timestamp,
        NONCE: nonce,
        SIGNATURE: f"{algorithm}={signature(secret, algorithm, message)}",
    }
