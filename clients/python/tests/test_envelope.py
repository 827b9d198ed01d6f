"""The envelope (proto-spec/ENVELOPE.md) through the client's own code.

* every vector of proto-spec/vectors/envelope.json: valid ones decode (and encode byte-exactly where
  ``encode_exact``), invalid ones fail with their error class, the subkeys derive;
* the error classes, the codec's configuration, missing extras, tampering byte by byte, rotation;
* compression bombs decoded with bounded memory;
* the clients (blocking and asyncio) against the in-process fake server: codecs, per-call codecs, the
  effective namespace (WHOAMI once per connection), rolled-back and copied records, rewrap;
* a live pgstated at $PGSTATE_SOCKET (skipped without it): every mode written and read back.

zstd vectors and tests are skipped when the ``zstandard`` package is not importable (the skip says so).
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import json
import os
import pathlib
import sys
import time
import tracemalloc
import unittest
import uuid
import zlib
from typing import Any, Dict, List, Optional
from unittest import mock

import pgstate
import server_codec as sc
from fake_server import FakeServer
from pgstate import (CorruptEnvelope, Envelope, EnvelopeError, EnvelopeModeUnavailable, EnvelopeTooLarge, Identity,
                     InvalidArgument, KeyRing, Permissions, RewrapResult, RolledBack, Tampered, UnknownEnvelopeVersion,
                     WrongKey, aio)
from pgstate import _envelope as env
from pgstate import _envelope_compression as comp
from pgstate import _envelope_crypto as crypto
from pgstate import _protocol as p

VECTOR_FILE = pathlib.Path(__file__).resolve().parents[3] / "proto-spec" / "vectors" / "envelope.json"
DOC: Dict[str, Any] = json.loads(VECTOR_FILE.read_text(encoding="utf-8"))
HAVE_ZSTD = importlib.util.find_spec("zstandard") is not None
HAVE_CRYPTO = importlib.util.find_spec("cryptography") is not None
NO_ZSTD = "the zstandard package is not importable here (pip install 'pgstate[zstd]' or Debian python3-zstandard)"
NO_CRYPTO = "the cryptography package is not importable here (pip install 'pgstate[crypto]')"

ERROR_CLASSES = {
    "unknown_version": UnknownEnvelopeVersion,
    "corrupt": CorruptEnvelope,
    "rolled_back": RolledBack,
    "wrong_key": WrongKey,
    "tampered": Tampered,
    "too_large": EnvelopeTooLarge,
    "unavailable_mode": EnvelopeModeUnavailable,
}

KEY1 = bytes(range(32))
KEY2 = bytes(range(32, 64))
INFO = "billing/orders"
TIMEOUT = 10.0
BILLING = Identity(uid=1001, gid=1001, pid=4242, user="billing", namespace="billing",
                   permissions=Permissions.READ | Permissions.WRITE, rule="")


def vector_ring(v: Dict[str, Any]) -> Optional[KeyRing]:
    keys = {int(k): bytes.fromhex(h) for k, h in v["keys"].items()}
    if not keys:
        return None
    return KeyRing(keys, active=v.get("active_key_id") or min(keys))


def uses_zstd(v: Dict[str, Any]) -> bool:
    if v.get("compression") == "zstd":
        return True
    data = bytes.fromhex(v["envelope_hex"])
    return len(data) > 5 and data[:5] == b"PGSE\x01" and data[5] & 0x03 == 2


def decode_vector(v: Dict[str, Any]) -> bytes:
    return env.decode_envelope(bytes.fromhex(v["envelope_hex"]), keys=vector_ring(v), info=v["info"].encode(),
                               namespace=v["namespace"], persistence_id=v["persistence_id"], revision=v["revision"],
                               max_decompressed=v["max_decompressed"])


def gcm_codec(compression: Optional[str] = None, ring: Optional[KeyRing] = None, **kw: Any) -> Envelope:
    return Envelope(compression, keys=ring or KeyRing({1: KEY1}, active=1), info=INFO, **kw)


# --- The vectors --------------------------------------------------------------------------------------


class VectorTest(unittest.TestCase):
    def skip_unless_supported(self, v: Dict[str, Any]) -> None:
        if uses_zstd(v) and not HAVE_ZSTD:
            self.skipTest(NO_ZSTD)
        data = bytes.fromhex(v["envelope_hex"])
        encrypted = len(data) > 5 and data[:5] == b"PGSE\x01" and data[5] & 0x04
        if (v.get("mode") == "aes_gcm" or encrypted) and not HAVE_CRYPTO:
            self.skipTest(NO_CRYPTO)

    def test_the_file_has_every_kind(self) -> None:
        self.assertGreaterEqual(len(DOC["vectors"]), 20)
        self.assertEqual(set(DOC["format"]["error_classes"]), set(ERROR_CLASSES))
        self.assertEqual({v["error"] for v in DOC["invalid"]}, set(ERROR_CLASSES) - {"unavailable_mode"})
        self.assertEqual(DOC["format"]["magic_hex"], env.MAGIC.hex())
        self.assertEqual(DOC["format"]["salt"], crypto.SALT.decode())
        self.assertEqual(DOC["format"]["default_max_decompressed"], env.DEFAULT_MAX_DECOMPRESSED)

    def test_subkeys(self) -> None:
        for s in DOC["subkeys"]:
            with self.subTest(s["name"]):
                got = crypto.subkey(bytes.fromhex(s["key_hex"]), s["info"].encode(), s["namespace"].encode(),
                                    s["persistence_id"].encode())
                self.assertEqual(got.hex(), s["subkey_hex"])

    def test_valid_vectors_decode(self) -> None:
        for v in DOC["vectors"]:
            with self.subTest(v["name"]):
                self.skip_unless_supported(v)
                self.assertEqual(decode_vector(v).hex(), v["plaintext_hex"])

    def test_valid_vectors_decode_through_a_codec_of_another_mode(self) -> None:
        # A codec reads every mode, whatever it writes: here an HMAC codec (no extra needed to make it).
        for v in DOC["vectors"]:
            ring = vector_ring(v)
            if ring is None:
                continue
            with self.subTest(v["name"]):
                self.skip_unless_supported(v)
                codec = Envelope(keys=ring, integrity_only=True, info=v["info"],
                                 max_decompressed=v["max_decompressed"])
                got = codec.decode(bytes.fromhex(v["envelope_hex"]), persistence_id=v["persistence_id"],
                                   revision=v["revision"], namespace=v["namespace"])
                self.assertEqual(got.hex(), v["plaintext_hex"])

    def test_exact_vectors_encode_byte_for_byte(self) -> None:
        exact = [v for v in DOC["vectors"] if v["encode_exact"]]
        self.assertGreaterEqual(len(exact), 8)
        for v in exact:
            with self.subTest(v["name"]):
                self.skip_unless_supported(v)
                ring = vector_ring(v)
                key = ring.key(v["key_id"]) if ring is not None else None
                got = env.encode_envelope(bytes.fromhex(v["plaintext_hex"]), flags=v["flags"], key_id=v["key_id"],
                                          key=key, info=v["info"].encode(), namespace=v["namespace"],
                                          persistence_id=v["persistence_id"], revision=v["revision"],
                                          nonce=bytes.fromhex(v.get("nonce_hex", "")))
                self.assertEqual(got.hex(), v["envelope_hex"])

    def test_compressed_vectors_round_trip(self) -> None:
        # Compressor output differs between versions: the client's own envelope decodes, and the vector's
        # compressed body decompresses to the plaintext.
        for v in DOC["vectors"]:
            if v.get("passthrough") or v["compression"] == "none":
                continue
            with self.subTest(v["name"]):
                self.skip_unless_supported(v)
                plain = bytes.fromhex(v["plaintext_hex"])
                algorithm = comp.GZIP if v["compression"] == "gzip" else comp.ZSTD
                self.assertEqual(comp.decompress(algorithm, bytes.fromhex(v["compressed_hex"]), len(plain)), plain)
                ring = vector_ring(v)
                codec = Envelope(v["compression"], keys=ring, integrity_only=v["mode"] == "hmac",
                                 info=v["info"] if ring else None)
                if ring is not None:
                    self.assertEqual(codec.keys.active, v["key_id"])  # type: ignore[union-attr]
                out = codec.encode(plain, persistence_id=v["persistence_id"], revision=v["revision"],
                                   namespace=v["namespace"])
                self.assertEqual(out[5], v["flags"])
                self.assertEqual(codec.decode(out, persistence_id=v["persistence_id"], revision=v["revision"],
                                              namespace=v["namespace"]), plain)

    def test_invalid_vectors_fail_with_their_class(self) -> None:
        for v in DOC["invalid"]:
            with self.subTest(v["name"]):
                self.skip_unless_supported(v)
                with self.assertRaises(EnvelopeError) as cm:
                    decode_vector(v)
                self.assertIs(type(cm.exception), ERROR_CLASSES[v["error"]], str(cm.exception))
                self.assertEqual(cm.exception.error_class, v["error"])
                self.assertEqual(cm.exception.persistence_id, v["persistence_id"])


# --- Error classes, configuration, extras ------------------------------------------------------------


class ErrorClassTest(unittest.TestCase):
    def test_each_class_is_distinct(self) -> None:
        classes = list(ERROR_CLASSES.values())
        self.assertEqual(len(set(classes)), 7)
        for cls in classes:
            self.assertTrue(issubclass(cls, EnvelopeError) and issubclass(cls, pgstate.Error))
            self.assertIs(getattr(pgstate, cls.__name__), cls)
            for other in classes:
                if other is not cls:
                    self.assertFalse(issubclass(cls, other), (cls, other))
        self.assertEqual({c.error_class for c in classes}, set(ERROR_CLASSES))

    def test_errors_say_what_was_found(self) -> None:
        codec = Envelope(keys=KeyRing({1: KEY1}, active=1), integrity_only=True, info=INFO)
        data = codec.encode(b"x", persistence_id="a", revision=5)
        with self.assertRaises(RolledBack) as cm:
            codec.decode(data, persistence_id="a", revision=6)
        self.assertEqual((cm.exception.envelope_revision, cm.exception.record_revision), (5, 6))
        self.assertIn("'a'", str(cm.exception))
        other = Envelope(keys=KeyRing({2: KEY2}, active=2), integrity_only=True, info=INFO)
        with self.assertRaises(WrongKey) as wk:
            other.decode(data, persistence_id="a", revision=5)
        self.assertEqual(wk.exception.key_id, 1)
        self.assertIn("key 1", str(wk.exception))
        with self.assertRaises(WrongKey) as nr:
            Envelope().decode(data, persistence_id="a", revision=5)
        self.assertIn("no key ring", str(nr.exception))
        small = Envelope(max_decompressed=3)
        with self.assertRaises(EnvelopeTooLarge) as tl:
            small.decode(Envelope().encode(b"12345", persistence_id="a", revision=1), persistence_id="a", revision=1)
        self.assertEqual((tl.exception.length, tl.exception.bound), (5, 3))


class CodecConfigTest(unittest.TestCase):
    def test_refusals(self) -> None:
        ring = KeyRing({1: KEY1}, active=1)
        bad: List[Any] = [
            lambda: Envelope("lz4"),
            lambda: Envelope(keys={1: KEY1}),                        # not a KeyRing
            lambda: Envelope(keys=ring, integrity_only=True),      # info is mandatory with keys
            lambda: Envelope(keys=ring, integrity_only=True, info=""),
            lambda: Envelope(keys=ring, integrity_only=True, info="x" * 65536),
            lambda: Envelope(integrity_only=True),                 # integrity needs keys
            lambda: Envelope(max_decompressed=-1),
            lambda: Envelope(max_decompressed=2**32),
            lambda: Envelope(max_decompressed=True),
            lambda: Envelope(allow_unkeyed=False),                 # without keys
            lambda: KeyRing({}, active=1),
            lambda: KeyRing({1: KEY1[:31]}, active=1),
            lambda: KeyRing({0: KEY1}, active=0),
            lambda: KeyRing({2**32: KEY1}, active=2**32),
            lambda: KeyRing({1: KEY1}, active=2),
            lambda: KeyRing({1: "k" * 32}, active=1),  # type: ignore[dict-item]
            lambda: ring.rotated(1, KEY2),
            lambda: ring.without(1),
            lambda: pgstate.Client("/nonexistent", codec="gzip"),  # type: ignore[arg-type]
        ]
        for i, make in enumerate(bad):
            with self.subTest(i):
                with self.assertRaises(InvalidArgument):
                    make()

    def test_encode_refusals(self) -> None:
        codec = Envelope("gzip", max_decompressed=10)
        for revision in (0, -1, 2**63, True, "1"):
            with self.assertRaises(InvalidArgument):
                codec.encode(b"x", persistence_id="a", revision=revision)
        with self.assertRaises(InvalidArgument):
            codec.encode("text", persistence_id="a", revision=1)  # type: ignore[arg-type]
        with self.assertRaises(EnvelopeTooLarge):
            codec.encode(b"x" * 11, persistence_id="a", revision=1)
        self.assertEqual(codec.decode(codec.encode(b"x" * 10, persistence_id="a", revision=1), persistence_id="a",
                                      revision=1), b"x" * 10)

    def test_key_ring(self) -> None:
        ring = KeyRing({1: KEY1}, active=1).rotated(2, KEY2)
        self.assertEqual((ring.active, ring.ids, ring.retired), (2, (1, 2), (1,)))
        self.assertNotIn(KEY1.hex(), repr(ring))
        self.assertNotIn(KEY2.hex()[:8], repr(Envelope(keys=ring, integrity_only=True, info=INFO)))
        self.assertEqual(ring.without(1).ids, (2,))
        self.assertEqual(ring.with_active(1).active, 1)
        self.assertIn(1, ring)
        self.assertEqual(len(ring), 2)

    def test_properties_and_modes(self) -> None:
        self.assertEqual(Envelope().mode, "none")
        self.assertEqual(Envelope("gzip").flags, 0x01)
        hm = Envelope("gzip", keys=KeyRing({3: KEY1}, active=3), integrity_only=True, info=INFO)
        self.assertEqual((hm.mode, hm.flags, hm.integrity_only, hm.info, hm.compression), ("gzip+hmac", 0x09, True,
                                                                                           INFO, "gzip"))

    def test_writes_always_wrap(self) -> None:
        codec = Envelope()
        for state in (b"", b"plain", b"PGSE", b"PGSE\x02rest"):
            data = codec.encode(state, persistence_id="a", revision=1)
            self.assertEqual(data[:6], b"PGSE\x01\x00")
            self.assertEqual(codec.decode(data, persistence_id="a", revision=1), state)

    def test_plain_states_pass_through_unless_refused(self) -> None:
        ring = KeyRing({1: KEY1}, active=1)
        lenient = Envelope(keys=ring, integrity_only=True, info=INFO)
        strict = Envelope(keys=ring, integrity_only=True, info=INFO, allow_unkeyed=False)
        for state in (b"", b"PGS", b"PGSE", b"not an envelope", Envelope("gzip").encode(b"x", persistence_id="a",
                                                                                           revision=1)):
            with self.subTest(state[:8]):
                got = lenient.decode(state, persistence_id="a", revision=1)
                self.assertEqual(got, b"x" if state.startswith(b"PGSE\x01") else state)
                with self.assertRaises(Tampered):
                    strict.decode(state, persistence_id="a", revision=1)
        data = strict.encode(b"y", persistence_id="a", revision=1)
        self.assertEqual(strict.decode(data, persistence_id="a", revision=1), b"y")

    def test_is_current(self) -> None:
        ring = KeyRing({1: KEY1}, active=1)
        old = Envelope(keys=ring, integrity_only=True, info=INFO)
        new = Envelope(keys=ring.rotated(2, KEY2), integrity_only=True, info=INFO)
        data = old.encode(b"s", persistence_id="a", revision=1)
        self.assertTrue(old.is_current(data))
        self.assertFalse(new.is_current(data))
        self.assertTrue(new.is_current(new.encode(b"s", persistence_id="a", revision=1)))
        self.assertFalse(new.is_current(b"plain"))
        self.assertFalse(Envelope("gzip").is_current(Envelope().encode(b"s", persistence_id="a", revision=1)))


class MissingExtrasTest(unittest.TestCase):
    """unavailable_mode: what happens where cryptography or zstandard cannot be imported."""

    def without(self, *modules: str) -> Any:
        return mock.patch.dict(sys.modules, {m: None for m in modules})

    @unittest.skipUnless(HAVE_CRYPTO, NO_CRYPTO)
    def test_aes_gcm_without_cryptography(self) -> None:
        ring = KeyRing({1: KEY1}, active=1)
        sealed = gcm_codec().encode(b"s", persistence_id="a", revision=1)
        with self.without("cryptography", "cryptography.hazmat.primitives.ciphers.aead", "cryptography.exceptions"):
            with self.assertRaises(EnvelopeModeUnavailable) as cm:
                Envelope(keys=ring, info=INFO)
            self.assertIn("pgstate[crypto]", str(cm.exception))
            self.assertEqual(cm.exception.mode, "aes_gcm")
            # HMAC needs no extra, and it reads what it can; an AES-GCM envelope names the extra.
            hm = Envelope(keys=ring, integrity_only=True, info=INFO)
            self.assertEqual(hm.decode(hm.encode(b"s", persistence_id="a", revision=1), persistence_id="a",
                                       revision=1), b"s")
            with self.assertRaises(EnvelopeModeUnavailable) as dm:
                hm.decode(sealed, persistence_id="a", revision=1)
            self.assertEqual(dm.exception.persistence_id, "a")
            # The earlier checks still come first: a rolled-back envelope says so without the extra.
            with self.assertRaises(RolledBack):
                hm.decode(sealed, persistence_id="a", revision=2)

    def test_zstd_without_zstandard(self) -> None:
        frame = bytes.fromhex(next(v for v in DOC["vectors"] if v["name"] == "zstd")["envelope_hex"])
        with self.without("zstandard"):
            with self.assertRaises(EnvelopeModeUnavailable) as cm:
                Envelope("zstd")
            self.assertIn("pgstate[zstd]", str(cm.exception))
            self.assertEqual(cm.exception.mode, "zstd")
            with self.assertRaises(EnvelopeModeUnavailable):
                Envelope("gzip").decode(frame, persistence_id="order-42", revision=7, namespace="billing")
            self.assertEqual(Envelope("gzip").decode(Envelope("gzip").encode(b"g", persistence_id="a", revision=1),
                                                     persistence_id="a", revision=1), b"g")


# --- Tampering, keys, rotation -----------------------------------------------------------------------


class TamperTest(unittest.TestCase):
    def check_every_byte(self, codec: Envelope, strict: Envelope) -> None:
        data = codec.encode(b'{"status":"open"}', persistence_id="order-1", revision=4, namespace="billing")
        for offset in range(len(data)):
            for bit in (0x01, 0x80):
                changed = bytearray(data)
                changed[offset] ^= bit
                with self.subTest(offset=offset, bit=bit):
                    try:
                        got = codec.decode(bytes(changed), persistence_id="order-1", revision=4, namespace="billing")
                    except EnvelopeError as exc:
                        if 10 <= offset < 18:
                            self.assertIsInstance(exc, RolledBack)
                        elif 6 <= offset < 10:
                            self.assertIsInstance(exc, (WrongKey, CorruptEnvelope))
                        elif offset >= 22 or offset in (18, 19, 20, 21):
                            self.assertIsInstance(exc, (Tampered, CorruptEnvelope))
                    else:
                        # Only a broken magic makes a state that is not an envelope, returned as written.
                        self.assertLess(offset, 4)
                        self.assertEqual(got, bytes(changed))
                    with self.assertRaises(EnvelopeError):
                        strict.decode(bytes(changed), persistence_id="order-1", revision=4, namespace="billing")

    @unittest.skipUnless(HAVE_CRYPTO, NO_CRYPTO)
    def test_aes_gcm_every_byte(self) -> None:
        self.check_every_byte(gcm_codec("gzip"), gcm_codec("gzip", allow_unkeyed=False))

    def test_hmac_every_byte(self) -> None:
        ring = KeyRing({1: KEY1}, active=1)
        self.check_every_byte(Envelope(keys=ring, integrity_only=True, info=INFO),
                              Envelope(keys=ring, integrity_only=True, info=INFO, allow_unkeyed=False))

    def test_bound_to_id_namespace_info_and_revision(self) -> None:
        ring = KeyRing({1: KEY1}, active=1)
        codec = Envelope(keys=ring, integrity_only=True, info=INFO)
        data = codec.encode(b"s", persistence_id="a", revision=2, namespace="n")
        cases = [(codec, "b", 2, "n", Tampered), (codec, "a", 2, "m", Tampered), (codec, "a", 2, "", Tampered),
                 (Envelope(keys=ring, integrity_only=True, info="other/app"), "a", 2, "n", Tampered),
                 (Envelope(keys=KeyRing({1: KEY2}, active=1), integrity_only=True, info=INFO), "a", 2, "n", Tampered),
                 (codec, "a", 3, "n", RolledBack), (codec, "a", 1, "n", RolledBack)]
        for reader, pid, revision, ns, error in cases:
            with self.subTest(pid=pid, revision=revision, ns=ns):
                with self.assertRaises(error):
                    reader.decode(data, persistence_id=pid, revision=revision, namespace=ns)
        self.assertEqual(codec.decode(data, persistence_id="a", revision=2, namespace="n"), b"s")

    @unittest.skipUnless(HAVE_CRYPTO, NO_CRYPTO)
    def test_nonces_differ(self) -> None:
        codec = gcm_codec()
        a, b = (codec.encode(b"same", persistence_id="a", revision=1) for _ in range(2))
        self.assertNotEqual(a[22:34], b[22:34])
        self.assertNotEqual(a, b)


class RotationTest(unittest.TestCase):
    def test_retired_key_reads_new_writes_use_the_active(self) -> None:
        ring1 = KeyRing({1: KEY1}, active=1)
        ring2 = ring1.rotated(2, KEY2)
        old = Envelope(keys=ring1, integrity_only=True, info=INFO).encode(b"v1", persistence_id="a", revision=1)
        new_codec = Envelope(keys=ring2, integrity_only=True, info=INFO)
        self.assertEqual(new_codec.decode(old, persistence_id="a", revision=1), b"v1")
        rewritten = new_codec.encode(b"v1", persistence_id="a", revision=2)
        self.assertEqual(int.from_bytes(rewritten[6:10], "big"), 2)
        only_new = Envelope(keys=ring2.without(1), integrity_only=True, info=INFO)
        self.assertEqual(only_new.decode(rewritten, persistence_id="a", revision=2), b"v1")
        with self.assertRaises(WrongKey):
            only_new.decode(old, persistence_id="a", revision=1)


# --- Compression bombs ---------------------------------------------------------------------------------


def gzip_bomb(gib: int = 1) -> bytes:
    """A gzip member of ``gib`` GiB of zeros in about a MiB: one flushed MiB repeated (its trailer is wrong,
    which no bounded reader ever reaches)."""
    chunk = bytes(1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    unit = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    return first + unit * (1024 * gib - 1) + c.flush()


def zstd_stream_bomb(mib: int = 256) -> bytes:
    """A zstd frame of ``mib`` MiB of zeros that does not declare its size (as a stream)."""
    import zstandard
    o = zstandard.ZstdCompressor(level=1).compressobj()
    chunk = bytes(1 << 20)
    return b"".join([o.compress(chunk) for _ in range(mib)] + [o.flush()])


class BombTest(unittest.TestCase):
    MIB = 1 << 20

    def decode_peak(self, data: bytes, bound: int) -> int:
        """Decode (expecting CorruptEnvelope) and return the peak of traced memory, in bytes."""
        codec = Envelope(max_decompressed=bound)
        tracemalloc.start()
        try:
            with self.assertRaises(CorruptEnvelope):
                codec.decode(data, persistence_id="bomb", revision=1)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    def test_gzip_expanding_past_its_length(self) -> None:
        body = gzip_bomb(1)
        self.assertLess(len(body), 2 * self.MIB)
        for length in (16, self.MIB):
            with self.subTest(length=length):
                data = env.encode_envelope(b"", flags=0, namespace="", persistence_id="bomb", revision=1)
                data = env.MAGIC + bytes((1, comp.GZIP)) + data[6:18] + length.to_bytes(4, "big") + body
                started = time.monotonic()
                peak = self.decode_peak(data, 2 * self.MIB)
                self.assertLess(peak, length + 8 * self.MIB, "decompressing 1 GiB stayed bounded by the length")
                self.assertLess(time.monotonic() - started, 5.0)

    def test_length_over_the_bound_is_refused_before_decompressing(self) -> None:
        body = gzip_bomb(1)
        data = env.MAGIC + bytes((1, comp.GZIP)) + bytes(4) + (1).to_bytes(8, "big") + (2**32 - 1).to_bytes(4, "big")
        with mock.patch.object(comp, "decompress", side_effect=AssertionError("decompressed")):
            with self.assertRaises(EnvelopeTooLarge) as cm:
                Envelope().decode(data + body, persistence_id="bomb", revision=1)
        self.assertEqual(cm.exception.bound, 64 * self.MIB)

    @unittest.skipUnless(HAVE_ZSTD, NO_ZSTD)
    def test_zstd_expanding_past_its_length(self) -> None:
        import zstandard
        declared = zstandard.ZstdCompressor(level=1).compress(bytes(256 * self.MIB))  # content size in the frame
        streamed = zstd_stream_bomb(256)
        for name, body in (("declared", declared), ("streamed", streamed)):
            with self.subTest(name):
                head = env.MAGIC + bytes((1, comp.ZSTD)) + bytes(4) + (1).to_bytes(8, "big")
                peak = self.decode_peak(head + self.MIB.to_bytes(4, "big") + body, 2 * self.MIB)
                self.assertLess(peak, 8 * self.MIB)

    @unittest.skipUnless(HAVE_ZSTD, NO_ZSTD)
    def test_zstd_frames_are_read_exactly(self) -> None:
        import zstandard
        frame = zstandard.ZstdCompressor(level=3).compress(b"abc" * 100)
        self.assertEqual(comp.decompress(comp.ZSTD, frame, 300), b"abc" * 100)
        for bad in (frame[:-1], frame + b"\x00", frame + frame, b"\x28\xb5\x2f\xfd", b"junk"):
            with self.assertRaises(comp.BodyError):
                comp.decompress(comp.ZSTD, bad, 300)
        checksummed = zstandard.ZstdCompressor(level=3, write_checksum=True).compress(b"x" * 1000)
        self.assertEqual(comp.decompress(comp.ZSTD, checksummed, 1000), b"x" * 1000)


# --- The clients against the fake server -------------------------------------------------------------


def hmac_codec(ring: Optional[KeyRing] = None, compression: Optional[str] = "gzip") -> Envelope:
    return Envelope(compression, keys=ring or KeyRing({1: KEY1}, active=1), integrity_only=True, info=INFO)


def whoamis(server: FakeServer) -> int:
    return sum(isinstance(r, sc.WhoAmI) for r in server.data_requests)


class ServerCase(unittest.TestCase):
    def start(self, **kwargs: Any) -> FakeServer:
        server = FakeServer(**kwargs)
        server.start()
        self.addCleanup(server.stop)
        return server

    def client(self, server: FakeServer, codec: Optional[Envelope] = None) -> pgstate.Client:
        c = pgstate.Client(server.path, timeout=TIMEOUT, codec=codec)
        self.addCleanup(c.close)
        return c

    def run_async(self, coro: Any) -> Any:
        return asyncio.run(asyncio.wait_for(coro, 60))

    def stored(self, server: FakeServer, pid: str, namespace: Optional[str] = None) -> bytes:
        records = server.namespaces[server.identity.namespace if namespace is None else namespace]
        return records[pid][1]

    def conflict_on(self, pid: str, codec: Envelope) -> Any:
        """A responder that, at the first upsert of ``pid``, writes the record first (as another writer with
        ``codec`` would), so that upsert conflicts."""
        fired: List[bool] = []

        def responder(server: FakeServer, request: sc.Request) -> None:
            if isinstance(request, sc.Upsert) and request.persistence_id == pid and not fired:
                fired.append(True)
                rev, _, ts = server.store[pid]
                state = codec.encode(b"written meanwhile", persistence_id=pid, revision=rev + 1,
                                     namespace=server.identity.namespace)
                server.store[pid] = (rev + 1, state, ts)
            return None
        return responder


class SyncClientCodecTest(ServerCase):
    def test_upsert_and_load_through_the_codec(self) -> None:
        server = self.start(identity=BILLING)
        codec = hmac_codec()
        c = self.client(server, codec)
        self.assertIs(c.codec, codec)
        rec = c.upsert("order-1", 0, b'{"status":"open"}' * 20)
        self.assertEqual((rec.revision, rec.state), (1, b'{"status":"open"}' * 20))
        raw = self.stored(server, "order-1")
        self.assertEqual(raw[:6], b"PGSE\x01\x09")
        self.assertEqual(int.from_bytes(raw[10:18], "big"), 1)
        rec = c.upsert("order-1", 1, b"paid")
        self.assertEqual(c.load("order-1").state, b"paid")  # type: ignore[union-attr]
        # Per call: None gives the bytes as stored, another codec overrides the client's.
        self.assertEqual(c.load("order-1", codec=None).state, self.stored(server, "order-1"))  # type: ignore[union-attr]
        c.upsert("plain", 0, b"as is", codec=None)
        self.assertEqual(self.stored(server, "plain"), b"as is")
        self.assertEqual(c.load("plain").state, b"as is")  # type: ignore[union-attr]  # plain records pass through
        c.upsert("other", 0, b"zz", codec=Envelope())
        self.assertEqual(self.stored(server, "other")[:6], b"PGSE\x01\x00")
        self.assertIsNone(c.load("missing"))
        with self.assertRaises(InvalidArgument):
            c.load("order-1", codec="gzip")  # type: ignore[arg-type]

    def test_whoami_once_per_connection(self) -> None:
        server = self.start(identity=BILLING)
        c = self.client(server, hmac_codec())
        c.upsert("a", 0, b"1")
        c.load("a")
        c.upsert("a", 1, b"2")
        self.assertEqual(whoamis(server), 1)
        self.assertEqual(c.effective_namespace(), "billing")
        c.close()
        self.assertEqual(c.load("a").state, b"2")  # type: ignore[union-attr]
        self.assertEqual(whoamis(server), 2)
        # Naming the namespace asks nothing, and binds the same namespace as being in it.
        n = self.client(server, hmac_codec())
        self.assertEqual(n.load("a", namespace="billing").state, b"2")  # type: ignore[union-attr]
        self.assertEqual(whoamis(server), 2)
        # Without a codec nothing is asked.
        self.client(server).load("a")
        self.assertEqual(whoamis(server), 2)

    def test_server_without_identity_binds_the_shared_namespace(self) -> None:
        server = self.start(capabilities=p.CAP_CONDITIONAL_DELETE)
        c = self.client(server, hmac_codec())
        c.upsert("a", 0, b"1")
        self.assertEqual(whoamis(server), 0)
        self.assertEqual(c.effective_namespace(), "")
        raw = self.stored(server, "a")
        self.assertEqual(hmac_codec().decode(raw, persistence_id="a", revision=1, namespace=""), b"1")
        with self.assertRaises(Tampered):
            hmac_codec().decode(raw, persistence_id="a", revision=1, namespace="billing")

    def test_rolled_back_and_copied_records(self) -> None:
        server = self.start(identity=dataclasses.replace(BILLING, permissions=BILLING.permissions
                                                         | Permissions.ANY_NAMESPACE))
        c = self.client(server, hmac_codec())
        c.upsert("a", 0, b"v1")
        first = self.stored(server, "a")
        c.upsert("a", 1, b"v2")
        rev, _, ts = server.store["a"]
        server.store["a"] = (rev + 1, first, ts)  # an old envelope written back as revision 3
        with self.assertRaises(RolledBack) as cm:
            c.load("a")
        self.assertEqual((cm.exception.envelope_revision, cm.exception.record_revision), (1, 3))
        server.store["b"] = (1, first, ts)  # copied to another id, at a matching revision
        with self.assertRaises(Tampered):
            c.load("b")
        server.namespaces.setdefault("shipping", {})["a"] = (1, first, ts)  # copied to another namespace
        with self.assertRaises(Tampered):
            c.load("a", namespace="shipping")

    def test_codec_errors_leave_the_connection_usable(self) -> None:
        server = self.start(identity=BILLING)
        c = self.client(server, hmac_codec())
        c.upsert("a", 0, b"PGSE\x02 a newer writer", codec=None)
        with self.assertRaises(UnknownEnvelopeVersion):
            c.load("a")
        self.assertTrue(c.connected)
        c.ping()
        with self.assertRaises(EnvelopeTooLarge):
            c.upsert("big", 0, b"x" * 100, codec=Envelope(max_decompressed=10))
        self.assertNotIn("big", server.store)  # refused before sending

    def test_rewrap(self) -> None:
        server = self.start(identity=BILLING)
        ring1 = KeyRing({1: KEY1}, active=1)
        old, new = hmac_codec(ring1), hmac_codec(ring1.rotated(2, KEY2))
        c = self.client(server, old)
        for pid in ("a", "b", "c"):
            c.upsert(pid, 0, pid.encode() * 3)
        c.upsert("plain", 0, b"plain state", codec=None)
        server.responder = self.conflict_on("c", new)
        result = pgstate.rewrap(c, ["a", "b", "c", "plain", "gone"], new)
        self.assertEqual(result, RewrapResult(rewritten=3, conflicts=1, missing=1, current=0))
        only_new = hmac_codec(KeyRing({2: KEY2}, active=2))
        for pid, want in (("a", b"aaa"), ("b", b"bbb"), ("plain", b"plain state"), ("c", b"written meanwhile")):
            raw = self.stored(server, pid)
            self.assertEqual(int.from_bytes(raw[6:10], "big"), 2, pid)
            rev = server.store[pid][0]
            self.assertEqual(only_new.decode(raw, persistence_id=pid, revision=rev, namespace="billing"), want)
        self.assertEqual(server.store["a"][0], 2)  # rewritten through an upsert: one revision more
        again = pgstate.rewrap(c, ["a", "b", "c", "plain"], new)
        self.assertEqual(again, RewrapResult(current=4))
        forced = pgstate.rewrap(self.client(server, new), ["a"], force=True)  # the client's codec
        self.assertEqual(forced, RewrapResult(rewritten=1))
        with self.assertRaises(InvalidArgument):
            pgstate.rewrap(self.client(server), ["a"])  # no codec anywhere
        server.store["a"] = (9, server.store["a"][1], 0)  # a rolled-back record stops the rewrap
        with self.assertRaises(RolledBack):
            pgstate.rewrap(c, ["a"], new, force=True)


class AsyncClientCodecTest(ServerCase):
    def test_upsert_load_whoami_and_override(self) -> None:
        server = self.start(identity=BILLING)

        async def run() -> None:
            async with aio.AsyncClient(server.path, timeout=TIMEOUT, codec=hmac_codec()) as c:
                recs = await asyncio.gather(*(c.upsert("k%d" % i, 0, b"v%d" % i) for i in range(20)))
                self.assertEqual([r.state for r in recs], [b"v%d" % i for i in range(20)])
                self.assertEqual(whoamis(server), 1)  # concurrent first calls asked once
                loaded = await asyncio.gather(*(c.load("k%d" % i) for i in range(20)))
                self.assertEqual([r.state for r in loaded], [b"v%d" % i for i in range(20)])  # type: ignore[union-attr]
                raw = await c.load("k0", codec=None)
                self.assertEqual(raw.state[:6], b"PGSE\x01\x09")  # type: ignore[union-attr]
                self.assertEqual(await c.effective_namespace(), "billing")
                rev, _, ts = server.store["k0"]
                server.store["k0"] = (rev + 1, raw.state, ts)  # type: ignore[union-attr]
                with self.assertRaises(RolledBack):
                    await c.load("k0")
            self.assertEqual(whoamis(server), 1)

        self.run_async(run())

    def test_rewrap(self) -> None:
        server = self.start(identity=BILLING)
        ring1 = KeyRing({1: KEY1}, active=1)
        old, new = hmac_codec(ring1), hmac_codec(ring1.rotated(2, KEY2))

        async def run() -> RewrapResult:
            async with aio.AsyncClient(server.path, timeout=TIMEOUT, codec=old) as c:
                for pid in ("a", "c"):
                    await c.upsert(pid, 0, b"x")
                server.responder = self.conflict_on("c", new)
                return await aio.rewrap(c, ["a", "c", "gone"], new)

        self.assertEqual(self.run_async(run()), RewrapResult(rewritten=1, conflicts=1, missing=1))
        self.assertEqual(int.from_bytes(self.stored(server, "a")[6:10], "big"), 2)


# --- A live pgstated ------------------------------------------------------------------------------------


LIVE_SOCKET = os.environ.get("PGSTATE_SOCKET")


@unittest.skipUnless(LIVE_SOCKET, "PGSTATE_SOCKET is not set: the live envelope test needs a running pgstated")
class LiveEnvelopeTest(unittest.TestCase):
    def modes(self) -> List[Envelope]:
        ring = KeyRing({7: os.urandom(32)}, active=7)
        out = [Envelope(), Envelope("gzip"), hmac_codec(ring, None), hmac_codec(ring, "gzip")]
        if HAVE_ZSTD:
            out += [Envelope("zstd"), hmac_codec(ring, "zstd")]
        if HAVE_CRYPTO:
            out += [gcm_codec(None, ring), gcm_codec("gzip", ring)]
            if HAVE_ZSTD:
                out.append(gcm_codec("zstd", ring))
        return out

    def test_every_mode_writes_and_reads_back(self) -> None:
        state = b'{"status":"open","lines":[' + b",".join(b"%d" % i for i in range(500)) + b"]}"
        with pgstate.Client(LIVE_SOCKET, timeout=TIMEOUT) as c:
            for codec in self.modes():
                pid = "envelope-%s-%s" % (codec.mode, uuid.uuid4().hex[:12])
                with self.subTest(codec.mode):
                    try:
                        rec = c.upsert(pid, 0, state, codec=codec)
                        rec = c.upsert(pid, rec.revision, state + b" ", codec=codec)
                        self.assertEqual(c.load(pid, codec=codec).state, state + b" ")  # type: ignore[union-attr]
                        raw = c.load(pid, codec=None)
                        self.assertEqual(raw.state[:6], b"PGSE\x01" + bytes((codec.flags,)))  # type: ignore[union-attr]
                        self.assertEqual(int.from_bytes(raw.state[10:18], "big"), 2)  # type: ignore[union-attr]
                    finally:
                        c.delete(pid)

    def test_async_reads_what_sync_wrote(self) -> None:
        codec = hmac_codec(None, "gzip")
        pid = "envelope-async-%s" % uuid.uuid4().hex[:12]
        with pgstate.Client(LIVE_SOCKET, timeout=TIMEOUT, codec=codec) as c:
            c.upsert(pid, 0, b"from sync")

        async def read() -> Optional[pgstate.Record]:
            async with aio.AsyncClient(LIVE_SOCKET, timeout=TIMEOUT, codec=codec) as a:
                try:
                    return await a.load(pid)
                finally:
                    await a.delete(pid)

        self.assertEqual(asyncio.run(read()).state, b"from sync")  # type: ignore[union-attr]


if __name__ == "__main__":
    unittest.main()
