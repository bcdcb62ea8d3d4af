"""``audit verify``: walk the chain and hold it against the signed checkpoints.

Found without anything remembered by the operator:
- an altered, inserted, reordered or renumbered entry: its keyed hash (or its link to
  the entry before) does not verify, since the key is not in the DB;
- a deleted entry: a gap in ``seq``;
- a truncated tail or a rewritten log: a signed checkpoint names an entry the DB no
  longer holds, or holds with another hash;
- entries posing as the original unkeyed chain after keyed ones, or keyed with another
  key: refused.
Not found: removing entries written after the newest checkpoint (at most
``checkpoint_every`` entries or ``checkpoint_seconds`` of calls, see docs/operators.md).
More unanchored entries than the writer can leave is itself a finding.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from onesource.exchange.audit_insert import ENTRY_FIELDS
from onesource.exchange.chain import GENESIS, ChainKey, key_id, legacy_hash, parse_marker

HASHES = ("sha256", "sm3")  # the hashes ONESOURCE_AUDIT_HASH offers

if TYPE_CHECKING:
    from onesource.exchange.audit import AuditCheck, AuditLog


def verify_log(log: AuditLog, accept_legacy: int | None = None) -> AuditCheck:
    """The full check; ``ok`` is False on any break, with the first bad seq and why.

    Entries of the original unkeyed chain are refused unless ``accept_legacy`` is their
    number (the operator acknowledges how many there were: anyone who can write the DB
    can rewrite them).  With a chain key, a log no checkpoint of which verifies is
    refused (the checkpoints were deleted, or are another log's).
    """
    from onesource.exchange.audit import BATCH_MAX, AuditCheck
    from onesource.exchange.checkpoints import CheckpointStore, read_checkpoints
    from onesource.exchange.keyfiles import ed25519_public

    st = log.settings
    assert st.public_key_file is not None and st.checkpoints is not None
    reading = read_checkpoints(
        CheckpointStore(st.checkpoints), ed25519_public(st.public_key_file), log.log_id
    )
    anchors: dict[int, set[str]] = {}
    for cp in reading.valid:
        anchors.setdefault(cp.seq, set()).add(cp.hash)
    last_cp = max(anchors, default=None)
    ckey = log.chain_key(create=False)
    marker = ckey.marker if ckey is not None else None

    prev, expected, count, legacy = GENESIS, 1, 0, 0
    head_seq: int | None = None
    keyed_seen = False

    def broken(seq: int | None, kind: str, reason: str) -> AuditCheck:
        return AuditCheck(
            False,
            count,
            head_seq,
            prev,
            seq,
            reason,
            kind,
            legacy,
            len(reading.valid),
            last_cp,
        )

    if reading.problems:
        return broken(None, "checkpoint", reading.problems[0])
    for seq, hashes in anchors.items():
        if len(hashes) > 1:
            return broken(seq, "checkpoint", f"signed checkpoints disagree about seq {seq}")
    try:
        for row in log._rows():
            entry = {k: getattr(row, k) for k in ENTRY_FIELDS}
            if row.seq != expected:
                return broken(
                    expected,
                    "missing",
                    f"seq {expected} is missing (deleted); the log continues at {row.seq}",
                )
            if row.prev_hash != prev:
                return broken(row.seq, "altered", "prev_hash does not match the entry before")
            if row.chain is None:
                if keyed_seen:
                    return broken(
                        row.seq,
                        "altered",
                        "an unkeyed entry after keyed ones (forged or rewritten)",
                    )
                legacy += 1
                digest = legacy_hash(prev, entry)
            else:
                keyed_seen = True
                parsed = parse_marker(row.chain) if row.chain != marker else None
                keyer = ckey
                if parsed is not None and ckey is not None and parsed[1] == key_id(ckey.key):
                    # the configured key under another hash (ONESOURCE_AUDIT_HASH switched)
                    keyer = ChainKey(ckey.key, parsed[0]) if parsed[0] in HASHES else None
                if row.chain != marker and (keyer is None or keyer is ckey):
                    why = (
                        "the audit chain key is missing (ONESOURCE_AUDIT_KEY / KEY_FILE)"
                        if marker is None
                        else f"configured key is {marker}"
                    )
                    return broken(
                        row.seq,
                        "altered",
                        f"entry keyed as {row.chain!r}"
                        f"{'' if parsed else ' (not a chain marker)'}; {why}",
                    )
                assert keyer is not None
                digest = keyer.digest(prev, {**entry, "chain": row.chain})
            if digest != row.hash:
                return broken(row.seq, "altered", "entry was altered (hash mismatch)")
            anchored = anchors.get(row.seq)
            if anchored is not None and row.hash not in anchored:
                return broken(row.seq, "checkpoint", "entry differs from its signed checkpoint")
            prev = row.hash
            head_seq = row.seq
            expected += 1
            count += 1
    except (TypeError, ValueError, AttributeError, UnicodeError, OverflowError) as exc:
        # a value of the wrong type (e.g. a BLOB where text belongs) was written into the DB
        return broken(
            expected,
            "altered",
            f"entry {expected} holds a value of the wrong type ({type(exc).__name__}): "
            "altered in the database",
        )
    if legacy and accept_legacy != legacy:
        return broken(
            1,
            "legacy",
            f"{legacy} entries of the original unkeyed chain (seq 1..{legacy}): anyone who "
            "can write the DB can forge those; if your log really began with that many "
            f"unkeyed entries, accept them with --accept-legacy {legacy}"
            + (f" (you acknowledged {accept_legacy})" if accept_legacy is not None else ""),
        )
    if ckey is not None and not reading.valid:  # the key is made by the first append
        others = (
            f"; only {reading.other_logs} checkpoints of other logs were found "
            "(ONESOURCE_AUDIT_LOG_ID names this log after a move)"
            if reading.other_logs
            else ""
        )
        return broken(
            1,
            "checkpoint",
            f"no signed checkpoint of this log ({log.log_id!r}) in {st.checkpoints}: "
            f"checkpoints deleted or moved, so truncation and rewrites cannot be excluded"
            f"{others}",
        )
    if last_cp is not None and (head_seq or 0) < last_cp:
        return broken(
            (head_seq or 0) + 1,
            "truncated",
            f"log truncated: a signed checkpoint names seq {last_cp}, "
            f"but the log ends at {head_seq or 0}",
        )
    # entries of the original chain were never checkpointed: only keyed ones count here
    unanchored = max(0, (head_seq or 0) - max(last_cp or 0, legacy))
    window = st.checkpoint_every + BATCH_MAX
    notes = []
    if legacy:
        notes.append(
            f"{legacy} entries of the original unkeyed chain (seq 1..{legacy}); they are "
            "protected by the keyed entries and checkpoints after them"
        )
    if reading.other_logs:
        notes.append(
            f"{reading.other_logs} checkpoints of other audit logs (other database URLs) "
            f"ignored; this log is {log.log_id!r} (ONESOURCE_AUDIT_LOG_ID names it after a move)"
        )
    if unanchored:
        notes.append(
            f"{unanchored} newest entries are after the last checkpoint: protected against "
            "edits by the key, but their removal would not be seen until the next checkpoint"
        )
    result = AuditCheck(
        True,
        count,
        head_seq,
        prev,
        None,
        None,
        None,
        legacy,
        len(reading.valid),
        last_cp,
        unanchored,
        tuple(notes),
    )
    if unanchored > window:
        return replace(
            result,
            ok=False,
            first_bad_seq=max(last_cp or 0, legacy) + 1,
            kind="unanchored",
            reason=(
                f"{unanchored} entries after the last checkpoint, more than a writer leaves "
                f"({window}): checkpoints are missing from {st.checkpoints} or the hub crashed; "
                "after investigating, anchor the head with 'onesource audit checkpoint'"
            ),
        )
    return result
