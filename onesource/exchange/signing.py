"""Checking signed requests (see ``connectors.signing`` for what is signed).

Each key has a signing secret derived from the hub's signing master key (held outside
the metadata DB, like the audit chain key): ``HMAC-SHA256(master, "onesource-signing:"
+ prefix)``.  The hub never stores it; the operator prints it for a department with
``onesource dept key signing-secret``.  A signed call must present the key (bearer) AND
a valid signature, so neither a leaked DB (key hashes only) nor a captured request
(timestamp window + nonce replay cache) lets anyone else call.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Mapping

from cachetools import TTLCache

from connectors.signing import HASHES, MAX_NONCE, NONCE, SIGNATURE, TIMESTAMP, string_to_sign
from connectors.signing import signature as make_signature
from onesource.exchange.config import ExchangeSettings
from onesource.exchange.errors import AuthInvalidError, AuthRequiredError


class SignatureInvalidError(AuthInvalidError):
    code = "signature-invalid"


class SignatureRequiredError(AuthRequiredError):
    code = "signature-required"


def master_key(settings: ExchangeSettings, *, create: bool = True) -> bytes:
    """The master key signing secrets derive from (outside the DB; made on first use)."""
    from onesource.exchange.keyfiles import secret_key
    from onesource.settings import get_settings

    key = secret_key(
        env_value=settings.signing_key,
        path=settings.signing_key_file,
        default_path=get_settings().home / "keys" / "request-signing.key",
        create=create,
        what="request signing master key",
    )
    assert key is not None
    return key


def derive_secret(master: bytes, prefix: str) -> bytes:
    """The signing secret of the key with ``prefix``."""
    return hmac.digest(master, b"onesource-signing:" + prefix.encode(), "sha256")


def signing_secret_text(master: bytes, prefix: str) -> str:
    """What a department configures in its client: ``oss_<prefix>_<hex>``."""
    return f"oss_{prefix}_{derive_secret(master, prefix).hex()}"


def has_signature(headers: Mapping[str, str]) -> bool:
    return SIGNATURE.lower() in headers or SIGNATURE in headers


class RequestVerifier:
    """Timestamp window, nonce replay cache and HMAC check of one request."""

    def __init__(
        self,
        master: bytes,
        algorithms: frozenset[str],
        window: float = 300.0,
        max_nonces: int = 1_000_000,
    ) -> None:
        self.master = master
        self.algorithms = algorithms
        self.window = window
        # a nonce is remembered for twice the window: older timestamps are refused anyway
        self._nonces: TTLCache[tuple[str, str], bool] = TTLCache(max_nonces, 2 * window)
        self._lock = threading.Lock()

    def check(
        self,
        prefix: str,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        now: float | None = None,
    ) -> None:
        """Raise ``SignatureInvalidError`` (401) unless the request is signed, fresh and new."""
        get = headers.get
        stamp, nonce, sig = get(TIMESTAMP.lower()), get(NONCE.lower()), get(SIGNATURE.lower())
        if not stamp or not nonce or not sig:
            raise SignatureInvalidError(
                f"a signed request needs {TIMESTAMP}, {NONCE} and {SIGNATURE}",
                hint="see docs/departments.md, signed requests",
            )
        algorithm, _, digest = sig.partition("=")
        if algorithm not in HASHES or algorithm not in self.algorithms:
            raise SignatureInvalidError(
                f"signature algorithm {algorithm!r} is not accepted here",
                hint="accepted: " + ", ".join(sorted(self.algorithms)),
            )
        now = time.time() if now is None else now
        try:
            age = now - int(stamp)
        except ValueError:
            raise SignatureInvalidError(f"{TIMESTAMP} is not Unix seconds") from None
        if abs(age) > self.window:
            raise SignatureInvalidError(
                f"request timestamp is {age:+.0f} s off the hub's clock "
                f"(at most {self.window:.0f} s)",
                hint="check the caller's clock (NTP); sign each request when it is sent",
            )
        if len(nonce) > MAX_NONCE or not nonce.isprintable():
            raise SignatureInvalidError(f"{NONCE} must be at most {MAX_NONCE} printable characters")
        message = string_to_sign(algorithm, method, path, query, stamp, nonce, body)
        expected = make_signature(derive_secret(self.master, prefix), algorithm, message)
        if not hmac.compare_digest(expected, digest.strip().lower()):
            raise SignatureInvalidError(
                "request signature does not match",
                hint="sign method, path, sorted query, timestamp, nonce and body hash "
                "with the key's signing secret",
            )
        with self._lock:
            if (prefix, nonce) in self._nonces:
                raise SignatureInvalidError("replayed request (nonce already used)")
            self._nonces[(prefix, nonce)] = True
