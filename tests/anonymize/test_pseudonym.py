import hashlib
import hmac

import pyarrow as pa
import pytest

from onesource.anonymize.pseudonym import (
    KDF_INFO,
    ReleaseKeyError,
    derive_release_key,
    pseudonymize,
    pseudonymize_scalar,
    release_key,
    release_key_variable,
)

KEY = b"k" * 32
OTHER = b"o" * 32


@pytest.mark.parametrize("key", [KEY, b"x" * 100], ids=["32-byte-key", "long-key-hashed-first"])
def test_hmac_matches_stdlib(key):
    vals = ["110101199003071234", "13812345678", "张三"]
    got = pseudonymize(pa.array(vals), key).to_pylist()
    want = [hmac.new(key, v.encode(), hashlib.sha256).hexdigest()[:32] for v in vals]
    assert got == want


def test_blake2b_matches_stdlib():
    got = pseudonymize(pa.array(["a"]), KEY, algorithm="blake2b").to_pylist()
    assert got == [hashlib.blake2b(b"a", key=KEY, digest_size=16).hexdigest()]


def test_deterministic_and_key_separated():
    vals = pa.array(["x", "y", "x", None])
    a = pseudonymize(vals, KEY).to_pylist()
    assert a == pseudonymize(vals, KEY).to_pylist()
    assert a[0] == a[2] and a[0] != a[1] and a[3] is None
    assert all(len(v) == 32 for v in a[:3])
    b = pseudonymize(vals, OTHER).to_pylist()
    assert set(a[:3]).isdisjoint(b[:3])


def test_numbers_hash_as_their_text():
    assert pseudonymize(pa.array([13812345678]), KEY)[0].as_py() == pseudonymize_scalar(
        "13812345678", KEY
    )


def test_parallel_path_gives_same_result(monkeypatch):
    import onesource.anonymize.pseudonym as p

    monkeypatch.setattr(p, "PARALLEL_THRESHOLD", 10)
    vals = pa.array([f"{i:018d}" for i in range(1000)])
    assert pseudonymize(vals, KEY, workers=2).equals(pseudonymize(vals, KEY, workers=1))


def test_short_key_refused():
    with pytest.raises(ReleaseKeyError, match="at least 32"):
        pseudonymize(pa.array(["a"]), b"short")


def test_release_key_from_specific_then_generic(monkeypatch):
    monkeypatch.delenv("ONESOURCE_RELEASE_KEY", raising=False)
    var = release_key_variable("people-by-district 2024")
    assert var == "ONESOURCE_RELEASE_KEY_PEOPLE_BY_DISTRICT_2024"
    monkeypatch.setenv("ONESOURCE_RELEASE_KEY", "g" * 32)
    # the hub-wide key is never used as it is: each release derives its own
    assert release_key("people-by-district 2024") == _hkdf_sha256(
        b"g" * 32, KDF_INFO + b"\0people-by-district 2024"
    )
    monkeypatch.setenv(var, "hex:" + "ab" * 32)
    assert release_key("people-by-district 2024") == b"\xab" * 32


def _hkdf_sha256(ikm: bytes, info: bytes, length: int = 32) -> bytes:
    """RFC 5869 written out with hmac (the oracle for cryptography's HKDF)."""
    import hashlib
    import hmac

    prk = hmac.new(b"\0" * 32, ikm, hashlib.sha256).digest()
    out, block = b"", b""
    for i in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        out += block
    return out[:length]


def test_hkdf_oracle_matches_rfc5869_test_case_3():
    ikm = bytes.fromhex("0b" * 22)
    okm = _hkdf_sha256(ikm, b"", 42)
    assert okm.hex() == (
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
    )


def test_only_the_global_key_set_gives_every_release_its_own_pseudonyms(monkeypatch):
    """Attack: two releases pseudonymize the same 3,000 ID numbers with only the
    hub-wide key set; they must share no pseudonym unless both declare the link."""
    monkeypatch.setenv("ONESOURCE_RELEASE_KEY", "g" * 32)
    for name in ("research_a", "research_b"):
        monkeypatch.delenv(release_key_variable(name), raising=False)
    ids = pa.array([f"33010219800101{i:04d}" for i in range(3000)])
    a = set(pseudonymize(ids, release_key("research_a")).to_pylist())
    b = set(pseudonymize(ids, release_key("research_b")).to_pylist())
    assert len(a) == 3000 and len(a & b) == 0
    # declared on both sides: one key from both names, every pseudonym shared
    la = release_key("research_a", links_with=["research_b"])
    lb = release_key("research_b", links_with=["research_a"])
    assert la == lb == derive_release_key(b"g" * 32, ["research_b", "research_a"])
    assert set(pseudonymize(ids, la).to_pylist()) == set(pseudonymize(ids, lb).to_pylist())


def test_release_key_missing_names_the_variable(monkeypatch):
    monkeypatch.delenv("ONESOURCE_RELEASE_KEY", raising=False)
    monkeypatch.delenv("ONESOURCE_RELEASE_KEY_HEALTH", raising=False)
    with pytest.raises(ReleaseKeyError, match="ONESOURCE_RELEASE_KEY_HEALTH is not set"):
        release_key("health")


def test_release_key_too_short_names_the_variable(monkeypatch):
    monkeypatch.setenv("ONESOURCE_RELEASE_KEY_HEALTH", "tooshort")
    with pytest.raises(ReleaseKeyError, match="ONESOURCE_RELEASE_KEY_HEALTH holds 8 bytes"):
        release_key("health")


def test_repeated_values_take_the_dedup_path():
    vals = pa.array(["a", "b", None] * 1000)
    out = pseudonymize(vals, KEY).to_pylist()
    assert out[:3] == [pseudonymize_scalar("a", KEY), pseudonymize_scalar("b", KEY), None]
    assert out[3:6] == out[:3]
