"""Signed checkpoints of the audit chain, kept where the metadata DB cannot rewrite them.

Every N entries or T seconds (and when a writer goes idle or the process exits) the
writer signs ``{seq, hash, chain, at}`` of the newest entry it appended with an Ed25519
key held outside the DB, and appends it to the checkpoint store: a file opened
``O_APPEND`` (default ``<home>/audit/checkpoints.jsonl``) or, for a URL, one object per
checkpoint under an fsspec prefix (object storage with object lock / versioning).
``audit verify`` checks every checkpoint's signature with the public key and that the DB
still holds each named entry with the named hash: a truncated, rewritten or re-chained
log cannot match a checkpoint signed before the attack.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas.errors import ConfigError

_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def public_key_id(public_key: Any) -> str:
    """A short fingerprint of an Ed25519 public key."""
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class Checkpoint:
    """One signed statement: the chain's entry ``seq`` had hash ``hash`` at ``at``."""

    seq: int
    hash: str
    chain: str | None
    at: str
    signer: str
    log: str  # which audit log (database) this is about, see AuditSettings.log_id
    sig: str = ""

    def body(self) -> bytes:
        fields = {
            "v": 1,
            "log": self.log,
            "seq": self.seq,
            "hash": self.hash,
            "chain": self.chain,
            "at": self.at,
            "signer": self.signer,
        }
        return _JSON.encode(fields).encode()

    def line(self) -> str:
        data = json.loads(self.body())
        data["sig"] = self.sig
        return _JSON.encode(data) + "\n"


def _is_url(location: str) -> bool:
    return "://" in location


class CheckpointStore:
    """Append and read checkpoint lines at a file path or an fsspec URL prefix."""

    def __init__(self, location: str) -> None:
        self.location = location

    def append(self, cp: Checkpoint) -> None:
        data = cp.line().encode()
        if _is_url(self.location):
            import fsspec

            fs, root = fsspec.core.url_to_fs(self.location)
            name = f"{root.rstrip('/')}/{cp.seq:020d}-{secrets.token_hex(4)}.json"
            fs.makedirs(root, exist_ok=True)
            fs.pipe_file(name, data)
            return
        path = Path(self.location)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)  # one write of one short line: appended whole
            os.fsync(fd)
        finally:
            os.close(fd)

    def lines(self) -> Iterator[tuple[str, str]]:
        """``(where, text)`` of every stored checkpoint line."""
        if _is_url(self.location):
            import fsspec

            fs, root = fsspec.core.url_to_fs(self.location)
            if not fs.exists(root):
                return
            for name in sorted(fs.find(root)):
                yield name, fs.cat_file(name).decode("utf-8", "replace").strip()
            return
        path = Path(self.location)
        if not path.exists():
            return
        with path.open(encoding="utf-8", errors="replace") as fh:
            for n, text in enumerate(fh, start=1):
                if text.strip():
                    yield f"{path}:{n}", text.strip()


class Signer:
    """Signs checkpoints with the Ed25519 private key."""

    def __init__(self, private_key: Any) -> None:
        self.key = private_key
        self.id = public_key_id(private_key.public_key())

    def checkpoint(self, log: str, seq: int, digest: str, chain: str | None) -> Checkpoint:
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        unsigned = Checkpoint(seq, digest, chain, at, self.id, log)
        sig = base64.b64encode(self.key.sign(unsigned.body())).decode()
        return Checkpoint(seq, digest, chain, at, self.id, log, sig)


@dataclass(frozen=True)
class Reading:
    """The checkpoints that verify, and what is wrong with the others."""

    valid: list[Checkpoint]
    problems: list[str]
    other_logs: int = 0  # valid checkpoints of other audit logs (databases), ignored


def read_checkpoints(store: CheckpointStore, public_key: Any | None, log: str) -> Reading:
    """Parse and verify every stored checkpoint of audit log ``log`` against ``public_key``."""
    from cryptography.exceptions import InvalidSignature

    valid: list[Checkpoint] = []
    problems: list[str] = []
    others = 0
    lines = list(store.lines())
    if public_key is None:
        if lines:
            raise ConfigError(
                "the checkpoints' public key is missing",
                hint="set ONESOURCE_AUDIT_PUBLIC_KEY_FILE to the .pub file of the signing key",
            )
        return Reading(valid, problems, others)
    signer = public_key_id(public_key)
    for where, text in lines:
        try:
            data = json.loads(text)
            cp = Checkpoint(
                int(data["seq"]),
                str(data["hash"]),
                data.get("chain"),
                str(data["at"]),
                str(data["signer"]),
                str(data["log"]),
                str(data["sig"]),
            )
            sig = base64.b64decode(cp.sig, validate=True)
        except (ValueError, KeyError, TypeError):
            problems.append(f"{where}: not a checkpoint (malformed)")
            continue
        if cp.signer != signer:
            problems.append(f"{where}: signed by key {cp.signer}, not the trusted key {signer}")
            continue
        try:
            public_key.verify(sig, cp.body())
        except InvalidSignature:
            problems.append(f"{where}: checkpoint at seq {cp.seq} has a bad signature (forged)")
            continue
        if cp.log != log:
            others += 1
            continue
        valid.append(cp)
    return Reading(valid, problems, others)
